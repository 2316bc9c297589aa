//! The broker's topic table: queue counts and permissions, persisted to `config/topics.json`
//! (a `TopicConfigSerializeWrapper`, the same shape Java writes) plus a journal of the changes
//! since (`journal`), versioned by a `DataVersion` the name server compares, and auto-creation on
//! send and on consumer heartbeat.

mod journal;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use ferromq_remoting::body::register::{
    DataVersion, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType,
};
use ferromq_remoting::body::route::perm;
use ferromq_remoting::body::JsonBody;
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::info;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::names::{self, AUTO_CREATE_TOPIC};
use crate::persist;

use journal::{Change, Journal};

/// Topic table; every change is persisted before it is visible and bumps the data version.
#[derive(Debug)]
pub struct Topics {
    table: Mutex<TopicConfigSerializeWrapper>,
    /// Changes since the snapshot at `path`; locked only with `table` locked.
    journal: Mutex<Journal>,
    path: PathBuf,
    /// Sends the data-version counter after each change; the registrar re-registers on it.
    changes: watch::Sender<i64>,
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A normal read-write topic.
#[must_use]
pub fn topic_config(name: &str, queues: i32, perm_bits: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_owned(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: perm_bits,
        topic_filter_type: Some(TopicFilterType::SingleTag),
        ..TopicConfig::default()
    }
}

/// `<cluster>_REPLY_TOPIC`: the topic replies of request-reply messaging are sent to.
#[must_use]
pub fn reply_topic(cluster: &str) -> String {
    format!("{cluster}_REPLY_TOPIC")
}

/// The topics a Java broker always has: `TBW102` (when auto-creation is on), `SELF_TEST_TOPIC`,
/// `OFFSET_MOVED_EVENT`, topics named after the cluster and the broker (producers may name them
/// as the template topic), and the cluster's reply topic. Names that break the topic rules are
/// skipped.
#[must_use]
pub fn system_topics(config: &BrokerConfig) -> Vec<TopicConfig> {
    let rwx = perm::READ | perm::WRITE | perm::INHERIT;
    let rw = perm::READ | perm::WRITE;
    let mut out = Vec::new();
    if config.auto_create_topic_enable {
        let queues = i32::try_from(config.default_topic_queue_nums).unwrap_or(i32::MAX);
        out.push(topic_config(AUTO_CREATE_TOPIC, queues, rwx));
    }
    out.push(topic_config("SELF_TEST_TOPIC", 1, rw));
    out.push(topic_config("OFFSET_MOVED_EVENT", 1, rw));
    out.push(topic_config(&config.cluster_name, 16, rwx));
    out.push(topic_config(&config.broker_name, 1, rwx));
    // Where responders send replies to requests (request-reply): `<cluster>_REPLY_TOPIC`.
    out.push(topic_config(&reply_topic(&config.cluster_name), 1, rw));
    out.retain(|t| names::validate_topic(&t.topic_name).is_ok());
    out
}

impl Topics {
    /// Loads `path` (absent: empty table) and its journal, and adds the system topics a Java broker
    /// creates (see [`system_topics`]); `TBW102` exists exactly when `autoCreateTopicEnable` is on.
    ///
    /// # Errors
    /// An unreadable or corrupt file, or a failed write.
    pub fn open(path: PathBuf, config: &BrokerConfig) -> Result<Self, BrokerError> {
        let mut table = match persist::read_optional(&path)? {
            None => TopicConfigSerializeWrapper::default(),
            Some(bytes) => TopicConfigSerializeWrapper::from_json(&bytes).map_err(|e| {
                BrokerError::CorruptFile {
                    path: path.clone(),
                    detail: e.to_string(),
                }
            })?,
        };
        let mut journal = Journal::open(journal::path_for(&path), &mut table)?;
        let mut changed = false;
        for t in system_topics(config) {
            if !table.topic_config_table.contains_key(&t.topic_name)
                || t.topic_name == AUTO_CREATE_TOPIC
                    && table.topic_config_table.get(AUTO_CREATE_TOPIC) != Some(&t)
            {
                table.topic_config_table.insert(t.topic_name.clone(), t);
                changed = true;
            }
        }
        if !config.auto_create_topic_enable {
            changed |= table.topic_config_table.remove(AUTO_CREATE_TOPIC).is_some();
        }
        if changed {
            table.data_version.counter += 1;
            table.data_version.timestamp = now_ms();
            write_snapshot(&path, &table, &mut journal)?;
        }
        let (changes, _) = watch::channel(table.data_version.counter);
        Ok(Topics {
            table: Mutex::new(table),
            journal: Mutex::new(journal),
            path,
            changes,
        })
    }

    /// Journals one change (`set` a topic or `del`ete one, already applied to `table`), bumps the
    /// version and announces it. Called with the table locked so that changes are journaled in
    /// version order.
    fn commit(
        &self,
        table: &mut TopicConfigSerializeWrapper,
        set: Option<&TopicConfig>,
        del: Option<&str>,
    ) -> Result<(), BrokerError> {
        let change = Change {
            v: table.data_version.counter + 1,
            ts: now_ms(),
            set: set.cloned(),
            del: del.map(str::to_owned),
        };
        let mut journal = self.journal.lock();
        journal.append(&change)?;
        table.data_version.counter = change.v;
        table.data_version.timestamp = change.ts;
        if journal.wants_compaction(table.topic_config_table.len()) {
            // The change is durable in the journal already; a failed compaction only delays it.
            if let Err(e) = write_snapshot(&self.path, table, &mut journal) {
                tracing::warn!(error = %e, "topic table snapshot failed; the journal keeps growing");
            }
        }
        self.changes.send_replace(change.v);
        Ok(())
    }

    /// Writes the whole table to `topics.json` and empties the journal (at a clean shutdown, so
    /// that the file alone is complete for tools that read it).
    ///
    /// # Errors
    /// A failed write.
    pub fn compact(&self) -> Result<(), BrokerError> {
        let table = self.table.lock();
        write_snapshot(&self.path, &table, &mut self.journal.lock())
    }

    #[must_use]
    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.table.lock().topic_config_table.get(topic).cloned()
    }

    /// Every topic, sorted by name.
    #[must_use]
    pub fn all(&self) -> Vec<TopicConfig> {
        self.table
            .lock()
            .topic_config_table
            .values()
            .cloned()
            .collect()
    }

    /// The whole table with its version, as registered with name servers.
    #[must_use]
    pub fn wrapper(&self) -> TopicConfigSerializeWrapper {
        let t = self.table.lock();
        TopicConfigSerializeWrapper {
            mapping_data_version: Some(DataVersion::default()),
            topic_queue_mapping_detail_map: Some(serde_json::json!({})),
            topic_queue_mapping_info_map: Some(serde_json::json!({})),
            ..t.clone()
        }
    }

    /// Notified with the version counter after every change.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.changes.subscribe()
    }

    /// Creates or replaces a topic; returns whether anything changed.
    ///
    /// # Errors
    /// A failed write (the table is then unchanged).
    pub fn upsert(&self, config: TopicConfig) -> Result<bool, BrokerError> {
        let mut t = self.table.lock();
        if t.topic_config_table.get(&config.topic_name) == Some(&config) {
            return Ok(false);
        }
        let old = t
            .topic_config_table
            .insert(config.topic_name.clone(), config.clone());
        if let Err(e) = self.commit(&mut t, Some(&config), None) {
            match old {
                Some(o) => t.topic_config_table.insert(o.topic_name.clone(), o),
                None => t.topic_config_table.remove(&config.topic_name),
            };
            return Err(e);
        }
        info!(topic = %config.topic_name, queues = config.write_queue_nums, perm = config.perm, "topic saved");
        Ok(true)
    }

    /// Removes a topic; returns whether it existed.
    ///
    /// # Errors
    /// A failed write.
    pub fn delete(&self, topic: &str) -> Result<bool, BrokerError> {
        let mut t = self.table.lock();
        let Some(old) = t.topic_config_table.remove(topic) else {
            return Ok(false);
        };
        if let Err(e) = self.commit(&mut t, None, Some(topic)) {
            t.topic_config_table.insert(topic.to_owned(), old);
            return Err(e);
        }
        info!(topic, "topic deleted");
        Ok(true)
    }

    /// The topic a send goes to, auto-created from `default_topic` when that template exists with
    /// the inherit permission (queues = min(asked, template's)), or with 1 queue for retry topics.
    ///
    /// # Errors
    /// `TopicNotExist` when it cannot be created, or a failed write.
    pub fn ensure_for_send(
        &self,
        topic: &str,
        default_topic: &str,
        asked_queues: i32,
    ) -> Result<TopicConfig, BrokerError> {
        if let Some(c) = self.get(topic) {
            return Ok(c);
        }
        let created = if names::is_retry_topic(topic) {
            topic_config(topic, 1, perm::READ | perm::WRITE)
        } else {
            let template = self
                .get(default_topic)
                .filter(|t| t.perm & perm::INHERIT != 0)
                .ok_or_else(|| BrokerError::TopicNotExist(topic.to_owned()))?;
            let queues = if asked_queues > 0 {
                asked_queues.min(template.write_queue_nums)
            } else {
                template.write_queue_nums
            };
            TopicConfig {
                topic_name: topic.to_owned(),
                read_queue_nums: queues,
                write_queue_nums: queues,
                perm: template.perm & !perm::INHERIT,
                topic_filter_type: template.topic_filter_type,
                ..TopicConfig::default()
            }
        };
        self.upsert(created.clone())?;
        Ok(created)
    }

    /// Creates `%RETRY%<group>` (1 queue, read-write) if missing; returns whether it was created.
    ///
    /// # Errors
    /// A failed write.
    pub fn ensure_retry(&self, group: &str) -> Result<bool, BrokerError> {
        let topic = names::retry_topic(group);
        if self.get(&topic).is_some() {
            return Ok(false);
        }
        self.upsert(topic_config(&topic, 1, perm::READ | perm::WRITE))
    }

    /// Creates a broker-owned topic (dead-letter, transaction, retry with a given queue count) if
    /// missing: `queues` queues, read-write, never inherited by auto-creation. Returns its config.
    ///
    /// # Errors
    /// A failed write.
    pub fn ensure_internal(&self, topic: &str, queues: i32) -> Result<TopicConfig, BrokerError> {
        if let Some(c) = self.get(topic) {
            return Ok(c);
        }
        let created = topic_config(topic, queues.max(1), perm::READ | perm::WRITE);
        self.upsert(created.clone())?;
        Ok(created)
    }

    /// Number of topics (for runtime info).
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.lock().topic_config_table.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Topic names, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.table
            .lock()
            .topic_config_table
            .keys()
            .cloned()
            .collect()
    }
}

/// The table as a new `topics.json`, then an empty journal (in that order: a crash between the two
/// leaves journal lines the snapshot already holds, which the next open skips by version).
fn write_snapshot(
    path: &std::path::Path,
    table: &TopicConfigSerializeWrapper,
    journal: &mut Journal,
) -> Result<(), BrokerError> {
    persist::write_atomic(path, &table.to_json())?;
    journal.clear()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_creates_from_the_template_and_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("topics.json");
        let on = BrokerConfig::default();
        let off = BrokerConfig {
            auto_create_topic_enable: false,
            ..BrokerConfig::default()
        };
        let topics = Topics::open(path.clone(), &on).expect("opens");
        assert_eq!(topics.get("DefaultCluster").expect("cluster topic").perm, 7);
        assert_eq!(topics.get("TBW102").expect("template").perm, 7);
        let t = topics.ensure_for_send("T1", "TBW102", 4).expect("created");
        assert_eq!((t.read_queue_nums, t.perm), (4, 6));
        let big = topics
            .ensure_for_send("T2", "TBW102", 100)
            .expect("created");
        assert_eq!(big.write_queue_nums, 8);
        assert!(topics.ensure_retry("cg").expect("retry"));
        assert!(!topics.ensure_retry("cg").expect("retry exists"));
        let version = topics.wrapper().data_version.counter;
        drop(topics);

        let again = Topics::open(path.clone(), &on).expect("reopens");
        assert_eq!(again.wrapper().data_version.counter, version);
        assert_eq!(again.get("%RETRY%cg").expect("kept").write_queue_nums, 1);
        assert!(again.delete("T1").expect("deletes"));
        drop(again);

        let off = Topics::open(path, &off).expect("reopens");
        assert!(off.get("TBW102").is_none());
        assert!(off.get("T1").is_none());
        assert!(matches!(
            off.ensure_for_send("T3", "TBW102", 4),
            Err(BrokerError::TopicNotExist(_))
        ));
        assert!(off.ensure_for_send("%RETRY%g", "TBW102", 4).is_ok());
    }

    #[test]
    fn many_changes_compact_the_journal_and_reopen_to_the_same_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("topics.json");
        let config = BrokerConfig::default();
        let topics = Topics::open(path.clone(), &config).expect("opens");
        for i in 0..2_500 {
            topics
                .upsert(topic_config(&format!("T{i}"), 8, 6))
                .expect("creates");
        }
        for i in (0..2_500).step_by(7) {
            assert!(topics.delete(&format!("T{i}")).expect("deletes"));
        }
        let before = topics.wrapper();
        // Compaction ran: the journal holds fewer lines than the changes made.
        let journal = std::fs::read(journal::path_for(&path)).expect("journal");
        let lines = journal.iter().filter(|&&b| b == b'\n').count();
        assert!(lines < 2_500, "{lines} journal lines");
        drop(topics);

        let again = Topics::open(path.clone(), &config).expect("reopens");
        assert_eq!(again.wrapper(), before);
        again.compact().expect("compacts");
        assert!(std::fs::read(journal::path_for(&path))
            .expect("journal")
            .is_empty());
        drop(again);
        // The snapshot alone now holds everything.
        let snapshot =
            TopicConfigSerializeWrapper::from_json(&std::fs::read(&path).expect("snapshot"))
                .expect("parses");
        assert_eq!(snapshot.topic_config_table, before.topic_config_table);
        assert_eq!(snapshot.data_version.counter, before.data_version.counter);
    }
}
