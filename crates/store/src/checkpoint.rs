//! The checkpoint (how far the store is known durable and consistent) and the `abort` marker (does
//! the store run, or did it stop cleanly).
//!
//! `<root>/checkpoint` is 44 bytes, big-endian, replaced atomically:
//!
//! ```text
//!  0  4  magic "FMCP"
//!  4  2  format version (1)
//!  6  2  flags: bit 0 = clean shutdown
//!  8  8  commit_log_flushed
//! 16  8  dispatched
//! 24  8  index_end
//! 32  8  written_at_ms (i64)
//! 40  4  CRC-32 (IEEE) of bytes 0..40
//! ```
//!
//! A checkpoint that does not verify is logged and treated as absent, which costs a full recovery
//! and nothing else; it never stops the store from opening.
#![forbid(unsafe_code)]

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::io::FileLayer;

const FILE: &str = "checkpoint";
const ABORT: &str = "abort";
const MAGIC: &[u8; 4] = b"FMCP";
const VERSION: u16 = 1;
const LEN: usize = 44;
const CLEAN: u16 = 1;

/// What the store knew to be durable when it last wrote the checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every commit-log byte below this offset is durable.
    pub commit_log_flushed: u64,
    /// Consume queues and index are flushed and complete for every record below this offset.
    pub dispatched: u64,
    /// The index's end offset when the checkpoint was taken (informative).
    pub index_end: u64,
    /// Written by an orderly shutdown, after everything else.
    pub clean_shutdown: bool,
    pub written_at_ms: i64,
}

impl Checkpoint {
    /// Reads `<root>/checkpoint`; `None` when absent or unreadable as a checkpoint (logged).
    ///
    /// # Errors
    /// I/O errors reading the file (not its content).
    pub fn load(layer: &dyn FileLayer, root: &Path) -> Result<Option<Checkpoint>> {
        let path = root.join(FILE);
        let Some(data) = layer
            .read_all(&path)
            .map_err(|e| StoreError::io(&path, e))?
        else {
            return Ok(None);
        };
        match decode(&data) {
            Ok(cp) => Ok(Some(cp)),
            Err(why) => {
                tracing::warn!(path = %path.display(), why, "checkpoint ignored; full recovery");
                Ok(None)
            }
        }
    }

    /// Replaces `<root>/checkpoint` atomically and durably.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn store(&self, layer: &dyn FileLayer, root: &Path) -> Result<()> {
        let path = root.join(FILE);
        layer
            .write_atomic(&path, &self.encode())
            .map_err(|e| StoreError::io(&path, e))
    }

    fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0..4].copy_from_slice(MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_be_bytes());
        let flags = if self.clean_shutdown { CLEAN } else { 0 };
        b[6..8].copy_from_slice(&flags.to_be_bytes());
        b[8..16].copy_from_slice(&self.commit_log_flushed.to_be_bytes());
        b[16..24].copy_from_slice(&self.dispatched.to_be_bytes());
        b[24..32].copy_from_slice(&self.index_end.to_be_bytes());
        b[32..40].copy_from_slice(&self.written_at_ms.to_be_bytes());
        let crc = crc32fast::hash(&b[..40]);
        b[40..44].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

fn decode(b: &[u8]) -> std::result::Result<Checkpoint, String> {
    let b: &[u8; LEN] = b
        .try_into()
        .map_err(|_| format!("{} bytes, expected {LEN}", b.len()))?;
    if &b[0..4] != MAGIC {
        return Err("bad magic".into());
    }
    let crc = u32::from_be_bytes([b[40], b[41], b[42], b[43]]);
    if crc != crc32fast::hash(&b[..40]) {
        return Err("checksum mismatch".into());
    }
    let version = u16::from_be_bytes([b[4], b[5]]);
    if version != VERSION {
        return Err(format!("unknown format version {version}"));
    }
    let u64_at = |at: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[at..at + 8]);
        x
    };
    let flags = u16::from_be_bytes([b[6], b[7]]);
    Ok(Checkpoint {
        commit_log_flushed: u64::from_be_bytes(u64_at(8)),
        dispatched: u64::from_be_bytes(u64_at(16)),
        index_end: u64::from_be_bytes(u64_at(24)),
        clean_shutdown: flags & CLEAN != 0,
        written_at_ms: i64::from_be_bytes(u64_at(32)),
    })
}

fn abort_path(root: &Path) -> PathBuf {
    root.join(ABORT)
}

/// Creates `<root>/abort` (durably): from now on, a restart that finds it knows the store did not
/// stop cleanly.
///
/// # Errors
/// I/O errors from the layer.
pub fn mark_running(layer: &dyn FileLayer, root: &Path) -> Result<()> {
    let path = abort_path(root);
    layer
        .write_atomic(&path, b"")
        .map_err(|e| StoreError::io(&path, e))
}

/// Removes `<root>/abort` (durably), as the last step of an orderly shutdown.
///
/// # Errors
/// I/O errors from the layer.
pub fn mark_clean(layer: &dyn FileLayer, root: &Path) -> Result<()> {
    let path = abort_path(root);
    match layer.remove(&path) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(StoreError::io(&path, e)),
        _ => {}
    }
    layer.sync_dir(root).map_err(|e| StoreError::io(root, e))
}

/// Whether the last run stopped cleanly (no `abort` marker; also true for a new store). When the
/// marker cannot be checked, the answer is "not clean", which only costs a fuller recovery.
#[must_use]
pub fn was_clean(layer: &dyn FileLayer, root: &Path) -> bool {
    let path = abort_path(root);
    match layer.read_all(&path) {
        Ok(found) => found.is_none(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot check the abort marker; assuming a crash");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IoMode;
    use crate::segment::DiskLayer;
    use crate::sim::SimLayer;

    fn sample() -> Checkpoint {
        Checkpoint {
            commit_log_flushed: 1 << 40,
            dispatched: 123_456_789,
            index_end: 99,
            clean_shutdown: true,
            written_at_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn round_trip_on_disk_and_absent_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layer = DiskLayer::new(IoMode::Pwrite);
        assert_eq!(Checkpoint::load(&layer, dir.path()).expect("load"), None);
        sample().store(&layer, dir.path()).expect("store");
        assert_eq!(
            Checkpoint::load(&layer, dir.path()).expect("load"),
            Some(sample())
        );
        let dirty = Checkpoint {
            clean_shutdown: false,
            ..sample()
        };
        dirty.store(&layer, dir.path()).expect("replace");
        assert_eq!(
            Checkpoint::load(&layer, dir.path()).expect("load"),
            Some(dirty)
        );
    }

    #[test]
    fn golden_bytes() {
        let b = sample().encode();
        assert_eq!(&b[0..8], b"FMCP\x00\x01\x00\x01");
        assert_eq!(&b[8..16], &(1u64 << 40).to_be_bytes());
        assert_eq!(decode(&b), Ok(sample()));
    }

    #[test]
    fn corruption_is_treated_as_absent() {
        let layer = SimLayer::new();
        let root = Path::new("/store");
        layer.create_dir_all(root).expect("mkdir");
        let good = sample().encode();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for i in 0..LEN {
            let mut flipped = good.to_vec();
            flipped[i] ^= 0x10;
            cases.push(flipped);
        }
        cases.push(good[..20].to_vec());
        cases.push(Vec::new());
        cases.push(b"{\"dispatched\": 5}".to_vec());
        for bad in cases {
            layer.write_atomic(&root.join(FILE), &bad).expect("write");
            assert_eq!(
                Checkpoint::load(&layer, root).expect("no error"),
                None,
                "{bad:?}"
            );
        }
        // A future version with a valid checksum is refused too.
        let mut v2 = good;
        v2[4..6].copy_from_slice(&2u16.to_be_bytes());
        let crc = crc32fast::hash(&v2[..40]);
        v2[40..44].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&v2), Err("unknown format version 2".to_owned()));
    }

    #[test]
    fn abort_marker() {
        let layer = SimLayer::new();
        let root = Path::new("/store");
        layer.create_dir_all(root).expect("mkdir");
        assert!(was_clean(&layer, root), "a new store counts as clean");
        mark_running(&layer, root).expect("running");
        assert!(!was_clean(&layer, root));
        // A power cut leaves the marker: the next start sees a crash.
        layer.crash(7);
        assert!(!was_clean(&layer, root));
        mark_clean(&layer, root).expect("clean");
        assert!(was_clean(&layer, root));
        layer.crash(8);
        assert!(was_clean(&layer, root), "the removal was made durable");
        mark_clean(&layer, root).expect("twice is fine");
    }
}
