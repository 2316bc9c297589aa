//! Transactions: a half message is stored invisibly (by `send`); ending the transaction commits
//! (re-puts the half message to its real topic and queue) or rolls back, and in both cases writes
//! the op message that marks the half message as done. See `crate::transaction` for the layout.

use std::net::SocketAddr;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::{RecordDraft, RecordView, SYSFLAG_TRANSACTION_MASK};
use ferromq_remoting::headers::transaction::commit_or_rollback;
use ferromq_store::PutResult;
use tracing::{debug, info};

use super::BrokerService;
use crate::error::BrokerError;
use crate::state::State;
use crate::topics::now_ms;
use crate::transaction::meters::Ending;
use crate::transaction::{edit_properties, read_record, view, HALF_TOPIC, OP_TOPIC, REMOVE_TAG};

/// What a producer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Commit,
    Rollback,
}

impl Decision {
    /// `None` for "unknown" (and values Java ignores): the broker keeps the half message and asks
    /// again later.
    #[must_use]
    pub fn from_wire(value: i32) -> Option<Self> {
        match value {
            commit_or_rollback::COMMIT => Some(Decision::Commit),
            commit_or_rollback::ROLLBACK => Some(Decision::Rollback),
            _ => None,
        }
    }
}

/// A producer's answer about one half message.
#[derive(Debug, Clone)]
pub struct EndTransaction {
    pub producer_group: String,
    /// Where the half message is: its commit-log offset and its offset in the half queue.
    pub commit_log_offset: i64,
    pub half_queue_offset: i64,
    /// The message id the producer knows (logged only).
    pub msg_id: String,
    /// `None`: still unknown; the half message stays and the broker asks again later.
    pub decision: Option<Decision>,
    /// The answer to a CHECK_TRANSACTION_STATE rather than the producer's own end.
    pub from_check: bool,
    pub producer: SocketAddr,
}

impl BrokerService {
    /// Applies a producer's decision to the half message the request names.
    ///
    /// # Errors
    /// Replica refusals; `Missing` (SYSTEM_ERROR, with Java's remarks) when the offsets do not name
    /// a half message of this producer group; store errors.
    pub fn end_transaction(&self, req: &EndTransaction) -> Result<(), BrokerError> {
        self.check_writable()?;
        let Some(decision) = req.decision else {
            debug!(peer = %req.producer, msg_id = %req.msg_id, from_check = req.from_check, "transaction state still unknown");
            return Ok(());
        };
        if req.from_check {
            info!(peer = %req.producer, msg_id = %req.msg_id, ?decision, "producer answered a transaction check");
        }
        end(&self.state, req, decision)
    }
}

fn end(s: &State, h: &EndTransaction, decision: Decision) -> Result<(), BrokerError> {
    let not_found = || BrokerError::Missing("Find prepared transaction message failed".into());
    let offset = u64::try_from(h.commit_log_offset).map_err(|_| not_found())?;
    let bytes = read_record(&s.store, offset).map_err(|_| not_found())?;
    let half = view(&bytes)?;
    if half.topic != HALF_TOPIC {
        return Err(not_found());
    }
    if properties::get(half.properties, keys::PRODUCER_GROUP) != Some(h.producer_group.as_str()) {
        return Err(BrokerError::Missing("The producer group wrong".into()));
    }
    if i64::try_from(half.queue_offset).ok() != Some(h.half_queue_offset) {
        return Err(BrokerError::Missing(
            "The transaction state table offset wrong".into(),
        ));
    }
    let id = properties::get(half.properties, keys::UNIQ_KEY).unwrap_or_default();
    if s.transactions.contains(id) {
        tracing::info!(msg_id = %id, ?decision, "transaction already ended; answer ignored");
    } else {
        if decision == Decision::Commit {
            commit(s, &half)?;
        }
        let real_topic = properties::get(half.properties, keys::REAL_TOPIC).unwrap_or_default();
        let how = match decision {
            Decision::Commit => Ending::Committed,
            Decision::Rollback => Ending::RolledBack,
        };
        s.stats.transactions.ended(real_topic, how);
    }
    s.transactions.insert(id);
    write_op(s, half.queue_id, half.queue_offset)?;
    let kind = match decision {
        Decision::Commit => crate::trace::Kind::Committed,
        Decision::Rollback => crate::trace::Kind::RolledBack,
    };
    crate::trace::hooks::step(
        s.trace.as_deref(),
        kind,
        &half,
        &h.producer_group,
        "",
        format!("fromCheck={}", h.from_check),
    );
    tracing::debug!(
        ?decision,
        msg_id = %h.msg_id,
        half_offset = half.queue_offset,
        from_check = h.from_check,
        "transaction ended"
    );
    Ok(())
}

/// The committed message: the half message back in its real topic and queue, without the
/// transaction bookkeeping properties, flagged as a committed transaction message.
fn commit(s: &State, half: &RecordView<'_>) -> Result<PutResult, BrokerError> {
    let topic = properties::get(half.properties, keys::REAL_TOPIC)
        .ok_or_else(|| BrokerError::Missing("half message without REAL_TOPIC".into()))?;
    let queue_id = properties::get(half.properties, keys::REAL_QUEUE_ID)
        .and_then(|q| q.parse::<u32>().ok())
        .ok_or_else(|| BrokerError::Missing("half message without REAL_QID".into()))?;
    let props = edit_properties(
        half.properties,
        &[
            keys::REAL_TOPIC,
            keys::REAL_QUEUE_ID,
            keys::TRANSACTION_PREPARED,
        ],
        &[],
    );
    // The topic may have shrunk since the half message was stored.
    let queues = s
        .topics
        .get(topic)
        .map_or(1, |t| t.write_queue_nums.max(t.read_queue_nums).max(1));
    let queue_id = queue_id.min(u32::try_from(queues - 1).unwrap_or(0));
    let committed = RecordDraft {
        topic,
        queue_id,
        flag: half.flag,
        sys_flag: (half.sys_flag & !SYSFLAG_TRANSACTION_MASK) | commit_or_rollback::COMMIT,
        born_timestamp: half.born_timestamp,
        born_host: half.born_host,
        store_host: half.store_host,
        reconsume_times: half.reconsume_times,
        prepared_transaction_offset: i64::try_from(half.physical_offset).unwrap_or(i64::MAX),
        body: half.body,
        properties: &props,
    };
    super::put_message(s, &committed)
}

/// Marks the half message at `half_offset` of half queue `queue_id` as done.
fn write_op(s: &State, queue_id: u32, half_offset: u64) -> Result<(), BrokerError> {
    s.topics.ensure_internal(OP_TOPIC, 1)?;
    let body = half_offset.to_string();
    let props = properties::encode([(keys::TAGS, REMOVE_TAG), (keys::WAIT_STORE_MSG_OK, "false")]);
    let uniq = crate::uniq_key::generate(s.advertised);
    let props = edit_properties(&props, &[], &[(keys::UNIQ_KEY, &uniq)]);
    s.store.put(&RecordDraft {
        topic: OP_TOPIC,
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: now_ms(),
        born_host: s.advertised,
        store_host: s.advertised,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: body.as_bytes(),
        properties: &props,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_from_the_wire() {
        assert_eq!(Decision::from_wire(8), Some(Decision::Commit));
        assert_eq!(Decision::from_wire(12), Some(Decision::Rollback));
        assert_eq!(Decision::from_wire(0), None);
        assert_eq!(Decision::from_wire(4), None);
    }
}
