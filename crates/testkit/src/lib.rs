//! What integration tests need to run real servers: never a normal dependency of any crate.
//!
//! Layout:
//!
//! - [`cluster`]: [`TestCluster`], name servers and brokers in-process on 127.0.0.1:0 with all their
//!   data in one temporary folder, started only once every broker is registered.
//! - [`servers`]: starting one name server or broker on an ephemeral port, the small-file broker
//!   configuration the tests share, and the wait for a broker's registration.
//! - [`eventually`]: polling a condition with a short pause until it holds or a deadline passes.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod eventually;
pub mod servers;

pub use cluster::{TestCluster, TestClusterBuilder};
pub use eventually::{eventually, eventually_holds, eventually_ok, DEFAULT_DEADLINE};
pub use servers::{broker_config, start_broker, start_name_server, wait_registered};
