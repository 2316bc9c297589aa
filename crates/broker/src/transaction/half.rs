//! Which sends are half messages: the send path stores a message whose `TRAN_MSG` property is
//! `true` in the half topic (`crate::service` does the storing).

use ferromq_model::properties::SendProps;

/// Whether a send stores a half message rather than a normal one. Clients older than 4.6.1 re-sent
/// consumed transaction messages to retry topics with the flag still set; those carry reconsume
/// times and a delay level and are normal messages.
#[must_use]
pub(crate) fn is_half(found: &SendProps<'_>, reconsume_times: i32) -> bool {
    let prepared = found
        .transaction_prepared
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let delayed = found
        .delay_level
        .and_then(|d| d.parse::<i32>().ok())
        .is_some_and(|d| d > 0);
    prepared && !(reconsume_times > 0 && delayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_model::properties::encode;

    fn half(props: &str, reconsume_times: i32) -> bool {
        is_half(&SendProps::scan(props), reconsume_times)
    }

    #[test]
    fn prepared_flag_makes_a_half_message_unless_it_is_an_old_retry() {
        assert!(half(&encode([("TRAN_MSG", "true")]), 0));
        assert!(!half(&encode([("TRAN_MSG", "false")]), 0));
        assert!(!half("", 0));
        let old_retry = encode([("TRAN_MSG", "true"), ("DELAY", "3")]);
        assert!(!half(&old_retry, 1));
        assert!(half(&old_retry, 0));
    }
}
