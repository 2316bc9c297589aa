//! Statistics an operator reads (mqadmin `statsAll`, `VIEW_BROKER_STATS_DATA`).

use super::BrokerService;
use crate::error::BrokerError;
use crate::stats::{StatsItem, StatsWindows};

impl BrokerService {
    /// One statistic of one key over the last minute, hour and day: `TOPIC_PUT_NUMS` /
    /// `TOPIC_PUT_SIZE` of a topic, `GROUP_GET_NUMS` / `GROUP_GET_SIZE` of `topic@group`.
    ///
    /// # Errors
    /// `Missing` (Java's remark) for a statistic ferromq does not keep or a key nothing was
    /// counted for yet: Java has no item for such a key either and answers the same.
    pub(crate) fn stats_data(&self, name: &str, key: &str) -> Result<StatsWindows, BrokerError> {
        StatsItem::from_name(name)
            .and_then(|item| self.state.stats.windows(item, key))
            .ok_or_else(|| BrokerError::Missing(format!("The stats <{name}> <{key}> not exist")))
    }
}
