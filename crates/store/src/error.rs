//! Errors of the storage engine. Each says what failed and where, so the log line alone is actionable.

use std::io;
use std::path::PathBuf;

use ferromq_model::record::{EncodeError, RecordError};

/// Everything the store can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("disk full writing {path}")]
    DiskFull { path: PathBuf },
    #[error("message rejected: {0}")]
    BadMessage(#[from] EncodeError),
    #[error("corrupt record at commit-log offset {offset}: {source}")]
    CorruptRecord {
        offset: u64,
        #[source]
        source: RecordError,
    },
    #[error("corrupt consume queue {topic}/{queue_id}: {detail}")]
    CorruptConsumeQueue {
        topic: String,
        queue_id: u32,
        detail: String,
    },
    #[error("unexpected file {path} in the store folder: {detail}")]
    ForeignFile { path: PathBuf, detail: String },
    #[error("commit-log offset {offset} is not readable (log spans {min}..{max})")]
    OffsetOutOfRange { offset: u64, min: u64, max: u64 },
    #[error("replicated bytes start at {got} but this log continues at {expected}")]
    ReplicaOffset { expected: u64, got: u64 },
    #[error("invalid store configuration: {0}")]
    Config(String),
    #[error("the store is shut down")]
    ShutDown,
    #[error("the store takes no new messages: this broker is not the master of its group")]
    ReadOnly,
    #[error("flush failed earlier and the store refuses writes: {0}")]
    Poisoned(String),
    #[error("timed out after {millis} ms waiting for the flush")]
    FlushTimeout { millis: u64 },
}

impl StoreError {
    /// Wraps an I/O error with the path it happened on, recognising a full disk.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        // ENOSPC (28) and EDQUOT (122) both mean "no room": the broker answers those differently.
        if matches!(source.raw_os_error(), Some(28 | 122))
            || source.kind() == io::ErrorKind::StorageFull
        {
            return StoreError::DiskFull { path };
        }
        StoreError::Io { path, source }
    }
}

/// Result alias for the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
