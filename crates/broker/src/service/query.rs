//! Looking messages up: by key through the index (business keys, or the unique key), and by
//! commit-log offset (an offset message id).

use bytes::{Bytes, BytesMut};

use super::BrokerService;
use crate::error::BrokerError;

/// Java's `maxMsgsNumBatch`, and `defaultQueryMaxNum` for unique-key queries.
const MAX_BY_KEY: usize = 64;
const MAX_BY_UNIQUE_KEY: usize = 32;

/// A search of one topic's index for a key, within a store-time range (ms since the epoch).
#[derive(Debug, Clone)]
pub struct KeyQuery {
    pub topic: String,
    pub key: String,
    /// The key is a message's unique key (at most 32 answers) rather than a business key.
    pub unique: bool,
    /// At most this many messages of a business key (clamped to 1..=64).
    pub max: i32,
    pub begin_ms: i64,
    pub end_ms: i64,
}

/// Messages found by key.
#[derive(Debug, Clone)]
pub struct FoundMessages {
    /// The stored records, back to back.
    pub records: Bytes,
    /// How far the index covers the commit log.
    pub indexed_to: u64,
}

impl BrokerService {
    /// The messages of `topic` the index lists under the key.
    ///
    /// # Errors
    /// `NotFound` when none is; store failures.
    pub fn query_by_key(&self, q: &KeyQuery) -> Result<FoundMessages, BrokerError> {
        let s = &*self.state;
        let max = if q.unique {
            MAX_BY_UNIQUE_KEY
        } else {
            usize::try_from(q.max).unwrap_or(0).clamp(1, MAX_BY_KEY)
        };
        let found = s
            .store
            .query_by_key(&q.topic, &q.key, max, q.begin_ms, q.end_ms)?;
        if found.is_empty() {
            return Err(BrokerError::NotFound(
                "can not find message, maybe time range not correct".into(),
            ));
        }
        let mut records = BytesMut::with_capacity(found.iter().map(Bytes::len).sum());
        for r in &found {
            records.extend_from_slice(r);
        }
        Ok(FoundMessages {
            records: records.freeze(),
            indexed_to: s.store.dispatched_offset(),
        })
    }

    /// The stored record at a commit-log offset.
    ///
    /// # Errors
    /// `Missing` when no record starts there.
    pub fn message_at(&self, offset: i64) -> Result<Bytes, BrokerError> {
        let missing = || BrokerError::Missing("can not find message by the offset".into());
        let offset = u64::try_from(offset).map_err(|_| missing())?;
        self.state.store.read_record(offset).map_err(|_| missing())
    }
}
