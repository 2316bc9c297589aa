//! KV config: namespace → key → value, the only state the name server persists.
//!
//! The file has Java's `KVConfigSerializeWrapper` layout, `{"configTable":{ns:{key:value}}}`, so a
//! Java name server's `kvConfig.json` can be reused. Each change rewrites it atomically with
//! [`ferromq_durable::write_atomic`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

type Table = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FileFormat {
    config_table: Table,
}

/// Why KV config could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("cannot read KV config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("KV config {path} is not valid JSON: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write KV config {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The KV store; changes are persisted before they are acknowledged.
#[derive(Debug)]
pub struct KvStore {
    path: Option<PathBuf>,
    table: RwLock<Table>,
    /// Serialises file writes so the file always ends with the latest snapshot.
    persist: Mutex<()>,
}

impl KvStore {
    /// Opens the store, loading `path` if it exists.
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn open(path: Option<PathBuf>) -> Result<Self, KvError> {
        let table = match &path {
            Some(p) => load(p)?,
            None => Table::new(),
        };
        Ok(Self {
            path,
            table: RwLock::new(table),
            persist: Mutex::new(()),
        })
    }

    #[must_use]
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.table.read().get(namespace)?.get(key).cloned()
    }

    /// All entries of a namespace; `None` when it has none.
    #[must_use]
    pub fn namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.table.read().get(namespace).cloned()
    }

    /// Sets a value.
    ///
    /// # Errors
    /// When persisting fails; the value is set in memory all the same.
    pub fn put(&self, namespace: &str, key: &str, value: &str) -> Result<(), KvError> {
        let _persist = self.persist.lock();
        self.table
            .write()
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        self.save()
    }

    /// Removes a value (a namespace left empty goes too).
    ///
    /// # Errors
    /// When persisting fails; the value is removed in memory all the same.
    pub fn delete(&self, namespace: &str, key: &str) -> Result<(), KvError> {
        let _persist = self.persist.lock();
        {
            let mut table = self.table.write();
            let Some(entries) = table.get_mut(namespace) else {
                return Ok(());
            };
            if entries.remove(key).is_none() {
                return Ok(());
            }
            if entries.is_empty() {
                table.remove(namespace);
            }
        }
        self.save()
    }

    /// Writes the current table; the caller holds `persist`.
    fn save(&self) -> Result<(), KvError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let text = {
            let table = self.table.read();
            serde_json::to_vec_pretty(&FileFormat {
                config_table: table.clone(),
            })
            .expect("string maps always serialize")
        };
        ferromq_durable::write_atomic(path, &text).map_err(|source| KvError::Write {
            path: path.clone(),
            source,
        })
    }
}

fn load(path: &Path) -> Result<Table, KvError> {
    let bytes = match ferromq_durable::read_optional(path) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Table::new()),
        Err(source) => {
            return Err(KvError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    serde_json::from_slice::<FileFormat>(&bytes)
        .map(|f| f.config_table)
        .map_err(|source| KvError::Parse {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn values_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("namesrv").join("kvConfig.json");
        let kv = KvStore::open(Some(path.clone())).expect("opens empty");
        kv.put("ORDER_TOPIC_CONFIG", "T", "broker-a:4")
            .expect("put");
        kv.put("ns", "k1", "v1").expect("put");
        kv.put("ns", "k2", "v2").expect("put");
        kv.delete("ns", "k1").expect("delete");
        drop(kv);

        let kv = KvStore::open(Some(path.clone())).expect("reopens");
        assert_eq!(
            kv.get("ORDER_TOPIC_CONFIG", "T").as_deref(),
            Some("broker-a:4")
        );
        assert_eq!(kv.get("ns", "k1"), None);
        assert_eq!(kv.namespace("ns").expect("ns").len(), 1);
        kv.delete("ns", "k2").expect("delete");
        assert!(kv.namespace("ns").is_none());
        assert!(!path.with_file_name("kvConfig.json.tmp").exists());
    }

    #[test]
    fn reads_the_java_file_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kvConfig.json");
        fs::write(&path, r#"{"configTable":{"ns":{"a":"1"}}}"#).expect("write");
        let kv = KvStore::open(Some(path.clone())).expect("opens");
        assert_eq!(kv.get("ns", "a").as_deref(), Some("1"));
        fs::write(&path, "not json").expect("write");
        assert!(matches!(
            KvStore::open(Some(path)),
            Err(KvError::Parse { .. })
        ));
    }
}
