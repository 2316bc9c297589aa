//! Generates the tonic `MessagingService` *client* of `--protocol grpc` from the `.proto` files
//! `ferromq-proto` owns. Only the client: the messages are `ferromq_proto::v2`'s (extern path), and
//! the server lives in the broker's adapter crate, which a load generator must not depend on (it
//! measures any v5 endpoint, and the layering check keeps it a pure client). `protox` compiles the
//! files in pure Rust, so no `protoc` is needed.

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
        .build_server(false)
        .build_client(true)
        .extern_path(".apache.rocketmq.v2", "::ferromq_proto::v2")
        .compile_fds(descriptors)?;
    Ok(())
}
