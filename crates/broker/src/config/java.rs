//! A RocketMQ `broker.conf` (Java properties: `key=value` lines, `#`/`!` comments) mapped onto
//! [`BrokerConfig`] with the Java key names. An unknown key is an error naming it, so a typo never
//! silently falls back to a default. Keys that tune Java internals with no counterpart here (thread
//! pools, HA ports) are accepted and logged as ignored.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use ferromq_store::config::FlushMode;

use crate::config::java_tls::{self, ClientKeys};
use crate::config::{BrokerConfig, BrokerRole, ConfigError};

/// Java keys accepted without effect.
const IGNORED: &[&str] = &[
    "brokerIP2",
    "haListenPort",
    "sendMessageThreadPoolNums",
    "pullMessageThreadPoolNums",
    "useReentrantLockWhenPutMessage",
    "waitTimeMillsInSendQueue",
    "osPageCacheBusyTimeOutMills",
    "transientStorePoolEnable",
    "warmMapedFileEnable",
    "enablePropertyFilter",
    "aclEnable",
];

/// Parses broker.conf text.
///
/// # Errors
/// `UnknownKey` or `BadValue`, naming the key and `file`.
pub fn parse(text: &str, file: &str) -> Result<BrokerConfig, ConfigError> {
    let mut c = BrokerConfig::default();
    let mut tls_client = ClientKeys::default();
    for (key, value) in properties(text) {
        if !java_tls::apply(&mut c, &mut tls_client, key, value, file)? {
            apply(&mut c, key, value, file)?;
        }
    }
    c.tls_client = tls_client.finish(file)?;
    Ok(c)
}

/// The `key=value` (or `key: value`) pairs of a properties text, comments and blank lines skipped.
pub(crate) fn properties(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            return None;
        }
        Some(
            line.split_once(['=', ':'])
                .map_or((line, ""), |(k, v)| (k.trim(), v.trim())),
        )
    })
}

fn apply(c: &mut BrokerConfig, key: &str, value: &str, file: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError::BadValue {
        key: key.into(),
        value: value.into(),
        file: file.into(),
        why: why.into(),
    };
    match key {
        "brokerClusterName" => c.cluster_name = value.into(),
        "authenticationEnabled"
        | "authorizationEnabled"
        | "initAuthenticationUser"
        | "innerClientAuthenticationCredentials" => {
            super::auth::apply_java(c, key, value).map_err(|why| bad(&why))?;
        }
        "brokerName" => c.broker_name = value.into(),
        "brokerId" => c.broker_id = num(value).map_err(|()| bad("an integer"))?,
        "namesrvAddr" => {
            c.namesrv_addrs = value
                .split(';')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
        }
        "listenPort" => {
            let port: u16 = num(value).map_err(|()| bad("a port number"))?;
            c.listen = SocketAddr::new(c.listen.ip(), port);
        }
        "brokerIP1" => {
            c.advertised_ip = Some(IpAddr::from_str(value).map_err(|_| bad("an IP address"))?);
        }
        "storePathRootDir" => c.store_root_dir = PathBuf::from(value),
        "flushDiskType" => {
            c.flush_disk_type = match value {
                "ASYNC_FLUSH" => FlushMode::AsyncFlush,
                "SYNC_FLUSH" => FlushMode::SyncFlush,
                _ => return Err(bad("ASYNC_FLUSH or SYNC_FLUSH")),
            };
        }
        "brokerRole" => {
            c.broker_role = match value {
                "ASYNC_MASTER" => BrokerRole::AsyncMaster,
                "SYNC_MASTER" => BrokerRole::SyncMaster,
                "SLAVE" => BrokerRole::Slave,
                _ => return Err(bad("ASYNC_MASTER, SYNC_MASTER or SLAVE")),
            };
        }
        "brokerTraceEnable" => {
            c.broker_trace_enable = flag(value).ok_or_else(|| bad("true or false"))?;
        }
        "haListenPort" => c.ha_listen_port = Some(num(value).map_err(|()| bad("a port"))?),
        "grpcListenPort" => c.grpc_listen_port = Some(num(value).map_err(|()| bad("a port"))?),
        "metricsListenPort" => {
            c.metrics_listen_port = Some(num(value).map_err(|()| bad("a port"))?);
        }
        "grpcTlsCertPath" => {
            c.grpc_tls_cert = Some(PathBuf::from(value)).filter(|_| !value.is_empty())
        }
        "grpcTlsKeyPath" => {
            c.grpc_tls_key = Some(PathBuf::from(value)).filter(|_| !value.is_empty())
        }
        "haMasterAddress" => {
            c.ha_master_address = Some(value.to_owned()).filter(|v| !v.is_empty());
        }
        "minInSyncReplicas" | "inSyncReplicas" => {
            c.min_in_sync_replicas = num(value).map_err(|()| bad("a count"))?;
        }
        "enableControllerMode" => {
            c.enable_controller_mode = flag(value).ok_or_else(|| bad("true or false"))?;
        }
        "controllerAddr" => {
            c.controller_addrs = value
                .split(';')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
        }
        "brokerHeartbeatInterval" => {
            c.broker_heartbeat_interval_ms = num(value).map_err(|()| bad("milliseconds"))?;
        }
        "controllerLeaseMs" => {
            c.controller_lease_ms = num(value).map_err(|()| bad("milliseconds"))?;
        }
        "haMaxGapNotInSync" => c.ha_max_gap_not_in_sync = num(value).map_err(|()| bad("bytes"))?,
        "haHousekeepingInterval" => {
            c.ha_housekeeping_interval_ms = num(value).map_err(|()| bad("milliseconds"))?;
        }
        "deleteWhen" => c.delete_when = value.into(),
        "fileReservedTime" => {
            c.file_reserved_time_hours = num(value).map_err(|()| bad("hours"))?;
        }
        "diskMaxUsedSpaceRatio" => {
            c.disk_max_used_space_ratio = num(value).map_err(|()| bad("a percentage"))?;
        }
        "mapedFileSizeCommitLog" | "mappedFileSizeCommitLog" => {
            c.commit_log_file_size = num(value).map_err(|()| bad("bytes"))?;
        }
        "maxMessageSize" => c.max_message_size = num(value).map_err(|()| bad("bytes"))?,
        "syncFlushTimeout" => c.sync_flush_timeout_ms = num(value).map_err(|()| bad("ms"))?,
        "maxOpenQueueFiles" => {
            c.max_open_queue_files = num(value).map_err(|()| bad("a file count"))?;
        }
        "autoCreateTopicEnable" => {
            c.auto_create_topic_enable = flag(value).ok_or_else(|| bad("true or false"))?
        }
        "autoCreateSubscriptionGroup" => {
            c.auto_create_subscription_group = flag(value).ok_or_else(|| bad("true or false"))?;
        }
        "defaultTopicQueueNums" => {
            c.default_topic_queue_nums = num(value).map_err(|()| bad("a queue count"))?;
        }
        "registerNameServerPeriod" => {
            c.register_name_server_period_ms = num(value).map_err(|()| bad("ms"))?;
        }
        "compressedRegister" => {
            c.compressed_register = flag(value).ok_or_else(|| bad("true or false"))?;
        }
        "longPollingEnable" => {
            c.long_polling_enable = flag(value).ok_or_else(|| bad("true or false"))?
        }
        "shortPollingTimeMills" => c.short_polling_time_ms = num(value).map_err(|()| bad("ms"))?,
        "flushConsumerOffsetInterval" => {
            c.flush_consumer_offset_interval_ms = num(value).map_err(|()| bad("ms"))?;
        }
        "channelExpiredTimeout" => {
            c.client_channel_expired_ms = num(value).map_err(|()| bad("ms"))?;
        }
        "transactionCheckInterval" => {
            c.transaction_check_interval_ms = num(value).map_err(|()| bad("ms"))?;
        }
        "transactionTimeOut" => c.transaction_timeout_ms = num(value).map_err(|()| bad("ms"))?,
        "transactionCheckMax" => {
            c.transaction_check_max = num(value).map_err(|()| bad("a count"))?;
        }
        "messageDelayLevel" => c.message_delay_level = value.into(),
        "timerWheelEnable" => {
            c.timer_wheel_enable = flag(value).ok_or_else(|| bad("true or false"))?;
        }
        "timerPrecisionMs" => c.timer_precision_ms = num(value).map_err(|()| bad("ms"))?,
        "timerRollWindowSlot" => {
            c.timer_roll_window_slot = num(value).map_err(|()| bad("a slot count"))?;
        }
        "timerMaxDelaySec" => c.timer_max_delay_sec = num(value).map_err(|()| bad("seconds"))?,
        "timerFlushIntervalMs" => {
            c.timer_flush_interval_ms = num(value).map_err(|()| bad("ms"))?;
        }
        "mappedFileSizeTimerLog" => {
            c.mapped_file_size_timer_log = num(value).map_err(|()| bad("bytes"))?;
        }
        "regionId" => c.region_id = value.into(),
        "traceOn" => c.trace_on = flag(value).ok_or_else(|| bad("true or false"))?,
        "slaveReadEnable" => {
            c.slave_read_enable = flag(value).ok_or_else(|| bad("true or false"))?;
        }
        "accessMessageInMemoryMaxRatio" => {
            c.access_message_in_memory_max_ratio = num(value).map_err(|()| bad("a percentage"))?;
        }
        k if IGNORED.contains(&k) => {
            tracing::warn!(
                key = k,
                file,
                "broker.conf key has no effect in ferromq; ignored"
            );
        }
        _ => {
            return Err(ConfigError::UnknownKey {
                key: key.into(),
                file: file.into(),
            })
        }
    }
    Ok(())
}

fn num<T: FromStr>(value: &str) -> Result<T, ()> {
    value.parse().map_err(|_| ())
}

fn flag(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `conf/broker.conf` shipped with RocketMQ, plus common additions.
    const JAVA_CONF: &str = "\
# comment
brokerClusterName = DefaultCluster
brokerName = broker-b
brokerId = 0
deleteWhen = 04
fileReservedTime = 48
brokerRole = ASYNC_MASTER
flushDiskType = SYNC_FLUSH
namesrvAddr=10.0.0.1:9876;10.0.0.2:9876
listenPort=10921
brokerIP1=192.168.1.5
storePathRootDir=/data/rocketmq/store
autoCreateTopicEnable=false
defaultTopicQueueNums=4
sendMessageThreadPoolNums=16
";

    #[test]
    fn maps_java_keys() {
        let c = parse(JAVA_CONF, "broker.conf").expect("parses");
        assert_eq!(c.broker_name, "broker-b");
        assert_eq!(c.file_reserved_time_hours, 48);
        assert_eq!(c.flush_disk_type, FlushMode::SyncFlush);
        assert_eq!(c.namesrv_addrs, vec!["10.0.0.1:9876", "10.0.0.2:9876"]);
        assert_eq!(c.listen.port(), 10921);
        assert_eq!(c.advertised_ip, Some("192.168.1.5".parse().expect("ip")));
        assert_eq!(c.store_root_dir, PathBuf::from("/data/rocketmq/store"));
        assert!(!c.auto_create_topic_enable);
        assert_eq!(c.default_topic_queue_nums, 4);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("brokerNmae=x\n", "broker.conf").expect_err("typo");
        assert_eq!(
            err,
            ConfigError::UnknownKey {
                key: "brokerNmae".into(),
                file: "broker.conf".into()
            }
        );
        assert!(err.to_string().contains("brokerNmae"));
        let err = parse("listenPort=abc\n", "broker.conf").expect_err("bad port");
        assert!(err.to_string().contains("listenPort"), "{err}");
    }
}
