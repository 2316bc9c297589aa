//! GET_BROKER_CONFIG (26) and UPDATE_BROKER_CONFIG (25): the broker's settings as Java properties
//! text (`key=value` lines with the `broker.conf` key names). Only the keys of
//! [`crate::live_config::RUNTIME_KEYS`] can change at run time; an update naming any other key is
//! refused whole, with a remark listing the runtime keys.

use ferromq_remoting::body::JsonBody;
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::live_config::LiveConfig;
use crate::state::State;

/// The effective settings with their `broker.conf` names, sorted by name.
fn properties(c: &BrokerConfig, live: &LiveConfig) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("brokerClusterName", c.cluster_name.clone()),
        ("brokerName", c.broker_name.clone()),
        ("brokerId", c.broker_id.to_string()),
        ("namesrvAddr", c.namesrv_addrs.join(";")),
        ("listenPort", c.listen.port().to_string()),
        (
            "brokerIP1",
            c.advertised_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        ),
        ("storePathRootDir", c.store_root_dir.display().to_string()),
        ("flushDiskType", enum_name(&c.flush_disk_type)),
        ("brokerRole", enum_name(&c.broker_role)),
        ("deleteWhen", c.delete_when.clone()),
        ("fileReservedTime", c.file_reserved_time_hours.to_string()),
        (
            "diskMaxUsedSpaceRatio",
            c.disk_max_used_space_ratio.to_string(),
        ),
        ("mapedFileSizeCommitLog", c.commit_log_file_size.to_string()),
        ("maxMessageSize", live.max_message_size().to_string()),
        ("syncFlushTimeout", c.sync_flush_timeout_ms.to_string()),
        (
            "autoCreateTopicEnable",
            c.auto_create_topic_enable.to_string(),
        ),
        (
            "autoCreateSubscriptionGroup",
            live.auto_create_subscription_group().to_string(),
        ),
        (
            "defaultTopicQueueNums",
            c.default_topic_queue_nums.to_string(),
        ),
        (
            "registerNameServerPeriod",
            c.register_name_server_period_ms.to_string(),
        ),
        ("longPollingEnable", live.long_polling_enable().to_string()),
        (
            "shortPollingTimeMills",
            live.short_polling_time_ms().to_string(),
        ),
        (
            "flushConsumerOffsetInterval",
            c.flush_consumer_offset_interval_ms.to_string(),
        ),
        (
            "channelExpiredTimeout",
            c.client_channel_expired_ms.to_string(),
        ),
        ("regionId", c.region_id.clone()),
        ("traceOn", c.trace_on.to_string()),
    ];
    p.sort_by_key(|(k, _)| *k);
    p
}

/// The serde name of a unit enum variant (`ASYNC_FLUSH`, `ASYNC_MASTER`).
fn enum_name(v: &impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Java properties text: `key=value` lines. Values here never need escaping except `\`, `\n`.
fn to_properties_text(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push('=');
        out.push_str(&v.replace('\\', "\\\\").replace('\n', "\\n"));
        out.push('\n');
    }
    out
}

/// `key=value` (or `key:value`) lines; `#`/`!` comments and blank lines skipped.
fn parse_properties_text(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| {
            l.split_once(['=', ':']).map_or_else(
                || (l.to_owned(), String::new()),
                |(k, v)| (k.trim().to_owned(), v.trim().to_owned()),
            )
        })
        .collect()
}

pub(crate) fn get_broker_config(s: &State, req: &RemotingCommand) -> Reply {
    let text = to_properties_text(&properties(&s.config, &s.live));
    let mut resp = ok(req).with_body(text.into_bytes());
    // Java's GetBrokerConfigResponseHeader: the topic table's data version, as JSON text.
    resp.ext_fields.insert(
        "version".to_owned(),
        String::from_utf8_lossy(&s.topics.wrapper().data_version.to_json()).into_owned(),
    );
    Ok(resp)
}

pub(crate) fn update_broker_config(s: &State, req: &RemotingCommand) -> Reply {
    let body = req
        .body
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| BrokerError::BadBody("the properties to update are missing".into()))?;
    let text = std::str::from_utf8(body)
        .map_err(|_| BrokerError::BadBody("the properties are not UTF-8 text".into()))?;
    let pairs = parse_properties_text(text);
    s.live
        .set_all(&pairs)
        .map_err(|e| BrokerError::BadBody(e.to_string()))?;
    tracing::info!(?pairs, "broker settings changed at run time");
    Ok(ok(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_text_round_trips() {
        let c = BrokerConfig::default();
        let live = LiveConfig::new(&c);
        let text = to_properties_text(&properties(&c, &live));
        assert!(text.contains("brokerName=broker-a\n"), "{text}");
        assert!(text.contains("flushDiskType=ASYNC_FLUSH\n"), "{text}");
        let parsed = parse_properties_text(&text);
        assert!(parsed.contains(&("maxMessageSize".into(), "4194304".into())));
        assert_eq!(
            parse_properties_text("# c\n a = 1 \nb:2\n\n"),
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }
}
