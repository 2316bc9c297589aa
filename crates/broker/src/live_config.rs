//! The broker settings an operator may change while the broker runs (`UPDATE_BROKER_CONFIG`,
//! `ferromq admin updateBrokerConfig`). Each is an atomic read on every use, so a change applies to
//! the next request. Changes live in memory only: a restart goes back to the configuration file.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::config::BrokerConfig;

/// Java key names of the settings [`LiveConfig::set`] accepts.
pub const RUNTIME_KEYS: &[&str] = &[
    "maxMessageSize",
    "longPollingEnable",
    "shortPollingTimeMills",
    "autoCreateSubscriptionGroup",
];

/// Why a runtime change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveConfigError {
    #[error("{key} cannot be changed while the broker runs (runtime keys: {}); set it in the broker's configuration file and restart", RUNTIME_KEYS.join(", "))]
    NotRuntime { key: String },
    #[error("bad value for {key}: {value:?} ({why})")]
    BadValue {
        key: String,
        value: String,
        why: &'static str,
    },
}

/// Current values of the runtime-changeable settings.
#[derive(Debug)]
pub struct LiveConfig {
    max_message_size: AtomicUsize,
    long_polling_enable: AtomicBool,
    short_polling_time_ms: AtomicU64,
    auto_create_subscription_group: AtomicBool,
}

impl LiveConfig {
    /// Starts from the configuration file's values.
    #[must_use]
    pub fn new(c: &BrokerConfig) -> Self {
        Self {
            max_message_size: AtomicUsize::new(c.max_message_size),
            long_polling_enable: AtomicBool::new(c.long_polling_enable),
            short_polling_time_ms: AtomicU64::new(c.short_polling_time_ms),
            auto_create_subscription_group: AtomicBool::new(c.auto_create_subscription_group),
        }
    }

    /// `maxMessageSize`: largest accepted body, in bytes.
    #[must_use]
    pub fn max_message_size(&self) -> usize {
        self.max_message_size.load(Ordering::Relaxed)
    }

    /// `longPollingEnable`.
    #[must_use]
    pub fn long_polling_enable(&self) -> bool {
        self.long_polling_enable.load(Ordering::Relaxed)
    }

    /// `shortPollingTimeMills`.
    #[must_use]
    pub fn short_polling_time_ms(&self) -> u64 {
        self.short_polling_time_ms.load(Ordering::Relaxed)
    }

    /// `autoCreateSubscriptionGroup`.
    #[must_use]
    pub fn auto_create_subscription_group(&self) -> bool {
        self.auto_create_subscription_group.load(Ordering::Relaxed)
    }

    /// Checks every pair first, then applies them all, so a refused update changes nothing.
    ///
    /// # Errors
    /// A key that is not a runtime key, or a value that does not parse.
    pub fn set_all(&self, pairs: &[(String, String)]) -> Result<(), LiveConfigError> {
        let parsed = pairs
            .iter()
            .map(|(k, v)| Value::parse(k, v))
            .collect::<Result<Vec<_>, _>>()?;
        for v in parsed {
            match v {
                Value::MaxMessageSize(n) => self.max_message_size.store(n, Ordering::Relaxed),
                Value::LongPolling(b) => self.long_polling_enable.store(b, Ordering::Relaxed),
                Value::ShortPolling(ms) => self.short_polling_time_ms.store(ms, Ordering::Relaxed),
                Value::AutoCreateGroup(b) => self
                    .auto_create_subscription_group
                    .store(b, Ordering::Relaxed),
            }
        }
        Ok(())
    }
}

/// One parsed runtime setting.
enum Value {
    MaxMessageSize(usize),
    LongPolling(bool),
    ShortPolling(u64),
    AutoCreateGroup(bool),
}

impl Value {
    fn parse(key: &str, value: &str) -> Result<Self, LiveConfigError> {
        let bad = |why| LiveConfigError::BadValue {
            key: key.to_owned(),
            value: value.to_owned(),
            why,
        };
        let flag = || match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad("true or false")),
        };
        match key {
            "maxMessageSize" => match value.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Self::MaxMessageSize(n)),
                _ => Err(bad("a positive number of bytes")),
            },
            "longPollingEnable" => flag().map(Self::LongPolling),
            "shortPollingTimeMills" => value
                .parse()
                .map(Self::ShortPolling)
                .map_err(|_| bad("milliseconds")),
            "autoCreateSubscriptionGroup" => flag().map(Self::AutoCreateGroup),
            _ => Err(LiveConfigError::NotRuntime {
                key: key.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_update_changes_nothing() {
        let live = LiveConfig::new(&BrokerConfig::default());
        let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let err = live
            .set_all(&pairs(&[("maxMessageSize", "1024"), ("brokerName", "x")]))
            .expect_err("brokerName is fixed");
        assert!(matches!(err, LiveConfigError::NotRuntime { .. }), "{err}");
        assert_eq!(live.max_message_size(), 4 * 1024 * 1024);
        let err = live
            .set_all(&pairs(&[("longPollingEnable", "yes")]))
            .expect_err("not a flag");
        assert!(err.to_string().contains("longPollingEnable"), "{err}");

        live.set_all(&pairs(&[
            ("maxMessageSize", "1024"),
            ("longPollingEnable", "false"),
        ]))
        .expect("applies");
        assert_eq!(live.max_message_size(), 1024);
        assert!(!live.long_polling_enable());
    }
}
