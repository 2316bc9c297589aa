//! Generates the tonic `MessagingService` server (and the client the tests drive) from the
//! `service.proto` that `ferromq-proto` owns. The messages are not generated again: every
//! `apache.rocketmq.v2` type is mapped onto `ferromq_proto::v2`, so the adapter and the protocol
//! crate share one set of types. `protox` compiles the files in pure Rust (no `protoc`).

use std::error::Error;

const PROTO_ROOT: &str = "../proto/proto";
const PROTOS: [&str; 2] = [
    "apache/rocketmq/v2/definition.proto",
    "apache/rocketmq/v2/service.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={PROTO_ROOT}/{proto}");
    }
    let descriptors = protox::compile(PROTOS, [PROTO_ROOT])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .extern_path(".apache.rocketmq.v2", "::ferromq_proto::v2")
        .compile_fds(descriptors)?;
    Ok(())
}
