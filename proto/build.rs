//! Compiles the gRPC contract with a pure-Rust protobuf compiler, so building needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["byok8s/v1/runs.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }

    let descriptors = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
