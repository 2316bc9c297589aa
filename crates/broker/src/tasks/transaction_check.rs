//! The check scan: every `transactionCheckInterval`, walk the half queue from where the last scan
//! stopped, skip half messages that have an op message, and for each one older than
//! `transactionTimeOut` either ask a producer of its group (CHECK_TRANSACTION_STATE, oneway) or,
//! after `transactionCheckMax` checks, move it to `TRANS_CHECK_MAX_TIME_TOPIC`.
//!
//! A checked half message is stored again with its check count bumped, and the producer is asked
//! about that copy; the scan moves past the old copy for good. So the count survives restarts, and
//! the answer (END_TRANSACTION with the copy's offsets) ends the transaction.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, RecordDraft, RecordView};
use ferromq_remoting::headers::transaction::CheckTransactionStateRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode};
use ferromq_store::{GetStatus, QueueRead, TagFilter};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::BrokerError;
use crate::state::State;
use crate::topics::now_ms;
use crate::transaction::{
    edit_properties, view, CHECK_IMMUNITY_SECS, CHECK_MAX_TOPIC, CHECK_TIMES, HALF_TOPIC, OP_TOPIC,
    SYSTEM_GROUP,
};

/// Op messages read per store call.
const OP_BATCH: usize = 32;

/// A question for a producer group, built by the scan and sent after it.
#[derive(Debug)]
pub(crate) struct CheckRequest {
    pub group: String,
    pub header: CheckTransactionStateRequestHeader,
    /// The half message as a stored record, under its real topic and queue.
    pub body: Vec<u8>,
}

impl CheckRequest {
    /// The check for producers of other protocols (see `transaction::relay`).
    fn neutral(&self) -> crate::transaction::relay::TransactionCheck {
        crate::transaction::relay::TransactionCheck {
            producer_group: self.group.clone(),
            commit_log_offset: u64::try_from(self.header.commit_log_offset).unwrap_or(0),
            half_queue_offset: u64::try_from(self.header.tran_state_table_offset).unwrap_or(0),
            record: self.body.clone().into(),
        }
    }
}

/// Runs a scan every `transactionCheckInterval` until cancelled.
pub(crate) async fn run(state: Arc<State>, token: CancellationToken) {
    let period = Duration::from_millis(state.config.transaction_check_interval_ms.max(1));
    let mut turn = 0usize;
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        if !state.role.is_master() {
            // Controller mode, not the master now: the master checks.
            continue;
        }
        let s = state.clone();
        let checks = match tokio::task::spawn_blocking(move || scan(&s, now_ms())).await {
            Ok(Ok(checks)) => checks,
            Ok(Err(e)) => {
                warn!(error = %e, "transaction check scan failed");
                continue;
            }
            Err(e) => {
                warn!(error = %e, "transaction check task failed");
                continue;
            }
        };
        for check in checks {
            turn = turn.wrapping_add(1);
            send(&state, check, turn).await;
        }
    }
}

/// Sends a check to one live producer of the group, rotating over them.
async fn send(s: &State, check: CheckRequest, turn: usize) {
    let producers = s.clients.producer_channels(&check.group);
    let live: Vec<_> = producers
        .into_iter()
        .filter(|c| !c.connection.is_closed())
        .collect();
    let Some(channel) = live.get(turn % live.len().max(1)) else {
        if s.check_relays.offer(&check.neutral()) {
            return;
        }
        warn!(group = %check.group, msg_id = ?check.header.msg_id, "no producer of the group online to check a transaction");
        return;
    };
    let mut cmd =
        RemotingCommand::request(RequestCode::CHECK_TRANSACTION_STATE).with_header(&check.header);
    cmd.body = Some(check.body.into());
    if let Err(e) = channel.connection.send_oneway(cmd).await {
        debug!(group = %check.group, peer = %channel.connection.peer_addr(), error = %e, "transaction check not sent");
    }
}

/// One pass over every half queue; returns the checks to send. `start_ms` is the scan's start:
/// copies stored by this pass (or later) wait for the next one.
///
/// # Errors
/// Store errors.
pub(crate) fn scan(s: &State, start_ms: i64) -> Result<Vec<CheckRequest>, BrokerError> {
    let mut checks = Vec::new();
    for queue_id in s.store.queue_ids(HALF_TOPIC) {
        scan_queue(s, queue_id, start_ms, &mut checks)?;
    }
    Ok(checks)
}

fn scan_queue(
    s: &State,
    queue_id: u32,
    start_ms: i64,
    checks: &mut Vec<CheckRequest>,
) -> Result<(), BrokerError> {
    let half_min = s.store.min_queue_offset(HALF_TOPIC, queue_id);
    let half_from = s
        .offsets
        .query(SYSTEM_GROUP, HALF_TOPIC, queue_id)
        .unwrap_or(half_min)
        .max(half_min);
    let op_min = s.store.min_queue_offset(OP_TOPIC, queue_id);
    let op_from = s
        .offsets
        .query(SYSTEM_GROUP, OP_TOPIC, queue_id)
        .unwrap_or(op_min)
        .max(op_min);
    let ops = read_ops(s, queue_id, op_from)?;
    let done: HashSet<u64> = ops.iter().flat_map(|(_, o)| o.iter().copied()).collect();
    let half_end = s.store.max_queue_offset(HALF_TOPIC, queue_id);
    let mut next = half_from;
    while next < half_end {
        if done.contains(&next) {
            next += 1;
            continue;
        }
        let Some(bytes) = read_at(s, HALF_TOPIC, queue_id, next)? else {
            // Gone to retention: nothing left to check.
            next += 1;
            continue;
        };
        let half = view(&bytes)?;
        let id = properties::get(half.properties, keys::UNIQ_KEY).unwrap_or_default();
        if s.transactions.contains(id) {
            // Ended while an earlier check's copy was pending: nothing to ask.
            next += 1;
            continue;
        }
        match examine(s, &half, start_ms) {
            Verdict::Wait => break,
            Verdict::Discard => discard(s, &half)?,
            Verdict::Check(times) => checks.push(recheck(s, &half, times)?),
        }
        next += 1;
    }
    if next != half_from {
        s.offsets.commit(SYSTEM_GROUP, HALF_TOPIC, queue_id, next);
    }
    // An op message is finished once every half offset it names is behind the scan.
    let mut op_next = op_from;
    for (op_offset, halves) in &ops {
        if *op_offset != op_next || halves.iter().any(|h| *h >= next) {
            break;
        }
        op_next += 1;
    }
    if op_next != op_from {
        s.offsets.commit(SYSTEM_GROUP, OP_TOPIC, queue_id, op_next);
    }
    Ok(())
}

enum Verdict {
    /// Too young (or stored by this pass); so is everything after it.
    Wait,
    Discard,
    /// Ask the producer; the value is the new check count.
    Check(u32),
}

fn examine(s: &State, half: &RecordView<'_>, start_ms: i64) -> Verdict {
    let checked: u32 = properties::get(half.properties, CHECK_TIMES)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if checked >= s.config.transaction_check_max {
        return Verdict::Discard;
    }
    if half.store_timestamp >= start_ms {
        return Verdict::Wait;
    }
    let timeout = i64::try_from(s.config.transaction_timeout_ms).unwrap_or(i64::MAX);
    let immunity = properties::get(half.properties, CHECK_IMMUNITY_SECS)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(timeout, |secs| secs.saturating_mul(1000).max(timeout));
    let age = now_ms() - half.born_timestamp;
    // A born time in the future (clock skew) does not hold the queue up.
    if (0..=immunity).contains(&age) {
        return Verdict::Wait;
    }
    Verdict::Check(checked + 1)
}

/// Stores the half message again with its check count, and builds the question about the copy.
fn recheck(s: &State, half: &RecordView<'_>, times: u32) -> Result<CheckRequest, BrokerError> {
    let count = times.to_string();
    let props = edit_properties(half.properties, &[], &[(CHECK_TIMES, &count)]);
    let copy = RecordDraft {
        topic: HALF_TOPIC,
        queue_id: half.queue_id,
        flag: half.flag,
        sys_flag: half.sys_flag,
        born_timestamp: half.born_timestamp,
        born_host: half.born_host,
        store_host: half.store_host,
        reconsume_times: half.reconsume_times,
        prepared_transaction_offset: half.prepared_transaction_offset,
        body: half.body,
        properties: &props,
    };
    let put = s.store.put(&copy)?;
    let stored = put
        .records
        .first()
        .ok_or_else(|| BrokerError::Missing("re-put half message not stored".into()))?;
    let uniq = properties::get(half.properties, keys::UNIQ_KEY).map(str::to_owned);
    let group = properties::get(half.properties, keys::PRODUCER_GROUP)
        .unwrap_or_default()
        .to_owned();
    let real_topic = properties::get(half.properties, keys::REAL_TOPIC).unwrap_or(HALF_TOPIC);
    let real_queue = properties::get(half.properties, keys::REAL_QUEUE_ID)
        .and_then(|q| q.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    record::encode(
        &RecordDraft {
            topic: real_topic,
            queue_id: real_queue,
            ..copy
        },
        usize::MAX,
        &mut body,
    )
    .map_err(|e| BrokerError::Missing(format!("cannot encode a half message: {e}")))?;
    record::patch_store_fields(
        &mut body,
        stored.queue_offset,
        stored.physical_offset,
        stored.store_timestamp,
    );
    info!(%group, real_topic, msg_id = ?uniq, check = times, "checking transaction state");
    crate::trace::hooks::step(
        s.trace.as_deref(),
        crate::trace::Kind::Checked,
        half,
        &group,
        "",
        format!("check={times}"),
    );
    Ok(CheckRequest {
        group,
        header: CheckTransactionStateRequestHeader {
            topic: Some(HALF_TOPIC.to_owned()),
            tran_state_table_offset: i64::try_from(stored.queue_offset).unwrap_or(i64::MAX),
            commit_log_offset: i64::try_from(stored.physical_offset).unwrap_or(i64::MAX),
            msg_id: uniq.clone(),
            transaction_id: uniq,
            offset_msg_id: Some(offset_msg_id(s.advertised, stored.physical_offset)),
            broker_name: Some(s.config.broker_name.clone()),
        },
        body,
    })
}

/// Moves a half message checked too often to `TRANS_CHECK_MAX_TIME_TOPIC`, where admin tools can
/// still find it.
fn discard(s: &State, half: &RecordView<'_>) -> Result<(), BrokerError> {
    s.topics.ensure_internal(CHECK_MAX_TOPIC, 1)?;
    s.store.put(&RecordDraft {
        topic: CHECK_MAX_TOPIC,
        queue_id: 0,
        flag: half.flag,
        sys_flag: half.sys_flag,
        born_timestamp: half.born_timestamp,
        born_host: half.born_host,
        store_host: half.store_host,
        reconsume_times: half.reconsume_times,
        prepared_transaction_offset: half.prepared_transaction_offset,
        body: half.body,
        properties: half.properties,
    })?;
    s.stats.transactions.ended(
        properties::get(half.properties, keys::REAL_TOPIC).unwrap_or_default(),
        crate::transaction::meters::Ending::Discarded,
    );
    crate::trace::hooks::step(
        s.trace.as_deref(),
        crate::trace::Kind::Discarded,
        half,
        properties::get(half.properties, keys::PRODUCER_GROUP).unwrap_or_default(),
        "",
        format!("movedTo={CHECK_MAX_TOPIC}"),
    );
    warn!(
        real_topic = ?properties::get(half.properties, keys::REAL_TOPIC),
        msg_id = ?properties::get(half.properties, keys::UNIQ_KEY),
        group = ?properties::get(half.properties, keys::PRODUCER_GROUP),
        max = s.config.transaction_check_max,
        "transaction never resolved; half message discarded to {CHECK_MAX_TOPIC}"
    );
    Ok(())
}

/// The stored record at a queue offset, `None` when retention removed it.
fn read_at(
    s: &State,
    topic: &str,
    queue_id: u32,
    offset: u64,
) -> Result<Option<bytes::Bytes>, BrokerError> {
    let filter = TagFilter::All;
    let got = s.store.get_messages(&QueueRead {
        topic,
        queue_id,
        from: offset,
        max_msgs: 1,
        max_bytes: usize::MAX,
        filter: &filter,
    })?;
    Ok(match got.status {
        GetStatus::Found if got.queue_offsets.first() == Some(&offset) => {
            got.messages.into_iter().next()
        }
        _ => None,
    })
}

/// Op messages from `from` to the queue's end: (op queue offset, half offsets it ends).
fn read_ops(s: &State, queue_id: u32, from: u64) -> Result<Vec<(u64, Vec<u64>)>, BrokerError> {
    let filter = TagFilter::All;
    let end = s.store.max_queue_offset(OP_TOPIC, queue_id);
    let mut out = Vec::new();
    let mut at = from;
    while at < end {
        let got = s.store.get_messages(&QueueRead {
            topic: OP_TOPIC,
            queue_id,
            from: at,
            max_msgs: OP_BATCH,
            max_bytes: usize::MAX,
            filter: &filter,
        })?;
        if got.messages.is_empty() {
            // Retention removed the rest, or nothing readable: op messages only ever shrink work.
            if got.next_offset <= at {
                break;
            }
            at = got.next_offset;
            continue;
        }
        for (bytes, offset) in got.messages.iter().zip(&got.queue_offsets) {
            let op = view(bytes)?;
            // Java 5 batches several offsets per op message, comma-separated.
            let halves = std::str::from_utf8(op.body)
                .unwrap_or_default()
                .split(',')
                .filter_map(|o| o.trim().parse().ok())
                .collect();
            out.push((*offset, halves));
        }
        at = got.next_offset.max(at + 1);
    }
    Ok(out)
}
