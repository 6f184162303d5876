//! Build script shared by the crates whose binaries and tests load DuckDB's shared library: records the library's
//! folder as the run path, so they find it without LD_LIBRARY_PATH. Nothing to do when DuckDB is compiled in
//! (the `bundled-duckdb` feature) or no folder is configured.

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED_DUCKDB").is_some() {
        return;
    }
    if let Some(dir) = std::env::var_os("DUCKDB_LIB_DIR") {
        let dir = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.into());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
}
