//! Admin-tool requests: topics (17, 215, 351, 21), runtime info (28), statistics (202, 208),
//! connections (203) and who consumes a topic (300).

use std::collections::BTreeMap;
use std::sync::Arc;

use ferromq_remoting::body::admin::{
    Connection, ConsumeStats, ConsumerConnection, OffsetWrapper, TopicOffset, TopicStatsTable,
};
use ferromq_remoting::body::lists::{GroupList, KvTable};
use ferromq_remoting::body::lock::MessageQueue;
use ferromq_remoting::body::register::{TopicConfig, TopicFilterType};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::{
    CreateTopicRequestHeader, GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader,
    TopicRequestHeader,
};
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::service::BrokerService;
use crate::state::State;

fn wire(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `+key=value,+key2=value2` (the `+` marks an addition; `-key` removals are ignored here).
fn parse_attributes(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|item| item.trim().strip_prefix('+'))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub(crate) fn create_topic(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: CreateTopicRequestHeader = req.decode_header()?;
    let filter = match h.topic_filter_type.as_str() {
        "MULTI_TAG" => TopicFilterType::MultiTag,
        _ => TopicFilterType::SingleTag,
    };
    let config = TopicConfig {
        topic_name: h.topic,
        read_queue_nums: h.read_queue_nums,
        write_queue_nums: h.write_queue_nums,
        perm: h.perm,
        topic_filter_type: Some(filter),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        order: h.order,
        attributes: parse_attributes(h.attributes.as_deref().unwrap_or("")),
    };
    service.create_topic(config, &h.default_topic)?;
    Ok(ok(req))
}

pub(crate) fn delete_topic(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: TopicRequestHeader = req.decode_header()?;
    service.delete_topic(&h.topic)?;
    Ok(ok(req))
}

pub(crate) fn topic_config(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: TopicRequestHeader = req.decode_header()?;
    Ok(ok(req).with_body(service.topic(&h.topic)?.to_json()))
}

pub(crate) fn all_topic_config(s: &State, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(s.topics.wrapper().to_json()))
}

pub(crate) fn runtime_info(s: &Arc<State>, req: &RemotingCommand) -> Reply {
    let mut table = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        table.insert(k.to_owned(), v);
    };
    put("brokerVersionDesc", "V5_3_3".into());
    put(
        "brokerVersion",
        ferromq_remoting::version::CURRENT.to_string(),
    );
    put("brokerActive", "true".into());
    put("msgPutTotalTodayNow", s.stats.put_total().to_string());
    put("msgGetTotalTodayNow", s.stats.got_total().to_string());
    put("msgPutTotalTodayMorning", "0".into());
    put("msgGetTotalTodayMorning", "0".into());
    put("msgPutTotalYesterdayMorning", "0".into());
    put("msgGetTotalYesterdayMorning", "0".into());
    let tps = |item| {
        let [ten, minute, ten_minutes] = s.stats.broker_rates(item);
        format!("{ten:.2} {minute:.2} {ten_minutes:.2}")
    };
    put("putTps", tps(crate::stats::StatsItem::TopicPutNums));
    put(
        "getTransferredTps",
        tps(crate::stats::StatsItem::GroupGetNums),
    );
    put("bootTimestamp", s.started_ms.to_string());
    put("commitLogMaxOffset", s.store.written_offset().to_string());
    put(
        "commitLogMinOffset",
        s.store.min_physical_offset().to_string(),
    );
    put("dispatchMaxBuffer", "0".into());
    put("pullThreadPoolQueueSize", s.long_poll.parked().to_string());
    put("topicCount", s.topics.len().to_string());
    put("flushDiskType", format!("{:?}", s.config.flush_disk_type));
    let role = match s.role.current() {
        crate::config::BrokerRole::AsyncMaster => "ASYNC_MASTER",
        crate::config::BrokerRole::SyncMaster => "SYNC_MASTER",
        crate::config::BrokerRole::Slave => "SLAVE",
    };
    put("brokerRole", role.into());
    put("brokerId", s.role.namesrv_id().to_string());
    put("masterEpoch", s.role.epoch().to_string());
    Ok(ok(req).with_body(KvTable { table }.to_json()))
}

pub(crate) fn topic_stats(service: &BrokerService, s: &State, req: &RemotingCommand) -> Reply {
    let h: TopicRequestHeader = req.decode_header()?;
    let t = service.topic(&h.topic)?;
    let mut offset_table = BTreeMap::new();
    let queues = u32::try_from(t.read_queue_nums.max(t.write_queue_nums)).unwrap_or(0);
    for q in 0..queues {
        let max = s.store.max_queue_offset(&h.topic, q);
        let last = max
            .checked_sub(1)
            .map(|o| s.store.message_store_time(&h.topic, q, o))
            .transpose()?
            .flatten()
            .unwrap_or(0);
        offset_table.insert(
            mq(s, &h.topic, q),
            TopicOffset {
                last_update_timestamp: last,
                max_offset: wire(max),
                min_offset: wire(s.store.min_queue_offset(&h.topic, q)),
            },
        );
    }
    Ok(ok(req).with_body(
        TopicStatsTable {
            offset_table,
            topic_put_tps: 0.0,
        }
        .to_json(),
    ))
}

fn mq(s: &State, topic: &str, queue_id: u32) -> MessageQueue {
    MessageQueue {
        broker_name: s.config.broker_name.clone(),
        queue_id: i32::try_from(queue_id).unwrap_or(i32::MAX),
        topic: topic.to_owned(),
    }
}

pub(crate) fn consume_stats(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetConsumeStatsRequestHeader = req.decode_header()?;
    let topics: Vec<String> = match (&h.topic, &h.topic_list) {
        (Some(t), _) if !t.is_empty() => vec![t.clone()],
        (_, Some(list)) if !list.is_empty() => list.split(',').map(str::to_owned).collect(),
        _ => s
            .offsets
            .topics_of_group(&h.consumer_group)
            .into_iter()
            .collect(),
    };
    let mut offset_table = BTreeMap::new();
    for topic in topics {
        let Some(t) = s.topics.get(&topic) else {
            continue;
        };
        for q in 0..u32::try_from(t.read_queue_nums).unwrap_or(0) {
            let committed = s.offsets.query(&h.consumer_group, &topic, q);
            let last = committed
                .and_then(|c| c.checked_sub(1))
                .map(|o| s.store.message_store_time(&topic, q, o))
                .transpose()?
                .flatten()
                .unwrap_or(0);
            let pulled = s.offsets.pulled(&h.consumer_group, &topic, q);
            offset_table.insert(
                mq(s, &topic, q),
                OffsetWrapper {
                    broker_offset: wire(s.store.max_queue_offset(&topic, q)),
                    consumer_offset: wire(committed.unwrap_or(0)),
                    last_timestamp: last,
                    pull_offset: wire(committed.unwrap_or(0).max(pulled.unwrap_or(0))),
                },
            );
        }
    }
    Ok(ok(req).with_body(
        ConsumeStats {
            consume_tps: 0.0,
            offset_table,
        }
        .to_json(),
    ))
}

pub(crate) fn consumer_connections(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetConsumerConnectionListRequestHeader = req.decode_header()?;
    let g = s
        .clients
        .consumer_group(&h.consumer_group)
        .filter(|g| !g.channels.is_empty())
        .ok_or_else(|| BrokerError::ConsumerNotOnline(h.consumer_group.clone()))?;
    let body = ConsumerConnection {
        connection_set: g
            .channels
            .values()
            .map(|c| Connection {
                client_addr: c.connection.peer_addr().to_string(),
                client_id: c.client_id.clone(),
                language: c.language,
                version: c.version,
            })
            .collect(),
        consume_from_where: g.consume_from_where,
        consume_type: g.consume_type,
        message_model: g.message_model,
        subscription_table: g.subscriptions.into_iter().collect(),
    };
    Ok(ok(req).with_body(body.to_json()))
}

pub(crate) fn consumed_by(s: &State, req: &RemotingCommand) -> Reply {
    let h: TopicRequestHeader = req.decode_header()?;
    let mut groups = s.clients.groups_subscribed_to(&h.topic);
    groups.extend(s.offsets.groups_of_topic(&h.topic));
    Ok(ok(req).with_body(
        GroupList {
            group_list: groups.into_iter().collect(),
        }
        .to_json(),
    ))
}
