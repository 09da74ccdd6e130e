//! Binaries and tests of this crate (and of mlpc-serve, which builds with it) find libduckdb where scripts/setup put it.
pub fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
}
