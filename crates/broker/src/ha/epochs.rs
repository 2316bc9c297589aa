//! The epoch table: at which commit-log offset each master epoch began, as RocketMQ 5's
//! `EpochFileCache`. Every master writes a new entry when it is elected; a replica takes its master's
//! table when it starts following. Two brokers of a group agree on their logs up to the end of the
//! newest epoch both know (the earlier of their two ends of it): a former master cuts its log back
//! there before following the new master, so it drops exactly what the new master never had.
//!
//! Kept in `config/epochs.json` (`[{"epoch":1,"startOffset":0},...]`), written atomically.

use std::path::PathBuf;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::BrokerError;
use crate::persist;

/// One epoch's first commit-log offset. `endOffset` is only on the wire (`EpochEntry.java`), where
/// the newest entry carries `Long.MAX_VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochEntry {
    pub epoch: u64,
    pub start_offset: u64,
    #[serde(default = "open_end", skip_serializing_if = "is_open_end")]
    pub end_offset: u64,
}

fn open_end() -> u64 {
    i64::MAX as u64
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn is_open_end(v: &u64) -> bool {
    *v == open_end()
}

impl EpochEntry {
    #[must_use]
    pub fn new(epoch: u64, start_offset: u64) -> Self {
        Self {
            epoch,
            start_offset,
            end_offset: open_end(),
        }
    }
}

/// The body of GET_BROKER_EPOCH_CACHE (`EpochEntryCache.java`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochCache {
    pub cluster_name: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub epoch_list: Vec<EpochEntry>,
    pub max_offset: u64,
}

/// The persistent table. `Send + Sync`.
#[derive(Debug)]
pub struct EpochTable {
    path: PathBuf,
    entries: Mutex<Vec<EpochEntry>>,
}

impl EpochTable {
    /// Reads the table at `path` (empty when absent).
    ///
    /// # Errors
    /// An unreadable or corrupt file.
    pub fn open(path: PathBuf) -> Result<Self, BrokerError> {
        let entries = match persist::read_optional(&path)? {
            None => Vec::new(),
            Some(bytes) => {
                let mut v: Vec<EpochEntry> =
                    serde_json::from_slice(&bytes).map_err(|e| BrokerError::CorruptFile {
                        path: path.clone(),
                        detail: e.to_string(),
                    })?;
                v.sort_by_key(|e| e.epoch);
                v
            }
        };
        Ok(Self {
            path,
            entries: Mutex::new(entries),
        })
    }

    /// Every entry, oldest first, the newest with an open end.
    #[must_use]
    pub fn entries(&self) -> Vec<EpochEntry> {
        close_ends(&self.entries.lock())
    }

    /// The newest epoch (0 for none).
    #[must_use]
    pub fn last_epoch(&self) -> u64 {
        self.entries.lock().last().map_or(0, |e| e.epoch)
    }

    /// This broker became master of `epoch` with its log ending at `start`: entries of later epochs
    /// or starting past `start` describe a log it does not have and go.
    ///
    /// # Errors
    /// Writing the file.
    pub fn begin(&self, epoch: u64, start: u64) -> Result<(), BrokerError> {
        let mut entries = self.entries.lock();
        if entries.last().is_some_and(|e| e.epoch == epoch) {
            return Ok(());
        }
        entries.retain(|e| e.epoch < epoch && e.start_offset <= start);
        entries.push(EpochEntry::new(epoch, start));
        self.save(&entries)
    }

    /// This broker follows a master whose table is `master`: its log is (becoming) a prefix of
    /// the master's, so the master's table describes it.
    ///
    /// # Errors
    /// Writing the file.
    pub fn adopt(&self, master: &[EpochEntry]) -> Result<(), BrokerError> {
        let mut entries = self.entries.lock();
        let adopted: Vec<EpochEntry> = master
            .iter()
            .map(|e| EpochEntry::new(e.epoch, e.start_offset))
            .collect();
        if *entries == adopted {
            return Ok(());
        }
        *entries = adopted;
        self.save(&entries)
    }

    /// The log was cut back to `end`: epochs that began at or after it are gone.
    ///
    /// # Errors
    /// Writing the file.
    pub fn truncate(&self, end: u64) -> Result<(), BrokerError> {
        let mut entries = self.entries.lock();
        let before = entries.len();
        entries.retain(|e| e.start_offset < end);
        if entries.len() == before {
            return Ok(());
        }
        self.save(&entries)
    }

    fn save(&self, entries: &[EpochEntry]) -> Result<(), BrokerError> {
        let bytes = serde_json::to_vec(entries).map_err(|e| BrokerError::CorruptFile {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        persist::write_atomic(&self.path, &bytes)
    }
}

fn close_ends(entries: &[EpochEntry]) -> Vec<EpochEntry> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| EpochEntry {
            end_offset: entries.get(i + 1).map_or(open_end(), |n| n.start_offset),
            ..*e
        })
        .collect()
}

/// Where two logs stop agreeing: ours (`ours`, ending at `our_end`) and the master's (`theirs`,
/// ending at `their_end`). The newest epoch both tables hold was written by one master, so both logs
/// hold the same bytes for it up to the earlier of their two ends of it; everything after that in our
/// log was never in theirs. Without a common epoch, nothing is known to agree: 0. An empty table of
/// ours (a broker that never followed or led under a controller) is taken as a prefix of theirs.
#[must_use]
pub fn consistent_end(
    ours: &[EpochEntry],
    our_end: u64,
    theirs: &[EpochEntry],
    their_end: u64,
) -> u64 {
    if ours.is_empty() {
        return our_end.min(their_end);
    }
    for (i, mine) in ours.iter().enumerate().rev() {
        let Some(j) = theirs.iter().position(|t| t.epoch == mine.epoch) else {
            continue;
        };
        let my_end = ours.get(i + 1).map_or(our_end, |n| n.start_offset);
        let their_epoch_end = theirs.get(j + 1).map_or(their_end, |n| n.start_offset);
        return my_end.min(their_epoch_end).min(our_end);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[(u64, u64)]) -> Vec<EpochEntry> {
        v.iter().map(|&(e, s)| EpochEntry::new(e, s)).collect()
    }

    #[test]
    fn a_former_master_is_cut_where_the_new_master_began() {
        // We led epoch 1 up to 5000; the new master had 4000 of it and began epoch 2 there.
        let ours = t(&[(1, 0)]);
        let theirs = t(&[(1, 0), (2, 4000)]);
        assert_eq!(consistent_end(&ours, 5000, &theirs, 9000), 4000);
        // Nothing to cut when we had less than the new master took over.
        assert_eq!(consistent_end(&ours, 3000, &theirs, 9000), 3000);
    }

    #[test]
    fn a_replica_of_the_same_epoch_agrees_up_to_the_shorter_log() {
        let table = t(&[(1, 0), (2, 4000)]);
        assert_eq!(consistent_end(&table, 6000, &table, 9000), 6000);
        assert_eq!(consistent_end(&table, 9500, &table, 9000), 9000);
    }

    #[test]
    fn an_epoch_the_master_never_saw_is_skipped() {
        // We were elected for epoch 3 but nobody followed; the group went on with epoch 4 from the
        // other broker, which had epoch 2 up to 7000.
        let ours = t(&[(1, 0), (2, 4000), (3, 7500)]);
        let theirs = t(&[(1, 0), (2, 4000), (4, 7000)]);
        assert_eq!(consistent_end(&ours, 8000, &theirs, 12000), 7000);
    }

    #[test]
    fn no_common_epoch_agrees_on_nothing_and_an_empty_table_is_a_prefix() {
        assert_eq!(consistent_end(&t(&[(5, 0)]), 100, &t(&[(6, 0)]), 200), 0);
        assert_eq!(consistent_end(&[], 100, &t(&[(6, 0)]), 200), 100);
        assert_eq!(consistent_end(&[], 300, &t(&[(6, 0)]), 200), 200);
    }

    #[test]
    fn the_table_survives_reopening_and_drops_what_a_cut_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("epochs.json");
        let table = EpochTable::open(path.clone()).expect("open");
        assert_eq!(table.last_epoch(), 0);
        table.begin(1, 0).expect("begin");
        table
            .adopt(&t(&[(1, 0), (2, 4000), (3, 9000)]))
            .expect("adopt");
        table.truncate(9000).expect("cut");
        let again = EpochTable::open(path).expect("reopen");
        assert_eq!(
            again.entries(),
            vec![
                EpochEntry {
                    epoch: 1,
                    start_offset: 0,
                    end_offset: 4000
                },
                EpochEntry::new(2, 4000)
            ]
        );
        // Becoming master of epoch 5 at 6000 keeps the older epochs.
        again.begin(5, 6000).expect("begin");
        assert_eq!(again.last_epoch(), 5);
        assert_eq!(again.entries().len(), 3);
    }

    #[test]
    fn the_wire_form_is_rocketmqs() {
        let cache = EpochCache {
            cluster_name: "c".into(),
            broker_name: "b".into(),
            broker_id: 1,
            epoch_list: vec![EpochEntry::new(1, 0)],
            max_offset: 10,
        };
        let json = serde_json::to_string(&cache).expect("json");
        assert_eq!(
            json,
            r#"{"clusterName":"c","brokerName":"b","brokerId":1,"epochList":[{"epoch":1,"startOffset":0}],"maxOffset":10}"#
        );
        let java = r#"{"brokerId":1,"brokerName":"b","clusterName":"c","epochList":[{"endOffset":9223372036854775807,"epoch":1,"startOffset":0}],"maxOffset":10}"#;
        assert_eq!(
            serde_json::from_str::<EpochCache>(java).expect("parse"),
            cache
        );
    }
}
