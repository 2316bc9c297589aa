//! openraft's `RaftStateMachine` over [`Groups`], with snapshots kept in `snapshot.json`.
//!
//! The state is small (a few groups of a few brokers), so a snapshot is the whole state as JSON.
//! The latest snapshot is also written to the data directory: after the log before it has been
//! purged, a restart needs it to rebuild the state before replaying the rest of the log.
// openraft's `StorageError` is large, and the trait methods must return it anyway.
#![allow(clippy::result_large_err)]

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, EntryPayload, ErrorSubject, ErrorVerb, RaftSnapshotBuilder, Snapshot, StorageIOError,
};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::files;
use crate::raft_types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::state::{Groups, Outcome, ReplicaInfo};

const SNAPSHOT_FILE: &str = "snapshot.json";

/// What has been applied so far; read by request handlers for replica info.
#[derive(Debug, Default)]
pub struct Applied {
    pub groups: Groups,
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta,
    groups: Groups,
}

/// The state machine; clones share the applied state.
#[derive(Debug, Clone)]
pub struct StateMachine {
    applied: Arc<RwLock<Applied>>,
    current: Arc<RwLock<Option<SnapshotFile>>>,
    dir: PathBuf,
}

fn sm_err(verb: ErrorVerb, e: &(impl std::error::Error + 'static)) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(ErrorSubject::StateMachine, verb, AnyError::new(e)),
    }
}

impl StateMachine {
    /// Loads the latest snapshot of `dir`, if any, as the starting state.
    ///
    /// # Errors
    /// A snapshot file that cannot be read or parsed.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let snapshot = files::read_json::<SnapshotFile>(&dir.join(SNAPSHOT_FILE))?;
        let applied = match &snapshot {
            Some(s) => Applied {
                groups: s.groups.clone(),
                last_applied: s.meta.last_log_id,
                membership: s.meta.last_membership.clone(),
            },
            None => Applied::default(),
        };
        Ok(Self {
            applied: Arc::new(RwLock::new(applied)),
            current: Arc::new(RwLock::new(snapshot)),
            dir: dir.to_owned(),
        })
    }

    /// The applied state, for reads.
    #[must_use]
    pub fn applied(&self) -> Arc<RwLock<Applied>> {
        self.applied.clone()
    }

    fn store_snapshot(&self, file: SnapshotFile) -> Result<(), StorageError> {
        files::write_json(&self.dir, SNAPSHOT_FILE, &file)
            .map_err(|e| sm_err(ErrorVerb::Write, &e))?;
        *self.current.write() = Some(file);
        Ok(())
    }
}

fn to_snapshot(file: &SnapshotFile) -> Result<Snapshot<TypeConfig>, StorageError> {
    let bytes = serde_json::to_vec(&file.groups).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
    Ok(Snapshot {
        meta: file.meta.clone(),
        snapshot: Box::new(Cursor::new(bytes)),
    })
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let file = {
            let applied = self.applied.read();
            let snapshot_id = applied.last_applied.map_or_else(
                || "empty".to_owned(),
                |l| format!("{}-{}", l.leader_id, l.index),
            );
            SnapshotFile {
                meta: SnapshotMeta {
                    last_log_id: applied.last_applied,
                    last_membership: applied.membership.clone(),
                    snapshot_id,
                },
                groups: applied.groups.clone(),
            }
        };
        let snapshot = to_snapshot(&file)?;
        self.store_snapshot(file)?;
        Ok(snapshot)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.applied.read();
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut applied = self.applied.write();
        let mut outcomes = Vec::new();
        for entry in entries {
            applied.last_applied = Some(entry.log_id);
            let outcome = match &entry.payload {
                EntryPayload::Blank => Ok(ReplicaInfo::default()),
                EntryPayload::Normal(command) => applied.groups.apply(command),
                EntryPayload::Membership(m) => {
                    applied.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                    Ok(ReplicaInfo::default())
                }
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let groups: Groups =
            serde_json::from_slice(snapshot.get_ref()).map_err(|e| sm_err(ErrorVerb::Read, &e))?;
        {
            let mut applied = self.applied.write();
            applied.groups = groups.clone();
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership.clone();
        }
        self.store_snapshot(SnapshotFile {
            meta: meta.clone(),
            groups,
        })
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let current = self.current.read().clone();
        current.as_ref().map(to_snapshot).transpose()
    }
}
