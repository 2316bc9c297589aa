//! The Raft log on disk, for openraft's `RaftLogStorage`.
//!
//! Files in the data directory:
//!
//! - `raft-log`: append-only records, each `len: u32 LE | crc32(json): u32 LE | json(Entry)`.
//!   Recovery reads records until the first short or corrupt one and cuts the file there (a crash
//!   in the middle of an append leaves at most one partial record, which was never acknowledged).
//! - `vote.json`, `committed.json`, `purged.json`: replaced atomically (see [`crate::files`]).
//!
//! Truncation and purge are rare (a new leader overwriting a follower's tail; a snapshot making the
//! prefix unnecessary) and the controller's log is small, so both rewrite `raft-log` whole and swap
//! it in atomically. All entries also live in memory: the log of a controller holds only broker
//! registrations and elections.
//!
//! The I/O is synchronous inside async methods: each call is a few small writes and one fsync on a
//! file only this task touches, shorter than a hop to the blocking pool would be worth.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, ErrorSubject, ErrorVerb, LogState, RaftLogId, RaftLogReader};
use parking_lot::Mutex;
use tracing::warn;

use crate::files;
use crate::raft_types::{Entry, LogId, StorageError, TypeConfig, Vote};

const LOG_FILE: &str = "raft-log";
const VOTE_FILE: &str = "vote.json";
const COMMITTED_FILE: &str = "committed.json";
const PURGED_FILE: &str = "purged.json";
/// `len` + `crc`.
const RECORD_HEADER: usize = 8;
/// A record longer than this is corruption, not an entry (entries are a few hundred bytes).
const MAX_RECORD: usize = 16 << 20;

/// The log store; clones share the same files (openraft reads through a clone while it appends).
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogFiles>>,
}

#[derive(Debug)]
struct LogFiles {
    dir: PathBuf,
    /// Append handle of `raft-log`.
    file: File,
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    vote: Option<Vote>,
    committed: Option<LogId>,
}

fn io_err(verb: ErrorVerb, e: &io::Error) -> StorageError {
    StorageError::IO {
        source: openraft::StorageIOError::new(ErrorSubject::Logs, verb, AnyError::new(e)),
    }
}

fn encode_record(entry: &Entry, out: &mut Vec<u8>) -> io::Result<()> {
    let json = serde_json::to_vec(entry).map_err(io::Error::other)?;
    let len = u32::try_from(json.len()).map_err(io::Error::other)?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(())
}

/// Decodes records from the start of `bytes`; returns them and the length of the valid prefix.
fn decode_records(bytes: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut pos = 0;
    while let Some(header) = bytes.get(pos..pos + RECORD_HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(json) = bytes.get(pos + RECORD_HEADER..pos + RECORD_HEADER + len) else {
            break;
        };
        if crc32fast::hash(json) != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(json) else {
            break;
        };
        entries.push(entry);
        pos += RECORD_HEADER + len;
    }
    (entries, pos)
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, recovering what a crash left.
    ///
    /// # Errors
    /// I/O failures, or a vote/committed/purged file that does not parse.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let vote = files::read_json::<Vote>(&dir.join(VOTE_FILE))?;
        let committed = files::read_json::<Option<LogId>>(&dir.join(COMMITTED_FILE))?.flatten();
        let last_purged = files::read_json::<Option<LogId>>(&dir.join(PURGED_FILE))?.flatten();
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (decoded, valid) = decode_records(&bytes);
        if valid < bytes.len() {
            warn!(path = %path.display(), valid, len = bytes.len(), "cutting a torn tail off the raft log");
            file.set_len(valid as u64)?;
            file.sync_all()?;
        }
        let purged_index = last_purged.map(|l| l.index);
        let entries = decoded
            .into_iter()
            .filter(|e| purged_index.is_none_or(|p| e.log_id.index > p))
            .map(|e| (e.log_id.index, e))
            .collect();
        ferromq_durable::sync_dir(dir)?;
        Ok(Self {
            inner: Arc::new(Mutex::new(LogFiles {
                dir: dir.to_owned(),
                file,
                entries,
                last_purged,
                vote,
                committed,
            })),
        })
    }
}

impl LogFiles {
    /// Writes the in-memory entries as the new `raft-log` and swaps it in.
    fn rewrite(&mut self) -> io::Result<()> {
        let mut bytes = Vec::new();
        for entry in self.entries.values() {
            encode_record(entry, &mut bytes)?;
        }
        ferromq_durable::write_atomic(&self.dir.join(LOG_FILE), &bytes)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(self.dir.join(LOG_FILE))?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let inner = self.inner.lock();
        Ok(inner.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let inner = self.inner.lock();
        let last = inner
            .entries
            .values()
            .next_back()
            .map(|e| *e.get_log_id())
            .or(inner.last_purged);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let mut inner = self.inner.lock();
        files::write_json(&inner.dir, VOTE_FILE, vote).map_err(|e| io_err(ErrorVerb::Write, &e))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.inner.lock().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let mut inner = self.inner.lock();
        files::write_json(&inner.dir, COMMITTED_FILE, &committed)
            .map_err(|e| io_err(ErrorVerb::Write, &e))?;
        inner.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.inner.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.inner.lock();
        let entries: Vec<Entry> = entries.into_iter().collect();
        let mut bytes = Vec::new();
        for entry in &entries {
            encode_record(entry, &mut bytes).map_err(|e| io_err(ErrorVerb::Write, &e))?;
        }
        let written = inner
            .file
            .write_all(&bytes)
            .and_then(|()| inner.file.sync_data());
        if let Err(e) = &written {
            let err = io_err(ErrorVerb::Write, e);
            callback.log_io_completed(written);
            return Err(err);
        }
        for entry in entries {
            inner.entries.insert(entry.log_id.index, entry);
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut inner = self.inner.lock();
        inner.entries.split_off(&log_id.index);
        inner.rewrite().map_err(|e| io_err(ErrorVerb::Delete, &e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut inner = self.inner.lock();
        // Record the purge point first: a crash before the rewrite leaves entries that recovery
        // drops by this mark.
        files::write_json(&inner.dir, PURGED_FILE, &Some(log_id))
            .map_err(|e| io_err(ErrorVerb::Write, &e))?;
        inner.last_purged = Some(log_id);
        inner.entries = inner.entries.split_off(&(log_id.index + 1));
        inner.rewrite().map_err(|e| io_err(ErrorVerb::Delete, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn write_raw(dir: &Path, entries: &[Entry], tail: &[u8]) {
        let mut bytes = Vec::new();
        for e in entries {
            encode_record(e, &mut bytes).expect("encode");
        }
        bytes.extend_from_slice(tail);
        std::fs::write(dir.join(LOG_FILE), bytes).expect("write");
    }

    #[tokio::test]
    async fn recovery_cuts_a_torn_tail_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good: Vec<Entry> = (1..=3).map(|i| entry(1, i)).collect();
        write_raw(dir.path(), &good, &[7, 0, 0, 0, 1, 2]);
        let mut store = LogStore::open(dir.path()).expect("open");
        let got = store.try_get_log_entries(0..).await.expect("read");
        assert_eq!(got, good);
        let len = std::fs::metadata(dir.path().join(LOG_FILE))
            .expect("meta")
            .len();
        let mut expected = Vec::new();
        for e in &good {
            encode_record(e, &mut expected).expect("encode");
        }
        assert_eq!(len, expected.len() as u64);
    }

    #[tokio::test]
    async fn corrupt_record_ends_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good: Vec<Entry> = (1..=3).map(|i| entry(1, i)).collect();
        write_raw(dir.path(), &good, &[]);
        let mut bytes = std::fs::read(dir.path().join(LOG_FILE)).expect("read");
        let last = bytes.len() - 3;
        bytes[last] ^= 0xff;
        std::fs::write(dir.path().join(LOG_FILE), bytes).expect("write");
        let mut store = LogStore::open(dir.path()).expect("open");
        let got = store.try_get_log_entries(0..).await.expect("read");
        assert_eq!(got, good[..2].to_vec());
    }

    #[tokio::test]
    async fn truncate_purge_vote_and_committed_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut store = LogStore::open(dir.path()).expect("open");
            let all: Vec<Entry> = (1..=6).map(|i| entry(1, i)).collect();
            write_raw(dir.path(), &all, &[]);
            drop(store);
            store = LogStore::open(dir.path()).expect("reopen");
            store
                .truncate(LogId::new(CommittedLeaderId::new(1, 1), 5))
                .await
                .expect("truncate");
            store
                .purge(LogId::new(CommittedLeaderId::new(1, 1), 2))
                .await
                .expect("purge");
            store.save_vote(&Vote::new(3, 2)).await.expect("vote");
            store
                .save_committed(Some(LogId::new(CommittedLeaderId::new(1, 1), 4)))
                .await
                .expect("committed");
        }
        let mut store = LogStore::open(dir.path()).expect("reopen");
        let got = store.try_get_log_entries(0..).await.expect("read");
        assert_eq!(got, vec![entry(1, 3), entry(1, 4)]);
        let state = store.get_log_state().await.expect("state");
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(2));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(4));
        assert_eq!(
            store.read_vote().await.expect("vote"),
            Some(Vote::new(3, 2))
        );
        assert_eq!(
            store
                .read_committed()
                .await
                .expect("committed")
                .map(|l| l.index),
            Some(4)
        );
    }
}
