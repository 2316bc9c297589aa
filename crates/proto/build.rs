//! Generates the Rust types from our `.proto` files. `protox` compiles them in pure Rust, so a fresh
//! machine needs no `protoc`; `prost-build` turns the descriptors into `$OUT_DIR/apache.rocketmq.v2.rs`.

use std::error::Error;

const PROTOS: [&str; 2] = [
    "apache/rocketmq/v2/definition.proto",
    "apache/rocketmq/v2/service.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }
    // The google.protobuf well-known types (Duration, Timestamp) are built into protox.
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    prost_build::Config::new()
        // Bodies are handed on without copying.
        .bytes([".apache.rocketmq.v2.Message.body"])
        // Ordered maps encode their entries in one order, so the same message gives the same bytes.
        .btree_map(["."])
        // A stream sends one status, then many messages: keep the small element small.
        .boxed(".apache.rocketmq.v2.ReceiveMessageResponse.content.message")
        .boxed(".apache.rocketmq.v2.PullMessageResponse.content.message")
        .compile_fds(descriptors)?;
    Ok(())
}
