//! The disk's own limits, measured in the folder the store will use, as the yardstick for the store.
//!
//! - `disk_seq_write_mb_s`: buffered sequential writes of 1 MiB blocks into a new file for about the probe
//!   time (at most 1 GiB), then one fdatasync; the time includes the fdatasync, so the figure is what the
//!   disk absorbs, not what the page cache absorbs.
//! - `fsync_4k_per_s`: 4 KiB write + fdatasync, in a loop. The file is written and synced in full
//!   first, so each fdatasync covers data only, as in a preallocated commit-log segment.
//!
//! MB is 10^6 bytes throughout the bench reports.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

const SEQ_BLOCK: usize = 1 << 20;
const SEQ_MAX_BYTES: u64 = 1 << 30;
const SYNC_BLOCK: usize = 4096;
/// The fdatasync probe cycles through this many bytes of a file written in full beforehand.
const SYNC_FILE_BYTES: u64 = 16 << 20;

/// What the disk under the bench folder does without the store in the way.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DiskLimits {
    #[serde(serialize_with = "super::rounded")]
    pub disk_seq_write_mb_s: f64,
    #[serde(serialize_with = "super::rounded")]
    pub fsync_4k_per_s: f64,
}

/// Measures both limits in `dir`, spending about `probe` on each; the probe files are removed after.
pub fn measure(dir: &Path, probe: Duration) -> Result<DiskLimits> {
    let seq_path = dir.join("probe-sequential-write");
    let disk_seq_write_mb_s = sequential_write_mb_s(&seq_path, probe)
        .with_context(|| format!("sequential write probe in {}", seq_path.display()))?;
    remove(&seq_path)?;
    let sync_path = dir.join("probe-fdatasync-4k");
    let fsync_4k_per_s = fdatasync_4k_per_s(&sync_path, probe)
        .with_context(|| format!("fdatasync probe in {}", sync_path.display()))?;
    remove(&sync_path)?;
    Ok(DiskLimits {
        disk_seq_write_mb_s,
        fsync_4k_per_s,
    })
}

fn sequential_write_mb_s(path: &Path, probe: Duration) -> Result<f64> {
    let block = super::random_bytes(SEQ_BLOCK);
    let mut file = create_new(path)?;
    let start = Instant::now();
    let mut written: u64 = 0;
    while start.elapsed() < probe && written < SEQ_MAX_BYTES {
        file.write_all(&block)?;
        written += SEQ_BLOCK as u64;
    }
    file.sync_data()?;
    let secs = start.elapsed().as_secs_f64();
    Ok(written as f64 / 1e6 / secs)
}

fn fdatasync_4k_per_s(path: &Path, probe: Duration) -> Result<f64> {
    let file = create_new(path)?;
    let fill = vec![0u8; SEQ_BLOCK];
    let mut offset = 0;
    while offset < SYNC_FILE_BYTES {
        file.write_all_at(&fill, offset)?;
        offset += SEQ_BLOCK as u64;
    }
    file.sync_all()?;

    let block = super::random_bytes(SYNC_BLOCK);
    let start = Instant::now();
    let mut syncs: u64 = 0;
    let mut offset = 0;
    while start.elapsed() < probe {
        file.write_all_at(&block, offset)?;
        file.sync_data()?;
        syncs += 1;
        offset = (offset + SYNC_BLOCK as u64) % SYNC_FILE_BYTES;
    }
    Ok(syncs as f64 / start.elapsed().as_secs_f64())
}

fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_report_positive_rates_and_clean_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let limits = measure(dir.path(), Duration::from_millis(50)).expect("probes run");
        assert!(limits.disk_seq_write_mb_s > 0.0, "{limits:?}");
        assert!(limits.fsync_4k_per_s > 0.0, "{limits:?}");
        let left: Vec<_> = fs::read_dir(dir.path()).expect("readable").collect();
        assert!(left.is_empty(), "probe files left behind: {left:?}");
    }
}
