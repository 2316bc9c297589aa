//! `BrokerConfig`: the one settings struct of the broker, read from TOML (snake_case keys) or from a
//! RocketMQ `broker.conf` (Java key names, see [`crate::config::java`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub mod auth;
pub mod delay_levels;
pub mod java;
mod java_tls;

use ferromq_net::tls::{TlsClientConfig, TlsError, TlsServerConfig};
use ferromq_store::config::{FlushMode, StoreConfig};
use serde::{Deserialize, Serialize};

/// Role of this broker in a master/slave pair (see `crate::ha`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BrokerRole {
    AsyncMaster,
    SyncMaster,
    Slave,
}

/// Broker settings. Durations are whole milliseconds (`*_ms` keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// `brokerClusterName`.
    pub cluster_name: String,
    /// `brokerName`.
    pub broker_name: String,
    /// `brokerId`: 0 is the master.
    pub broker_id: i64,
    /// `namesrvAddr` (`;`-separated in broker.conf).
    pub namesrv_addrs: Vec<String>,
    /// Where the binary binds (`listenPort` sets the port, on all interfaces).
    pub listen: SocketAddr,
    /// `brokerIP1`: the address published to name servers and embedded in message ids. When absent,
    /// the listen address is used, or 127.0.0.1 if that is the wildcard.
    pub advertised_ip: Option<IpAddr>,
    /// `storePathRootDir`: commit log, queues, index and `config/` live here.
    pub store_root_dir: PathBuf,
    /// `flushDiskType`.
    pub flush_disk_type: FlushMode,
    /// `brokerRole`.
    pub broker_role: BrokerRole,
    /// `brokerTraceEnable`: record each message's steps on this broker in `RMQ_SYS_TRACE_TOPIC`
    /// (see `crate::trace`).
    pub broker_trace_enable: bool,
    /// `haListenPort`: where a master serves its replicas (0: any free port). Unset: no replication
    /// listener (RocketMQ always listens, on 10912 by default).
    pub ha_listen_port: Option<u16>,
    /// `grpcListenPort`: where the RocketMQ 5 gRPC endpoint listens, on the broker's listen IP (0:
    /// any free port). Unset: no gRPC endpoint. Served by the binary (`ferromq-grpc`), not here.
    pub grpc_listen_port: Option<u16>,
    /// `metricsListenPort`: where the HTTP listener (`/metrics`, `/healthz`, `/readyz`) listens,
    /// on the broker's listen IP (0: any free port); unset: no HTTP listener.
    pub metrics_listen_port: Option<u16>,
    /// `grpcTlsCertPath` / `grpcTlsKeyPath`: PEM certificate chain and key for the gRPC endpoint's
    /// TLS connections. Unset: a self-signed certificate generated at start.
    pub grpc_tls_cert: Option<PathBuf>,
    pub grpc_tls_key: Option<PathBuf>,
    /// TLS on the remoting listener (`tls.server.mode`, `tls.server.certPath`,
    /// `tls.server.keyPath`, `tls.server.trustCertPath`, `tls.server.need.client.auth`; TOML: a
    /// `[tls]` table). Disabled by default: see `TlsMode` for why this differs from RocketMQ.
    pub tls: TlsServerConfig,
    /// `tls.enable`: the broker's own connections (name-server registration and route lookups, a
    /// replica's metadata sync from its master) use TLS with these settings; `None`: plaintext.
    /// Needed when the name servers enforce TLS.
    pub tls_client: Option<TlsClientConfig>,
    /// `haMasterAddress`: the master's HA `host:port` a SLAVE follows. Unset: learnt from the name
    /// servers' answer to registration.
    pub ha_master_address: Option<String>,
    /// `minInSyncReplicas`: replicas that must hold a SYNC_MASTER send before it is answered.
    pub min_in_sync_replicas: usize,
    /// `haMaxGapNotInSync`: a replica further behind than this many bytes is out of sync.
    pub ha_max_gap_not_in_sync: u64,
    /// `haHousekeepingInterval`: a replica silent for this long is out of sync.
    pub ha_housekeeping_interval_ms: u64,
    /// `enableControllerMode`: the controllers (`controller_addrs`) decide which broker of the group
    /// is master, and roles change at run time (see `crate::tasks::controller_agent`). `broker_role` then only
    /// says which kind of master this broker is when elected (SYNC_MASTER or ASYNC_MASTER), and
    /// `broker_id` (at least 1) is its identity towards the controllers; towards name servers the
    /// master registers as id 0.
    pub enable_controller_mode: bool,
    /// `controllerAddr` (`;`-separated in broker.conf): every controller of the group.
    pub controller_addrs: Vec<String>,
    /// `brokerHeartbeatInterval`: heartbeats to the controllers, in controller mode.
    pub broker_heartbeat_interval_ms: u64,
    /// `controllerLeaseMs`: in controller mode a master stops accepting writes when no controller
    /// confirmed it for this long (counted from the sending of the last confirmed heartbeat). Must
    /// stay below the controllers' master timeout, so that an isolated master has stopped before a
    /// new one can be elected.
    pub controller_lease_ms: u64,
    /// `deleteWhen`: hours of the day expired files are deleted, "04" or "01;02".
    pub delete_when: String,
    /// `fileReservedTime`, in hours.
    pub file_reserved_time_hours: u64,
    /// `diskMaxUsedSpaceRatio`, in percent.
    pub disk_max_used_space_ratio: u8,
    /// `mapedFileSizeCommitLog`: bytes per commit-log file.
    pub commit_log_file_size: u64,
    /// `maxMessageSize`: largest accepted body, in bytes.
    pub max_message_size: usize,
    /// `syncFlushTimeout`: SYNC_FLUSH sends answer FLUSH_DISK_TIMEOUT after this long.
    pub sync_flush_timeout_ms: u64,
    /// `maxOpenQueueFiles` (ferromq's own): consume-queue files held open at once; 0 derives it
    /// from the descriptor limit (a quarter of it).
    pub max_open_queue_files: usize,
    /// `autoCreateTopicEnable`: keep `TBW102` so producers can create topics by sending.
    pub auto_create_topic_enable: bool,
    /// `autoCreateSubscriptionGroup`.
    pub auto_create_subscription_group: bool,
    /// `defaultTopicQueueNums`: queues of `TBW102`, hence the upper bound for auto-created topics.
    pub default_topic_queue_nums: u32,
    /// `registerNameServerPeriod`.
    pub register_name_server_period_ms: u64,
    /// `compressedRegister`: send the topic table to name servers in the compressed form (about a
    /// tenth of the JSON). Tables whose JSON would take more than a quarter of the frame limit are
    /// sent compressed whatever this says.
    pub compressed_register: bool,
    /// `longPollingEnable`: hold pulls that find nothing until a message arrives.
    pub long_polling_enable: bool,
    /// `shortPollingTimeMills`: hold time when long polling is off.
    pub short_polling_time_ms: u64,
    /// Upper bound of a pull's hold time, whatever the client asks (its own timeout is 30 s).
    pub long_polling_max_hold_ms: u64,
    /// `flushConsumerOffsetInterval`.
    pub flush_consumer_offset_interval_ms: u64,
    /// `channelExpiredTimeout`: clients silent this long are dropped.
    pub client_channel_expired_ms: u64,
    /// How long a queue lock of an orderly consumer lives after its last renewal (Java system
    /// property `rocketmq.broker.rebalance.lockMaxLiveTime`, 60 s).
    pub rebalance_lock_max_live_ms: u64,
    /// `transactionCheckInterval`: how often half messages without an outcome are looked at.
    pub transaction_check_interval_ms: u64,
    /// `transactionTimeOut`: a half message younger than this is not checked yet.
    pub transaction_timeout_ms: u64,
    /// `transactionCheckMax`: checks before an unresolved half message is discarded.
    pub transaction_check_max: u32,
    /// `messageDelayLevel`: delay of each level, `"1s 5s ... 2h"` (units ms, s, m, h, d).
    pub message_delay_level: String,
    /// `timerWheelEnable`: accept 5.x timer messages (`TIMER_DELIVER_MS`, `TIMER_DELAY_SEC/MS`).
    pub timer_wheel_enable: bool,
    /// `timerPrecisionMs`: width of a timer wheel slot.
    pub timer_precision_ms: u64,
    /// `timerRollWindowSlot`: slots in the wheel; later timers are chained again when the wheel
    /// reaches its end. Memory is 24 bytes per slot.
    pub timer_roll_window_slot: u64,
    /// `timerMaxDelaySec`: timers further ahead are refused.
    pub timer_max_delay_sec: u64,
    /// `timerFlushIntervalMs`: how often timer progress is made durable (a crash repeats at most
    /// this much delivery).
    pub timer_flush_interval_ms: u64,
    /// `mappedFileSizeTimerLog`: bytes per timer log segment.
    pub mapped_file_size_timer_log: u64,
    /// `regionId`, echoed in send responses.
    pub region_id: String,
    /// `traceOn`, echoed in send responses.
    pub trace_on: bool,
    /// `slaveReadEnable`: suggest that consumers far behind read from a replica (pull responses'
    /// `suggestWhichBrokerId`), and let a replica keep such consumers (see docs/replication.md).
    pub slave_read_enable: bool,
    /// `accessMessageInMemoryMaxRatio`, in percent of the machine's physical memory: a consumer
    /// whose pulls lag the commit log's end by more is reading from disk, not from memory.
    pub access_message_in_memory_max_ratio: u8,
    /// `authenticationEnabled`: every remoting request must be signed by a known user (see
    /// `crate::auth` and docs/security.md).
    pub authentication_enabled: bool,
    /// `authorizationEnabled`: every remoting request must be allowed by its user's policies.
    pub authorization_enabled: bool,
    /// `initAuthenticationUser`: the first super user, created at start when there is no user.
    pub init_authentication_user: Option<auth::InitUser>,
    /// `innerClientAuthenticationCredentials`: what this broker signs its own requests to other
    /// brokers with.
    pub inner_client_authentication_credentials: Option<auth::InnerCredentials>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_id: 0,
            namesrv_addrs: Vec::new(),
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 10911)),
            advertised_ip: None,
            store_root_dir: PathBuf::from("store"),
            flush_disk_type: FlushMode::AsyncFlush,
            broker_role: BrokerRole::AsyncMaster,
            broker_trace_enable: true,
            ha_listen_port: None,
            grpc_listen_port: None,
            metrics_listen_port: None,
            grpc_tls_cert: None,
            grpc_tls_key: None,
            tls: TlsServerConfig::default(),
            tls_client: None,
            ha_master_address: None,
            min_in_sync_replicas: 1,
            ha_max_gap_not_in_sync: 256 << 20,
            ha_housekeeping_interval_ms: 20_000,
            enable_controller_mode: false,
            controller_addrs: Vec::new(),
            broker_heartbeat_interval_ms: 500,
            controller_lease_ms: 2_500,
            delete_when: "04".into(),
            file_reserved_time_hours: 72,
            disk_max_used_space_ratio: 75,
            commit_log_file_size: 1 << 30,
            max_message_size: 4 * 1024 * 1024,
            sync_flush_timeout_ms: 5_000,
            max_open_queue_files: 0,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            register_name_server_period_ms: 30_000,
            compressed_register: false,
            long_polling_enable: true,
            short_polling_time_ms: 1_000,
            long_polling_max_hold_ms: 25_000,
            flush_consumer_offset_interval_ms: 5_000,
            client_channel_expired_ms: 120_000,
            rebalance_lock_max_live_ms: 60_000,
            transaction_check_interval_ms: 30_000,
            transaction_timeout_ms: 6_000,
            transaction_check_max: 15,
            message_delay_level: delay_levels::DEFAULT_LEVELS.into(),
            timer_wheel_enable: true,
            timer_precision_ms: 1_000,
            timer_roll_window_slot: 2 * 86_400,
            timer_max_delay_sec: 3 * 86_400,
            timer_flush_interval_ms: 1_000,
            mapped_file_size_timer_log: 100 << 20,
            region_id: "DefaultRegion".into(),
            trace_on: true,
            slave_read_enable: false,
            access_message_in_memory_max_ratio: 40,
            authentication_enabled: false,
            authorization_enabled: false,
            init_authentication_user: None,
            inner_client_authentication_credentials: None,
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("{key} = {value} is out of range: {why}")]
    OutOfRange {
        key: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "brokerId {id} does not fit brokerRole {role:?}: masters are brokerId 0, slaves above 0"
    )]
    RoleMismatch { role: BrokerRole, id: i64 },
    #[error("unknown key {key:?} in {file}")]
    UnknownKey { key: String, file: String },
    #[error("bad value for {key} in {file}: {value:?} ({why})")]
    BadValue {
        key: String,
        value: String,
        file: String,
        why: String,
    },
    #[error("cannot read {file}: {detail}")]
    Unreadable { file: String, detail: String },
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
}

impl BrokerConfig {
    fn validate_controller_mode(&self) -> Result<(), ConfigError> {
        let why = if self.controller_addrs.is_empty() {
            Some((
                "controllerAddr",
                "controller mode needs at least one controller address",
            ))
        } else if self.broker_id < 1 {
            Some((
                "brokerId",
                "in controller mode a broker's id is its identity, 1 or more",
            ))
        } else if self.broker_role == BrokerRole::Slave {
            Some((
                "brokerRole",
                "in controller mode it names the kind of master: SYNC_MASTER or ASYNC_MASTER",
            ))
        } else if self.ha_listen_port.is_none() {
            Some((
                "haListenPort",
                "every broker of a controlled group may become master and serve replicas",
            ))
        } else if self.broker_heartbeat_interval_ms == 0
            || self.controller_lease_ms <= self.broker_heartbeat_interval_ms
        {
            Some((
                "controllerLeaseMs",
                "must be longer than brokerHeartbeatInterval (and both above 0)",
            ))
        } else {
            None
        };
        match why {
            Some((key, why)) => Err(ConfigError::OutOfRange {
                key,
                value: String::new(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// Checks the settings that cannot work.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the offending setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cluster_name.is_empty() {
            return Err(ConfigError::Empty("brokerClusterName"));
        }
        if self.broker_name.is_empty() {
            return Err(ConfigError::Empty("brokerName"));
        }
        if self.enable_controller_mode {
            self.validate_controller_mode()?;
        } else if (self.broker_role == BrokerRole::Slave) != (self.broker_id > 0)
            || self.broker_id < 0
        {
            return Err(ConfigError::RoleMismatch {
                role: self.broker_role,
                id: self.broker_id,
            });
        }
        if self.min_in_sync_replicas == 0 {
            return Err(ConfigError::Zero("minInSyncReplicas"));
        }
        if self.default_topic_queue_nums == 0 {
            return Err(ConfigError::Zero("defaultTopicQueueNums"));
        }
        if self.max_message_size == 0 {
            return Err(ConfigError::Zero("maxMessageSize"));
        }
        if self.grpc_tls_cert.is_some() != self.grpc_tls_key.is_some() {
            return Err(ConfigError::OutOfRange {
                key: "grpcTlsCertPath",
                value: format!("{:?} / {:?}", self.grpc_tls_cert, self.grpc_tls_key),
                why: "the gRPC certificate and key are given together or not at all",
            });
        }
        self.tls.validate()?;
        if self.register_name_server_period_ms == 0 {
            return Err(ConfigError::Zero("registerNameServerPeriod"));
        }
        if self.flush_consumer_offset_interval_ms == 0 {
            return Err(ConfigError::Zero("flushConsumerOffsetInterval"));
        }
        if self.transaction_check_interval_ms == 0 {
            return Err(ConfigError::Zero("transactionCheckInterval"));
        }
        self.validate_schedule()?;
        if self.access_message_in_memory_max_ratio > 100 {
            return Err(ConfigError::OutOfRange {
                key: "accessMessageInMemoryMaxRatio",
                value: self.access_message_in_memory_max_ratio.to_string(),
                why: "a percentage, 0-100",
            });
        }
        if self.disk_max_used_space_ratio > 100 {
            return Err(ConfigError::OutOfRange {
                key: "diskMaxUsedSpaceRatio",
                value: self.disk_max_used_space_ratio.to_string(),
                why: "a percentage, 0-100",
            });
        }
        self.store_config()
            .validate()
            .map_err(|e| ConfigError::OutOfRange {
                key: "store",
                value: e.to_string(),
                why: "the store refuses it",
            })
    }

    fn validate_schedule(&self) -> Result<(), ConfigError> {
        if let Err(e) = delay_levels::DelayLevels::parse(&self.message_delay_level) {
            return Err(ConfigError::OutOfRange {
                key: "messageDelayLevel",
                value: self.message_delay_level.clone(),
                why: match e {
                    delay_levels::LevelError::Empty => "no levels",
                    delay_levels::LevelError::BadEntry { why, .. } => why,
                },
            });
        }
        let positive = [
            ("timerPrecisionMs", self.timer_precision_ms),
            ("timerRollWindowSlot", self.timer_roll_window_slot),
            ("timerFlushIntervalMs", self.timer_flush_interval_ms),
            ("mappedFileSizeTimerLog", self.mapped_file_size_timer_log),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Zero(key));
        }
        if self.timer_roll_window_slot < 2 || self.timer_roll_window_slot > 100_000_000 {
            return Err(ConfigError::OutOfRange {
                key: "timerRollWindowSlot",
                value: self.timer_roll_window_slot.to_string(),
                why: "2 to 100,000,000 slots",
            });
        }
        Ok(())
    }

    /// The storage engine's settings derived from this configuration.
    #[must_use]
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            flush_mode: self.flush_disk_type,
            delete_when: self.delete_when.clone(),
            file_reserved_hours: self.file_reserved_time_hours,
            disk_max_used_ratio: f64::from(self.disk_max_used_space_ratio) / 100.0,
            commit_log_segment_bytes: self.commit_log_file_size,
            sync_flush_timeout_ms: self.sync_flush_timeout_ms,
            max_open_queue_files: self.max_open_queue_files,
            // Room for the record's fixed part, topic and properties around the largest body.
            max_message_bytes: self.max_message_size + 64 * 1024,
            ..StoreConfig::new(&self.store_root_dir)
        }
    }

    /// Folder of the broker's metadata files (`topics.json`, `consumerOffset.json`).
    #[must_use]
    pub fn config_dir(&self) -> PathBuf {
        self.store_root_dir.join("config")
    }

    /// Parses TOML with this struct's snake_case keys.
    ///
    /// # Errors
    /// `BadValue`/`UnknownKey` with the parser's message.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::BadValue {
            key: "(toml)".into(),
            value: String::new(),
            file: file.into(),
            why: e.to_string(),
        })
    }

    /// Loads `path`: TOML when it ends in `.toml`, a Java `broker.conf` otherwise.
    ///
    /// # Errors
    /// An unreadable file, an unknown key, a bad value.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            file: file.clone(),
            detail: e.to_string(),
        })?;
        if path.extension().is_some_and(|e| e == "toml") {
            Self::from_toml(&text, &file)
        } else {
            java::parse(&text, &file)
        }
    }

    /// The address published to name servers and in message ids, once the listener is bound.
    #[must_use]
    pub fn advertised_addr(&self, bound: SocketAddr) -> SocketAddr {
        let ip = self.advertised_ip.unwrap_or_else(|| {
            if bound.ip().is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                bound.ip()
            }
        });
        SocketAddr::new(ip, bound.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_match_java() {
        let c = BrokerConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.listen.port(), 10911);
        assert_eq!(c.default_topic_queue_nums, 8);
        assert_eq!(c.cluster_name, "DefaultCluster");
    }

    #[test]
    fn toml_refuses_unknown_keys() {
        let c = BrokerConfig::from_toml(
            "broker_name = \"b1\"\nnamesrv_addrs = [\"127.0.0.1:9876\"]\nflush_disk_type = \"SYNC_FLUSH\"\n",
            "x.toml",
        )
        .expect("parses");
        assert_eq!(c.broker_name, "b1");
        assert_eq!(c.flush_disk_type, FlushMode::SyncFlush);
        let err = BrokerConfig::from_toml("brokerName = \"b\"\n", "x.toml").expect_err("unknown");
        assert!(err.to_string().contains("brokerName"), "{err}");
    }

    #[test]
    fn tls_settings_in_toml() {
        let c = BrokerConfig::from_toml(
            "[tls]\nmode = \"permissive\"\ncert_path = \"/etc/ferromq/server.pem\"\n\
             key_path = \"/etc/ferromq/server.key\"\n\
             [tls_client]\ntrust = { ca_file = \"/etc/ferromq/ca.pem\" }\n",
            "x.toml",
        )
        .expect("parses");
        assert_eq!(c.tls.mode, ferromq_net::TlsMode::Permissive);
        assert_eq!(
            c.tls_client.as_ref().map(|t| t.trust.clone()),
            Some(ferromq_net::tls::ServerTrust::CaFile(
                "/etc/ferromq/ca.pem".into()
            ))
        );
        assert_eq!(c.validate(), Ok(()));
        let c = BrokerConfig::from_toml("[tls_client]\ntrust = \"insecure_trust_all\"\n", "x")
            .expect("trust-all parses");
        assert!(c.tls_client.is_some());
        assert!(BrokerConfig::from_toml("[tls]\nmode = \"strict\"\n", "x").is_err());
        assert_eq!(
            BrokerConfig::default().tls.mode,
            ferromq_net::TlsMode::Disabled
        );
    }

    #[test]
    fn refuses_what_cannot_work() {
        let slave = BrokerConfig {
            broker_role: BrokerRole::Slave,
            ..BrokerConfig::default()
        };
        assert_eq!(
            slave.validate(),
            Err(ConfigError::RoleMismatch {
                role: BrokerRole::Slave,
                id: 0
            })
        );
        let slave = BrokerConfig {
            broker_role: BrokerRole::Slave,
            broker_id: 1,
            ..BrokerConfig::default()
        };
        assert_eq!(slave.validate(), Ok(()));
        let zero = BrokerConfig {
            default_topic_queue_nums: 0,
            ..BrokerConfig::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn advertised_address_falls_back_to_loopback() {
        let c = BrokerConfig::default();
        let bound: SocketAddr = "0.0.0.0:1234".parse().expect("addr");
        assert_eq!(c.advertised_addr(bound).to_string(), "127.0.0.1:1234");
        let c = BrokerConfig {
            advertised_ip: Some("10.1.2.3".parse().expect("ip")),
            ..BrokerConfig::default()
        };
        assert_eq!(c.advertised_addr(bound).to_string(), "10.1.2.3:1234");
    }
}
