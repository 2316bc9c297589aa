//! Consumer offsets: the next offset to consume per (group, topic, queue), persisted to
//! `config/consumerOffset.json` every few seconds and at shutdown, plus the last pull position of
//! each queue (memory only, for consume statistics).
//!
//! File format (standard JSON, keys as Java's `topic@group`, queue ids as strings):
//! `{"offsetTable":{"TopicTest@cg1":{"0":12,"1":7}}}`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::BrokerError;
use crate::persist;

type QueueOffsets = BTreeMap<u32, u64>;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OffsetFile {
    offset_table: BTreeMap<String, QueueOffsets>,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

/// Committed and pulled offsets of consumer groups.
#[derive(Debug)]
pub struct ConsumerOffsets {
    committed: Mutex<BTreeMap<String, QueueOffsets>>,
    pulled: Mutex<HashMap<(String, String, u32), u64>>,
    dirty: AtomicBool,
    /// Held across a write of the file, so a `persist` that finds nothing dirty returns only
    /// once a write in progress (which may hold the commits it is asked to cover) has finished.
    writing: Mutex<()>,
    path: PathBuf,
}

impl ConsumerOffsets {
    /// Loads `path` (absent: no offsets).
    ///
    /// # Errors
    /// An unreadable or corrupt file.
    pub fn open(path: PathBuf) -> Result<Self, BrokerError> {
        let file: OffsetFile = match persist::read_optional(&path)? {
            None => OffsetFile::default(),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| BrokerError::CorruptFile {
                    path: path.clone(),
                    detail: e.to_string(),
                })?
            }
        };
        Ok(Self {
            committed: Mutex::new(file.offset_table),
            pulled: Mutex::new(HashMap::new()),
            dirty: AtomicBool::new(false),
            writing: Mutex::new(()),
            path,
        })
    }

    /// Every committed offset, in the file's JSON form (the GET_ALL_CONSUMER_OFFSET body).
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let file = OffsetFile {
            offset_table: self.committed.lock().clone(),
        };
        serde_json::to_vec(&file).unwrap_or_default()
    }

    /// Replaces every committed offset with those in `json` (the form of [`ConsumerOffsets::to_json`]):
    /// a replica mirroring its master. Returns whether anything changed.
    ///
    /// # Errors
    /// `BadBody` for JSON that is not an offset table.
    pub fn replace_from_json(&self, json: &[u8]) -> Result<bool, BrokerError> {
        let file: OffsetFile =
            serde_json::from_slice(json).map_err(|e| BrokerError::BadBody(e.to_string()))?;
        let mut committed = self.committed.lock();
        if *committed == file.offset_table {
            return Ok(false);
        }
        *committed = file.offset_table;
        self.dirty.store(true, Ordering::Release);
        Ok(true)
    }

    /// Records `offset` as the group's next offset to consume in the queue.
    pub fn commit(&self, group: &str, topic: &str, queue_id: u32, offset: u64) {
        self.committed
            .lock()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.dirty.store(true, Ordering::Release);
    }

    #[must_use]
    pub fn query(&self, group: &str, topic: &str, queue_id: u32) -> Option<u64> {
        self.committed
            .lock()
            .get(&key(topic, group))
            .and_then(|q| q.get(&queue_id).copied())
    }

    /// Remembers where the group's last pull of the queue ended.
    pub fn record_pull(&self, group: &str, topic: &str, queue_id: u32, next: u64) {
        self.pulled
            .lock()
            .insert((group.to_owned(), topic.to_owned(), queue_id), next);
    }

    #[must_use]
    pub fn pulled(&self, group: &str, topic: &str, queue_id: u32) -> Option<u64> {
        self.pulled
            .lock()
            .get(&(group.to_owned(), topic.to_owned(), queue_id))
            .copied()
    }

    /// Every committed offset as (topic, group, queue id, offset).
    #[must_use]
    pub fn all_committed(&self) -> Vec<(String, String, u32, u64)> {
        self.committed
            .lock()
            .iter()
            .filter_map(|(k, queues)| Some((k.rsplit_once('@')?, queues)))
            .flat_map(|((topic, group), queues)| {
                queues
                    .iter()
                    .map(move |(&q, &o)| (topic.to_owned(), group.to_owned(), q, o))
            })
            .collect()
    }

    /// Topics the group has committed offsets for.
    #[must_use]
    pub fn topics_of_group(&self, group: &str) -> BTreeSet<String> {
        self.committed
            .lock()
            .keys()
            .filter_map(|k| k.rsplit_once('@'))
            .filter(|(_, g)| *g == group)
            .map(|(t, _)| t.to_owned())
            .collect()
    }

    /// Groups that have committed offsets for the topic.
    #[must_use]
    pub fn groups_of_topic(&self, topic: &str) -> BTreeSet<String> {
        self.committed
            .lock()
            .keys()
            .filter_map(|k| k.rsplit_once('@'))
            .filter(|(t, _)| *t == topic)
            .map(|(_, g)| g.to_owned())
            .collect()
    }

    /// Forgets every offset of a group (the group was deleted with `cleanOffset`).
    pub fn remove_group(&self, group: &str) {
        let suffix = format!("@{group}");
        self.committed.lock().retain(|k, _| !k.ends_with(&suffix));
        self.pulled.lock().retain(|(g, _, _), _| g != group);
        self.dirty.store(true, Ordering::Release);
    }

    /// Forgets every offset of a topic (the topic was deleted).
    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}@");
        self.committed.lock().retain(|k, _| !k.starts_with(&prefix));
        self.pulled.lock().retain(|(_, t, _), _| t != topic);
        self.dirty.store(true, Ordering::Release);
    }

    /// Writes the file if anything changed since the last write. When it returns `Ok`, every
    /// commit made before the call is on disk.
    ///
    /// # Errors
    /// A failed write (the offsets stay dirty and the next call retries).
    pub fn persist(&self) -> Result<(), BrokerError> {
        let _writing = self.writing.lock();
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let file = OffsetFile {
            offset_table: self.committed.lock().clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| BrokerError::CorruptFile {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        persist::write_atomic(&self.path, &bytes).inspect_err(|_| {
            self.dirty.store(true, Ordering::Release);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("consumerOffset.json");
        let o = ConsumerOffsets::open(path.clone()).expect("opens");
        assert_eq!(o.query("g", "T", 0), None);
        o.commit("g", "T", 0, 12);
        o.commit("g", "T", 3, 7);
        o.commit("g2", "T", 0, 1);
        o.persist().expect("persists");
        let again = ConsumerOffsets::open(path).expect("reopens");
        assert_eq!(again.query("g", "T", 0), Some(12));
        assert_eq!(again.query("g", "T", 3), Some(7));
        assert_eq!(
            again.groups_of_topic("T").into_iter().collect::<Vec<_>>(),
            ["g", "g2"]
        );
        assert_eq!(again.topics_of_group("g").len(), 1);
    }
}
