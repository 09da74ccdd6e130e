//! The rpath to libduckdb (runtime/build.rs: this crate is one directory deep too), and the
//! Open Inference Protocol's gRPC service from `proto/`, parsed by protox (no protoc needed).

#[path = "../runtime/build.rs"]
mod rpath;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rpath::main();
    println!("cargo:rerun-if-changed=../runtime/build.rs");
    let proto = "proto/open_inference_grpc.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure().build_client(false).compile_fds(descriptors)?;
    Ok(())
}
