//! Build script shared by the crates whose binaries or tests load DuckDB's shared library (the CLI; the stand-ins'
//! and the pipeline's tests): records the library's folder as the run path of those binaries and tests, so they
//! find it without LD_LIBRARY_PATH. Libraries are not affected. Nothing to do when DuckDB is compiled in (the
//! `bundled-duckdb` feature) or no folder is configured.

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED_DUCKDB").is_some() {
        return;
    }
    if let Some(dir) = std::env::var_os("DUCKDB_LIB_DIR") {
        let dir = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.into());
        println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{}", dir.display());
        // Cargo refuses `-bins` for a package without binaries.
        let manifest_dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
        if manifest_dir.join("src/main.rs").exists() {
            println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{}", dir.display());
        }
    }
}
