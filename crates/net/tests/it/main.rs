//! The integration tests of `ferromq-net`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-net --test it tls::`.

mod tls;
mod transport;
