//! The retry and dead-letter rules shared by send-backs and by plain sends to a retry topic.

use std::borrow::Cow;

use ferromq_model::properties::keys;
use tracing::info;

use super::send::{SendMessages, SendRequest};
use crate::error::BrokerError;
use crate::names;
use crate::state::State;
use crate::transaction::edit_properties;

/// Dead-letter topics have one queue, like Java's `DLQ_NUMS_PER_GROUP`.
pub(super) const DLQ_QUEUES: i32 = 1;

/// `%DLQ%<group>`.
#[must_use]
pub(super) fn dlq_topic(group: &str) -> String {
    format!("{}{group}", names::DLQ_PREFIX)
}

/// The group's maximum reconsume times: the request's value when it carries one, else the
/// subscription group's `retryMaxTimes` (16 by default).
pub(super) fn max_reconsume_times(s: &State, group: &str, asked: Option<i32>) -> i32 {
    asked.unwrap_or_else(|| i32::try_from(s.subscriptions.retry_max_times(group)).unwrap_or(16))
}

/// Send-path hook for a message sent straight to `%RETRY%<group>` (a consumer whose send-back
/// failed re-sends it with its reconsume times): once those exceed the maximum, the message goes to
/// `%DLQ%<group>` queue 0 instead, without delay. Rewrites `req` in place.
///
/// # Errors
/// The dead-letter topic cannot be created.
pub(super) fn reroute_exhausted_retry(
    s: &State,
    req: &mut SendRequest<'_>,
) -> Result<(), BrokerError> {
    let Some(group) = req.topic.strip_prefix(names::RETRY_PREFIX) else {
        return Ok(());
    };
    let max = max_reconsume_times(s, group, req.max_reconsume_times);
    if req.reconsume_times <= max {
        return Ok(());
    }
    let dlq = dlq_topic(group);
    s.topics.ensure_internal(&dlq, DLQ_QUEUES)?;
    info!(dlq = %dlq, reconsume_times = req.reconsume_times, "retry message sent to the dead-letter queue");
    req.topic = dlq;
    req.queue_id = Some(0);
    let (SendMessages::One { properties, .. } | SendMessages::Batch { properties, .. }) =
        &mut req.messages;
    *properties = Cow::Owned(edit_properties(properties, &[keys::DELAY_TIME_LEVEL], &[]));
    Ok(())
}
