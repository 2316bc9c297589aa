//! The store's configuration: one typed struct, defaults in `Default`, checked by `validate`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// When an append counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlushMode {
    /// Acknowledge after the write reaches the page cache; a background flusher syncs periodically.
    /// A process crash loses nothing; a power loss can lose the last flush interval.
    AsyncFlush,
    /// Acknowledge after an fdatasync covers the bytes (group commit). Survives power loss.
    SyncFlush,
}

/// How commit-log segment files are written.
///
/// The default, `Auto`, picks by flush mode from measurements (`ferromq bench store --size 1024
/// --writers 1,64 --flush both --io both --seconds 3`, 3 runs on a quiet 2-core VM, medians):
/// - under ASYNC_FLUSH, `Mmap`: no system call per append, ~515 MB/s of 1 KiB messages against
///   ~355 MB/s with `Pwrite`;
/// - under SYNC_FLUSH, `Pwrite`: 9.4k vs 7.3k msgs/s with 1 writer and 113k vs 57k with 64. After
///   every fdatasync the kernel write-protects the mapped pages again, so the next store into each
///   page faults.
///
/// `Pwrite` also keeps the failure modes ordinary (an I/O error is an `Err`; under `Mmap` a failing
/// device raises SIGBUS). Mapped segments are fully allocated at creation, so a full disk is an error
/// when a segment is created, never a SIGBUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IoMode {
    /// `Mmap` under ASYNC_FLUSH, `Pwrite` under SYNC_FLUSH.
    #[default]
    Auto,
    /// `pwrite`/`pread` on the file descriptor.
    Pwrite,
    /// Copy into a shared memory map of a fully allocated file.
    Mmap,
}

impl IoMode {
    /// The concrete mode for `flush`: `Auto` resolved, the others as they are.
    #[must_use]
    pub fn resolve(self, flush: FlushMode) -> IoMode {
        match (self, flush) {
            (IoMode::Auto, FlushMode::AsyncFlush) => IoMode::Mmap,
            (IoMode::Auto, FlushMode::SyncFlush) => IoMode::Pwrite,
            (mode, _) => mode,
        }
    }
}

/// Storage engine settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Folder holding `commitlog/`, `consumequeue/`, `index/`, `checkpoint`.
    pub root_dir: PathBuf,
    /// Bytes per commit-log segment file.
    pub commit_log_segment_bytes: u64,
    /// Entries (20 bytes each) per consume-queue file.
    pub consume_queue_entries_per_file: u64,
    /// Hash slots per index file.
    pub index_hash_slots: u32,
    /// Entries per index file.
    pub index_max_entries: u32,
    pub flush_mode: FlushMode,
    pub io_mode: IoMode,
    /// ASYNC_FLUSH: how often the flusher looks for dirty data.
    pub flush_interval_ms: u64,
    /// ASYNC_FLUSH: flush only when at least this many 4 KiB pages are dirty...
    pub flush_min_pages: u64,
    /// ...unless this long has passed since the last flush.
    pub flush_thorough_interval_ms: u64,
    /// SYNC_FLUSH: an append whose flush takes longer than this completes with a timeout error.
    pub sync_flush_timeout_ms: u64,
    /// Keep the commit log written with zeros a few MiB ahead of the append position, into the next
    /// segment prepared in the background. `fallocate` leaves *unwritten* extents on ext4 and XFS.
    /// SYNC_FLUSH: the zeros are synced (32 MiB ahead), because the first write into each block must
    /// also convert its extent, so the fdatasync acknowledging it writes metadata too (measured
    /// several times slower than an fdatasync over blocks written before); the price is writing the
    /// log twice. ASYNC_FLUSH: the zeros only go to the page cache (8 MiB ahead), because the first
    /// store into an uncached page of an unwritten extent makes the kernel build the page through its
    /// read path (measured ~0.5 GB/s, most of a writer's CPU), while whole pages of zeros need no read.
    pub warm_segments: bool,
    /// Largest accepted record, in bytes.
    pub max_message_bytes: usize,
    /// Commit-log segments older than this many hours are deleted at the `delete_when` hours.
    pub file_reserved_hours: u64,
    /// Hours of the day (local clock of the store's `Clock`, 0-23) at which expired files are deleted,
    /// written RocketMQ style: "04" or "01;02;03".
    pub delete_when: String,
    /// Above this fraction of the disk in use, the oldest segments are deleted whatever their age.
    pub disk_max_used_ratio: f64,
    /// How often the retention task runs.
    pub retention_check_interval_ms: u64,
    /// How often consume queues and the index are flushed and the checkpoint written.
    pub checkpoint_interval_ms: u64,
    /// Most consume-queue files held open at once; 0 derives it from the process's descriptor
    /// limit (a quarter of it, so connections and the other files keep the rest).
    pub max_open_queue_files: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            root_dir: PathBuf::from("store"),
            commit_log_segment_bytes: 1 << 30,
            consume_queue_entries_per_file: 300_000,
            index_hash_slots: 5_000_000,
            index_max_entries: 20_000_000,
            flush_mode: FlushMode::AsyncFlush,
            io_mode: IoMode::Auto,
            flush_interval_ms: 500,
            flush_min_pages: 4,
            flush_thorough_interval_ms: 10_000,
            sync_flush_timeout_ms: 5_000,
            warm_segments: true,
            max_message_bytes: 4 * 1024 * 1024 + 64 * 1024,
            file_reserved_hours: 72,
            delete_when: "04".to_owned(),
            disk_max_used_ratio: 0.75,
            retention_check_interval_ms: 10_000,
            checkpoint_interval_ms: 1_000,
            max_open_queue_files: 0,
        }
    }
}

impl StoreConfig {
    /// A configuration rooted at `root_dir`, defaults elsewhere.
    pub fn new(root_dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            root_dir: root_dir.into(),
            ..StoreConfig::default()
        }
    }

    /// Checks the settings against each other.
    ///
    /// # Errors
    /// `StoreError::Config` naming the first bad setting.
    pub fn validate(&self) -> Result<(), StoreError> {
        let bad = |m: String| Err(StoreError::Config(m));
        if self.commit_log_segment_bytes < 64 * 1024 {
            return bad(format!(
                "commit_log_segment_bytes {} is below 64 KiB",
                self.commit_log_segment_bytes
            ));
        }
        if (self.max_message_bytes as u64) + 8 > self.commit_log_segment_bytes {
            return bad(format!(
                "max_message_bytes {} does not fit a commit-log segment of {} bytes",
                self.max_message_bytes, self.commit_log_segment_bytes
            ));
        }
        if self.consume_queue_entries_per_file == 0 {
            return bad("consume_queue_entries_per_file must be positive".into());
        }
        if self.index_hash_slots == 0 || self.index_max_entries < 2 {
            return bad(
                "index_hash_slots must be positive and index_max_entries at least 2".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.disk_max_used_ratio) {
            return bad(format!(
                "disk_max_used_ratio {} is not within 0..1",
                self.disk_max_used_ratio
            ));
        }
        if self.delete_hours().is_none() {
            return bad(format!(
                "delete_when {:?} is not a ';'-separated list of hours 0-23",
                self.delete_when
            ));
        }
        Ok(())
    }

    /// The hours of `delete_when`, or `None` when it does not parse.
    #[must_use]
    pub fn delete_hours(&self) -> Option<Vec<u32>> {
        self.delete_when
            .split(';')
            .map(|h| h.trim().parse::<u32>().ok().filter(|h| *h < 24))
            .collect()
    }

    /// The cap on open consume-queue files: `max_open_queue_files`, or when 0 a quarter of the
    /// soft `RLIMIT_NOFILE` (at least 64; 4,096 when the limit cannot be read or is unlimited).
    #[must_use]
    pub fn open_queue_files_cap(&self) -> usize {
        if self.max_open_queue_files > 0 {
            return self.max_open_queue_files;
        }
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        limit.map_or(4_096, |n| {
            usize::try_from(n / 4)
                .unwrap_or(usize::MAX)
                .clamp(64, 1 << 20)
        })
    }

    pub(crate) fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms.max(1))
    }
}
