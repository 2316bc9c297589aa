//! Generates the tonic `MessagingService` server (and the client the tests drive) from the
//! `service.proto` that `ferromq-proto` owns. The messages are not generated again: every
//! `apache.rocketmq.v2` type is mapped onto `ferromq_proto::v2`, so the adapter and the protocol
//! crate share one set of types. `protox` compiles the files in pure Rust (no `protoc`).

use std::error::Error;
use std::path::PathBuf;

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
    write_served_rpcs(&descriptors)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .extern_path(".apache.rocketmq.v2", "::ferromq_proto::v2")
        .compile_fds(descriptors)?;
    Ok(())
}

/// Writes the method names of `MessagingService` as a Rust slice literal (`served_rpcs.rs`): the
/// list of RPCs the generated server serves, which the authorization table must cover.
fn write_served_rpcs(descriptors: &prost_types::FileDescriptorSet) -> Result<(), Box<dyn Error>> {
    let names: Vec<String> = descriptors
        .file
        .iter()
        .flat_map(|f| &f.service)
        .filter(|s| s.name() == "MessagingService")
        .flat_map(|s| &s.method)
        .map(|m| format!("{:?}", m.name()))
        .collect();
    if names.is_empty() {
        return Err("service.proto defines no MessagingService method".into());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("served_rpcs.rs");
    std::fs::write(out, format!("&[{}]\n", names.join(", ")))?;
    Ok(())
}
