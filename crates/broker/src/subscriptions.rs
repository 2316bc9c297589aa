//! Consumer group settings (`SubscriptionGroupConfig`): created by the admin tool, or on a group's
//! first heartbeat when `autoCreateSubscriptionGroup` is on, persisted to
//! `config/subscriptionGroup.json` in the `SubscriptionGroupWrapper` shape Java writes. Every change
//! is written before it is visible, as for topics (changes are rare and operator-driven).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferromq_remoting::body::subscription_group::{
    SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use ferromq_remoting::body::JsonBody;
use parking_lot::Mutex;

use crate::error::BrokerError;
use crate::persist;
use crate::topics::now_ms;

/// Java's `retryMaxTimes` default, used for groups without settings.
pub const DEFAULT_RETRY_MAX_TIMES: u32 = 16;

/// The broker's consumer group table.
#[derive(Debug)]
pub struct Subscriptions {
    table: Mutex<SubscriptionGroupWrapper>,
    path: PathBuf,
}

impl Subscriptions {
    /// Loads `path` (absent: no groups).
    ///
    /// # Errors
    /// An unreadable or corrupt file.
    pub fn open(path: PathBuf) -> Result<Self, BrokerError> {
        let table = match persist::read_optional(&path)? {
            None => SubscriptionGroupWrapper::default(),
            Some(bytes) => SubscriptionGroupWrapper::from_json(&bytes).map_err(|e| {
                BrokerError::CorruptFile {
                    path: path.clone(),
                    detail: e.to_string(),
                }
            })?,
        };
        Ok(Self {
            table: Mutex::new(table),
            path,
        })
    }

    /// The group's settings.
    #[must_use]
    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.table
            .lock()
            .subscription_group_table
            .get(group)
            .cloned()
    }

    /// How many times a message of `group` is redelivered through its retry topic before it goes
    /// to the dead-letter queue: the group's `retryMaxTimes`, else Java's default of 16.
    #[must_use]
    pub fn retry_max_times(&self, group: &str) -> u32 {
        self.get(group)
            .and_then(|g| u32::try_from(g.retry_max_times).ok())
            .unwrap_or(DEFAULT_RETRY_MAX_TIMES)
    }

    /// Every group, by name.
    #[must_use]
    pub fn all(&self) -> SubscriptionGroupWrapper {
        self.table.lock().clone()
    }

    /// Creates or replaces a group's settings.
    ///
    /// # Errors
    /// The file cannot be written (the table is left unchanged).
    pub fn upsert(&self, config: SubscriptionGroupConfig) -> Result<(), BrokerError> {
        self.change(|t| {
            t.insert(config.group_name.clone(), config);
            true
        })
    }

    /// Creates the group with default settings unless it exists (a first heartbeat).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn ensure(&self, group: &str) -> Result<(), BrokerError> {
        if self
            .table
            .lock()
            .subscription_group_table
            .contains_key(group)
        {
            return Ok(());
        }
        self.change(|t| {
            if t.contains_key(group) {
                return false;
            }
            t.insert(group.to_owned(), SubscriptionGroupConfig::named(group));
            true
        })
    }

    /// Removes a group; false when there was none.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn delete(&self, group: &str) -> Result<bool, BrokerError> {
        let mut existed = false;
        self.change(|t| {
            existed = t.remove(group).is_some();
            existed
        })?;
        Ok(existed)
    }

    /// Applies `edit` to a copy of the table; when it reports a change, bumps the version, writes
    /// the file and only then publishes the copy.
    fn change(
        &self,
        edit: impl FnOnce(&mut BTreeMap<String, SubscriptionGroupConfig>) -> bool,
    ) -> Result<(), BrokerError> {
        let mut table = self.table.lock();
        let mut next = table.clone();
        if !edit(&mut next.subscription_group_table) {
            return Ok(());
        }
        next.data_version.counter += 1;
        next.data_version.timestamp = now_ms();
        persist::write_atomic(&self.path, &next.to_json())?;
        *table = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config").join("subscriptionGroup.json");
        let s = Subscriptions::open(path.clone()).expect("opens");
        assert_eq!(s.retry_max_times("g"), DEFAULT_RETRY_MAX_TIMES);
        s.upsert(SubscriptionGroupConfig {
            retry_max_times: 3,
            ..SubscriptionGroupConfig::named("g")
        })
        .expect("upserts");
        s.ensure("auto").expect("ensures");
        s.ensure("g").expect("keeps the existing settings");
        assert_eq!(s.retry_max_times("g"), 3);

        let again = Subscriptions::open(path).expect("reopens");
        assert_eq!(again.retry_max_times("g"), 3);
        assert_eq!(
            again
                .all()
                .subscription_group_table
                .keys()
                .collect::<Vec<_>>(),
            ["auto", "g"]
        );
        assert!(again.delete("auto").expect("deletes"));
        assert!(!again.delete("auto").expect("already gone"));
        assert!(again.get("auto").is_none());
    }
}
