//! The `mlpc` binary and its tests find libduckdb where scripts/setup put it.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
}
