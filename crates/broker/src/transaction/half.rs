//! Storing half messages: the send path hands over a message whose `TRAN_MSG` property is `true`.

use ferromq_model::properties::keys;
use ferromq_model::record::{RecordDraft, SYSFLAG_TRANSACTION_MASK};
use ferromq_store::PutResult;

use super::{edit_properties, HALF_TOPIC};
use crate::error::BrokerError;
use crate::state::State;

/// Whether a send stores a half message rather than a normal one. Clients older than 4.6.1 re-sent
/// consumed transaction messages to retry topics with the flag still set; those carry reconsume
/// times and a delay level and are normal messages.
#[must_use]
pub(crate) fn is_half(props: &str, reconsume_times: i32) -> bool {
    let prepared = ferromq_model::properties::get(props, keys::TRANSACTION_PREPARED)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let delayed = ferromq_model::properties::get(props, keys::DELAY_TIME_LEVEL)
        .and_then(|d| d.parse::<i32>().ok())
        .is_some_and(|d| d > 0);
    prepared && !(reconsume_times > 0 && delayed)
}

/// Stores `d` (a message for its real topic and queue, `UNIQ_KEY` already set to `uniq`) as a half
/// message: real topic and queue move into properties, the transaction id is the unique key, and
/// the transaction bits are cleared so the half topic's consume queue indexes it.
///
/// # Errors
/// The half topic cannot be created, or the store refuses the message.
pub(crate) fn put(s: &State, d: &RecordDraft<'_>, uniq: &str) -> Result<PutResult, BrokerError> {
    s.topics.ensure_internal(HALF_TOPIC, 1)?;
    let queue = d.queue_id.to_string();
    let props = edit_properties(
        d.properties,
        &[],
        &[
            (keys::TRANSACTION_ID, uniq),
            (keys::REAL_TOPIC, d.topic),
            (keys::REAL_QUEUE_ID, &queue),
        ],
    );
    let half = RecordDraft {
        topic: HALF_TOPIC,
        queue_id: 0,
        sys_flag: d.sys_flag & !SYSFLAG_TRANSACTION_MASK,
        properties: &props,
        ..d.clone()
    };
    Ok(s.store.put(&half)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_model::properties::encode;

    #[test]
    fn prepared_flag_makes_a_half_message_unless_it_is_an_old_retry() {
        assert!(is_half(&encode([("TRAN_MSG", "true")]), 0));
        assert!(!is_half(&encode([("TRAN_MSG", "false")]), 0));
        assert!(!is_half("", 0));
        let old_retry = encode([("TRAN_MSG", "true"), ("DELAY", "3")]);
        assert!(!is_half(&old_retry, 1));
        assert!(is_half(&old_retry, 0));
    }
}
