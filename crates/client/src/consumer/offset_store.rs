//! Consumer offsets as the push consumer keeps them: in memory per queue, persisted to the broker
//! (clustering: UPDATE_CONSUMER_OFFSET, oneway, Java's `RemoteBrokerOffsetStore`) or to a local
//! file (broadcasting: `<dir>/<group>/offsets.json`, Java's `LocalFileOffsetStore`, in the same
//! JSON shape: `{"offsetTable":{"<MessageQueue JSON>":offset}}`).
//!
//! Offsets are "next offset to consume".

use std::collections::HashMap;
use std::path::PathBuf;

use ferromq_remoting::body::admin::ResetOffsetBody;
use ferromq_remoting::body::JsonBody;
use parking_lot::Mutex;
use tracing::debug;

use crate::consumer::pull::Offsets;
use crate::error::ClientError;
use crate::message::MessageQueue;

#[derive(Debug)]
enum Backend {
    Broker(Offsets),
    File(PathBuf),
}

/// Offsets of one consumer group.
#[derive(Debug)]
pub(crate) struct OffsetStore {
    group: String,
    table: Mutex<HashMap<MessageQueue, u64>>,
    backend: Backend,
}

impl OffsetStore {
    /// Offsets kept by the brokers.
    pub(crate) fn broker(group: &str, offsets: Offsets) -> Self {
        Self {
            group: group.to_owned(),
            table: Mutex::new(HashMap::new()),
            backend: Backend::Broker(offsets),
        }
    }

    /// Offsets kept in `<dir>/<group>/offsets.json`, loaded now if the file exists.
    pub(crate) async fn file(group: &str, dir: PathBuf) -> Result<Self, ClientError> {
        let path = dir.join(group).join("offsets.json");
        let p = path.clone();
        let loaded = tokio::task::spawn_blocking(move || ferromq_durable::read_optional(&p))
            .await
            .map_err(|e| ClientError::OffsetFile {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?
            .map_err(|source| ClientError::OffsetFile {
                path: path.clone(),
                source,
            })?;
        let mut table = HashMap::new();
        if let Some(bytes) = loaded {
            let body = ResetOffsetBody::from_json(&bytes).map_err(|e| ClientError::OffsetFile {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
            for (q, o) in body.offset_table {
                if let (Some(mq), Ok(o)) = (MessageQueue::from_wire(&q), u64::try_from(o)) {
                    table.insert(mq, o);
                }
            }
        }
        Ok(Self {
            group: group.to_owned(),
            table: Mutex::new(table),
            backend: Backend::File(path),
        })
    }

    /// Sets the in-memory offset; with `increase_only`, never moves it backwards.
    pub(crate) fn update(&self, mq: &MessageQueue, offset: u64, increase_only: bool) {
        let mut table = self.table.lock();
        let entry = table.entry(mq.clone()).or_insert(offset);
        if !increase_only || offset > *entry {
            *entry = offset;
        }
    }

    /// The in-memory offset.
    pub(crate) fn get(&self, mq: &MessageQueue) -> Option<u64> {
        self.table.lock().get(mq).copied()
    }

    /// The persisted offset (the broker's, or the file's as loaded), cached in memory.
    pub(crate) async fn read_stored(&self, mq: &MessageQueue) -> Result<Option<u64>, ClientError> {
        match &self.backend {
            Backend::Broker(offsets) => {
                let stored = offsets.committed(&self.group, mq).await?;
                if let Some(o) = stored {
                    self.update(mq, o, false);
                }
                Ok(stored)
            }
            Backend::File(_) => Ok(self.get(mq)),
        }
    }

    /// Persists the offsets of `mqs` (every known queue for the file backend, which is written
    /// whole). Broker commits are oneway, as in Java; failures are logged.
    pub(crate) async fn persist(&self, mqs: &[MessageQueue]) -> Result<(), ClientError> {
        match &self.backend {
            Backend::Broker(offsets) => {
                for mq in mqs {
                    let Some(offset) = self.get(mq) else { continue };
                    if let Err(e) = offsets.commit_oneway(&self.group, mq, offset).await {
                        debug!(queue = %mq, error = %e, "offset commit failed");
                    }
                }
                Ok(())
            }
            Backend::File(path) => self.write_file(path.clone()).await,
        }
    }

    async fn write_file(&self, path: PathBuf) -> Result<(), ClientError> {
        let body = ResetOffsetBody {
            offset_table: self
                .table
                .lock()
                .iter()
                .map(|(mq, o)| (mq.to_wire(), i64::try_from(*o).unwrap_or(i64::MAX)))
                .collect(),
        };
        let json = body.to_json();
        let p = path.clone();
        // A crash or power cut leaves the old file or the new one, never a torn or empty file.
        tokio::task::spawn_blocking(move || ferromq_durable::write_atomic(&p, &json))
            .await
            .map_err(|e| ClientError::OffsetFile {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?
            .map_err(|source| ClientError::OffsetFile { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_store_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mq = MessageQueue::new("T", "b", 3);
        let store = OffsetStore::file("g", dir.path().to_owned())
            .await
            .expect("opens");
        assert_eq!(store.read_stored(&mq).await.expect("read"), None);
        store.update(&mq, 7, true);
        store.update(&mq, 5, true);
        assert_eq!(store.get(&mq), Some(7));
        store.update(&mq, 5, false);
        store.persist(&[]).await.expect("persist");
        let again = OffsetStore::file("g", dir.path().to_owned())
            .await
            .expect("reopens");
        assert_eq!(again.read_stored(&mq).await.expect("read"), Some(5));
        assert!(dir.path().join("g").join("offsets.json").exists());
    }
}
