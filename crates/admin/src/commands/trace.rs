//! `queryMsgTraceById`: the trace records Java clients with message tracing on write to
//! `RMQ_SYS_TRACE_TOPIC`, keyed by the traced message's id, and the broker's own records of the
//! message's steps there (`Broker...` types, see `ferromq_model::trace` and docs/trace.md).
//!
//! A trace message body holds records separated by `\u{2}`, each a list of fields separated by
//! `\u{1}`, laid out per record type as Java's `TraceDataEncoder` writes them:
//!
//! - `Pub`: type, timestamp, region, group, topic, msgId, tags, keys, storeHost, bodyLength,
//!   costTime, msgType, [offsetMsgId,] success[, clientHost]
//! - `SubBefore`: type, timestamp, region, group, requestId, msgId, retryTimes, keys
//! - `SubAfter`: type, requestId, msgId, costTime, success, keys[, contextCode[, timestamp, group]]
//! - `EndTransaction`: type, timestamp, region, group, topic, msgId, tags, keys, storeHost, msgType,
//!   transactionId, transactionState, fromTransactionCheck

use serde_json::{json, Value};

use super::Ctx;
use crate::cli::QueryMsgTraceByIdArgs;
use crate::error::Failure;
use crate::report::Report;
use crate::table::Table;
use crate::time::format_ms;

const CONTENT_SPLITOR: char = '\u{1}';
const FIELD_SPLITOR: char = '\u{2}';

/// One event of a message's life, as `mqadmin queryMsgTraceById` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TraceEvent {
    pub kind: String,
    pub timestamp: i64,
    pub group: String,
    pub msg_id: String,
    pub topic: String,
    pub tags: String,
    pub keys: String,
    pub store_host: String,
    pub offset_msg_id: String,
    pub cost_time: i64,
    pub success: bool,
    /// Broker records: what the step was about (queue offset, reconsume count, delay level...).
    pub detail: String,
}

/// The records of one trace body; unknown record types and short records are skipped.
pub(crate) fn decode(body: &str) -> Vec<TraceEvent> {
    body.split(FIELD_SPLITOR)
        .filter_map(|record| {
            let f: Vec<&str> = record.split(CONTENT_SPLITOR).collect();
            let at = |i: usize| f.get(i).copied().unwrap_or_default().to_owned();
            let num = |i: usize| at(i).parse::<i64>().unwrap_or(0);
            let flag = |i: usize| at(i) == "true";
            let base = TraceEvent {
                kind: at(0),
                success: true,
                ..TraceEvent::default()
            };
            match (f.first().copied(), f.len()) {
                (Some("Pub"), n) if n >= 13 => Some(TraceEvent {
                    timestamp: num(1),
                    group: at(3),
                    topic: at(4),
                    msg_id: at(5),
                    tags: at(6),
                    keys: at(7),
                    store_host: at(8),
                    cost_time: num(10),
                    offset_msg_id: if n >= 14 { at(12) } else { String::new() },
                    success: flag(if n >= 14 { 13 } else { 12 }),
                    ..base
                }),
                (Some("SubBefore"), n) if n >= 8 => Some(TraceEvent {
                    timestamp: num(1),
                    group: at(3),
                    msg_id: at(5),
                    keys: at(7),
                    ..base
                }),
                (Some("SubAfter"), n) if n >= 6 => Some(TraceEvent {
                    msg_id: at(2),
                    cost_time: num(3),
                    success: flag(4),
                    keys: at(5),
                    timestamp: if n >= 9 { num(7) } else { 0 },
                    group: if n >= 9 { at(8) } else { String::new() },
                    ..base
                }),
                (Some("EndTransaction"), n) if n >= 11 => Some(TraceEvent {
                    timestamp: num(1),
                    group: at(3),
                    topic: at(4),
                    msg_id: at(5),
                    tags: at(6),
                    keys: at(7),
                    store_host: at(8),
                    ..base
                }),
                _ => None,
            }
        })
        .collect()
}

pub(super) async fn query_trace(
    cx: &Ctx<'_>,
    a: &QueryMsgTraceByIdArgs,
) -> Result<Report, Failure> {
    let msgs = cx
        .admin
        .query_messages_by_key(&a.trace_topic, &a.msg_id, 64)
        .await
        .map_err(|e| cx.fail(e))?;
    // The trace message's born host is the traced client's address.
    let mut events: Vec<(TraceEvent, String)> = msgs
        .iter()
        .flat_map(|m| {
            let host = m.born_host.ip().to_string();
            decode(&String::from_utf8_lossy(&m.body))
                .into_iter()
                .filter(|e| e.msg_id == a.msg_id)
                .map(move |e| (e, host.clone()))
        })
        .collect();
    // The broker's records name the client (if any) themselves.
    for m in &msgs {
        let body = String::from_utf8_lossy(&m.body);
        for e in ferromq_model::trace::Event::decode_all(&body) {
            if e.msg_id != a.msg_id {
                continue;
            }
            let detail = format!(
                "queue={} offset={} {}",
                e.queue_id, e.queue_offset, e.detail
            );
            events.push((
                TraceEvent {
                    kind: e.kind.name().to_owned(),
                    timestamp: e.at_ms,
                    group: e.group,
                    msg_id: e.msg_id,
                    topic: e.topic,
                    store_host: m.store_host.to_string(),
                    success: true,
                    detail: detail.trim_end().to_owned(),
                    ..TraceEvent::default()
                },
                e.peer,
            ));
        }
    }
    if events.is_empty() {
        return Err(Failure::not_found(
            format!("no trace of message {} in {}", a.msg_id, a.trace_topic),
            "brokers record traces unless brokerTraceEnable=false; clients only with message tracing on",
        ));
    }
    events.sort_by_key(|(e, _)| e.timestamp);
    let mut table = Table::new(&[
        "#Type",
        "#ProducerGroup/ConsumerGroup",
        "#ClientHost",
        "#SendTime/ConsumeTime",
        "#CostTimes",
        "#Status",
        "#Detail",
    ]);
    let mut traces: Vec<Value> = Vec::new();
    for (e, host) in &events {
        table.row([
            e.kind.clone(),
            e.group.clone(),
            host.clone(),
            format_ms(e.timestamp),
            format!("{}ms", e.cost_time),
            if e.success { "success" } else { "failed" }.to_owned(),
            e.detail.clone(),
        ]);
        traces.push(json!({
            "type": e.kind,
            "timestamp": e.timestamp,
            "group": e.group,
            "clientHost": host,
            "costTime": e.cost_time,
            "success": e.success,
            "topic": e.topic,
            "tags": e.tags,
            "keys": e.keys,
            "storeHost": e.store_host,
            "offsetMsgId": e.offset_msg_id,
            "detail": e.detail,
        }));
    }
    Ok(Report::new(
        json!({"msgId": a.msg_id, "traces": traces}),
        table.render(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_java_trace_records() {
        let body = "Pub\u{1}1700000000000\u{1}DefaultRegion\u{1}pg\u{1}Orders\u{1}ID1\u{1}TagA\u{1}k1\u{1}10.0.0.1:10911\u{1}5\u{1}3\u{1}0\u{1}OFF1\u{1}true\u{2}\
SubAfter\u{1}req\u{1}ID1\u{1}7\u{1}false\u{1}k1\u{1}0\u{1}1700000000100\u{1}cg\u{2}Bogus\u{1}x\u{2}";
        let events = decode(body);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].kind, "Pub");
        assert_eq!(events[0].group, "pg");
        assert_eq!(events[0].offset_msg_id, "OFF1");
        assert_eq!(events[0].cost_time, 3);
        assert!(events[0].success);
        assert_eq!(events[1].kind, "SubAfter");
        assert_eq!(
            (events[1].timestamp, events[1].group.as_str()),
            (1_700_000_000_100, "cg")
        );
        assert!(!events[1].success);
    }
}
