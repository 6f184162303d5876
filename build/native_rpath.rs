//! Build script shared by the crates whose binaries or tests load the prebuilt shared libraries that
//! `scripts/setup.sh` fetches — DuckDB (the local Data API stand-in) and CTranslate2 (Whisper): records each
//! library's folder as the run path of those binaries and tests, so they find it without LD_LIBRARY_PATH.
//! An rlib ignores it. Nothing to do for DuckDB when it is compiled in (the `bundled-duckdb` feature), nor
//! for a folder that is not configured.

fn main() {
    let mut dirs = Vec::new();
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED_DUCKDB").is_none() {
        dirs.extend(std::env::var_os("DUCKDB_LIB_DIR"));
    }
    println!("cargo:rerun-if-env-changed=REDSCRIBE_CT2_LIB_DIR");
    dirs.extend(std::env::var_os("REDSCRIBE_CT2_LIB_DIR"));

    // Every target the package links: binaries, integration tests and the library's own unit tests.
    for dir in dirs {
        let dir = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.into());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
}
