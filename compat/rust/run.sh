#!/usr/bin/env bash
# Runs the crates.io RocketMQ 5 Rust client (`rocketmq` 5.0.0, gRPC) against a fresh `ferromq dev`.
#
#   compat/rust/run.sh                             # build ferromq if needed, start it, run, stop it
#   FERROMQ_BIN=path/to/ferromq compat/rust/run.sh # use that binary instead of building one
#
# Not in CI: the client's dependency tree (its own tonic, ring and OpenTelemetry versions) adds
# minutes of compilation for three scenarios the Java, Python and Node.js suites already cover.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

(cd "$here" && cargo build -q)

compat_work rust
compat_start_dev rust
for spec in rust-normal:NORMAL rust-fifo:FIFO rust-delay:DELAY; do
    IFS=: read -r topic type <<<"$spec"
    "$ferromq" admin updateTopic -n "$namesrv" -b "$broker" -t "$topic" -r 4 -w 4 \
        -a "+message.type=$type" >/dev/null
done

compat_run env HOME="$work" FERROMQ_GRPC="$grpc" "$here/target/debug/ferromq-compat-rust"
