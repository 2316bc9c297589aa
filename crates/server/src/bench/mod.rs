//! `ferromq bench ...`: measurements a person runs by hand on a machine they care about.
//!
//! - [`store`]: append cases against the storage engine, in process, no network.
//! - [`disk_limits`]: what the disk does on its own, the yardstick for the store.
//! - [`report`]: the text table or JSON, and the target ratios.

mod disk_limits;
mod report;
mod store;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serializer;

use crate::cli::BenchCommand;

/// Runs one benchmark command, printing its report on stdout.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Store(args) => store::run(&args),
    }
}

/// `len` pseudo-random bytes (splitmix64, seeded from the clock), so neither a compressing file system
/// nor a deduplicating disk can shortcut the writes.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Floats in the JSON report carry at most three decimals; more would be noise.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes a reference
fn rounded<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((value * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_bytes_have_the_asked_length_and_vary() {
        for len in [0, 1, 7, 8, 4097] {
            assert_eq!(super::random_bytes(len).len(), len);
        }
        let bytes = super::random_bytes(4096);
        let zeros = bytes.iter().filter(|b| **b == 0).count();
        assert!(zeros < 100, "{zeros} zero bytes in 4096 random ones");
    }
}
