//! Arbitrary text as a broker configuration file, in both formats the broker reads (`broker.conf`
//! Java properties and TOML): a clear error or a config, never a panic.
#![no_main]

use ferromq_broker::{java_conf, BrokerConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let _ = java_conf::parse(text, "broker.conf");
    let _ = BrokerConfig::from_toml(text, "broker.toml");
});
