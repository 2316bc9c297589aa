//! EndTransaction, and the transaction id a v5 producer is given for a half message: where the
//! half message is stored (commit-log offset and half-queue offset), so the answer finds it
//! without a lookup table. Clients treat the id as opaque and hand it back unchanged. Also the
//! relay that pushes the broker's transaction checks to v5 producers.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use std::sync::Arc;

use ferromq_broker::service::{Decision, EndTransaction, TransactionCheck};
use ferromq_broker::BrokerService;
use ferromq_model::record::{self, Entry};
use ferromq_proto::v2::{
    telemetry_command::Command, EndTransactionRequest, EndTransactionResponse, MessageType,
    RecoverOrphanedTransactionCommand, TelemetryCommand, TransactionResolution, TransactionSource,
};
use ferromq_proto::{Code, Status};
use tracing::{debug, warn};

use crate::sessions::Sessions;
use crate::{message, status};

/// Where a half message is stored. Written as 32 upper-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HalfMessage {
    pub commit_log_offset: u64,
    pub half_queue_offset: u64,
}

impl fmt::Display for HalfMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:016X}{:016X}",
            self.commit_log_offset, self.half_queue_offset
        )
    }
}

impl FromStr for HalfMessage {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        if s.len() != 32 || !s.is_ascii() {
            return Err(());
        }
        let (a, b) = s.split_at(16);
        Ok(HalfMessage {
            commit_log_offset: u64::from_str_radix(a, 16).map_err(|_| ())?,
            half_queue_offset: u64::from_str_radix(b, 16).map_err(|_| ())?,
        })
    }
}

pub(crate) fn end_transaction(
    broker: &BrokerService,
    peer: SocketAddr,
    req: &EndTransactionRequest,
) -> EndTransactionResponse {
    let answer = |status| EndTransactionResponse {
        status: Some(status),
    };
    let Ok(half) = req.transaction_id.parse::<HalfMessage>() else {
        return answer(Status::new(
            Code::InvalidTransactionId,
            format!(
                "{:?} is not a transaction id this broker issued",
                req.transaction_id
            ),
        ));
    };
    let topic = req
        .topic
        .as_ref()
        .map(|t| t.qualified_name())
        .unwrap_or_default();
    let decision = match req.resolution() {
        TransactionResolution::Commit => Some(Decision::Commit),
        TransactionResolution::Rollback => Some(Decision::Rollback),
        TransactionResolution::Unspecified => None,
    };
    let end = EndTransaction {
        // v5 producers publish under the topic's name as their group (see send.rs).
        producer_group: topic,
        commit_log_offset: i64::try_from(half.commit_log_offset).unwrap_or(i64::MAX),
        half_queue_offset: i64::try_from(half.half_queue_offset).unwrap_or(i64::MAX),
        msg_id: req.message_id.clone(),
        decision,
        from_check: req.source() == TransactionSource::SourceServerCheck,
        producer: peer,
    };
    match broker.end_transaction(&end) {
        Ok(()) => answer(Status::ok()),
        Err(e) => answer(status::from_broker(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_round_trip_and_refuse_garbage() {
        let h = HalfMessage {
            commit_log_offset: 0x1234_5678_9abc,
            half_queue_offset: 7,
        };
        assert_eq!(h.to_string().parse::<HalfMessage>(), Ok(h));
        assert_eq!(h.to_string().len(), 32);
        for bad in [
            "",
            "xyz",
            "0000000000000000000000000000000G",
            "é000000000000000000000000000000",
        ] {
            assert!(bad.parse::<HalfMessage>().is_err(), "{bad}");
        }
    }
}

/// Puts the broker's transaction checks before v5 producers: a `RecoverOrphanedTransactionCommand`
/// down the telemetry stream of a producer publishing to the half message's topic (a v5
/// producer's group is its topic's name). The producer runs its checker and answers with
/// EndTransaction (source SERVER_CHECK) and the transaction id given here.
#[derive(Debug)]
pub(crate) struct CheckRelay {
    pub sessions: Arc<Sessions>,
}

impl ferromq_broker::service::CheckRelay for CheckRelay {
    fn relay(&self, check: &TransactionCheck) -> bool {
        let producers = self.sessions.producers_of(&check.producer_group);
        if producers.is_empty() {
            return false;
        }
        let Ok(Entry::Message(view)) = record::read(&check.record, false) else {
            warn!(group = %check.producer_group, "transaction check with an unreadable half message");
            return false;
        };
        let transaction_id = HalfMessage {
            commit_log_offset: check.commit_log_offset,
            half_queue_offset: check.half_queue_offset,
        }
        .to_string();
        let command = TelemetryCommand {
            status: Some(Status::ok()),
            command: Some(Command::RecoverOrphanedTransactionCommand(
                RecoverOrphanedTransactionCommand {
                    message: Some(message::from_record(&view, MessageType::Transaction)),
                    transaction_id,
                },
            )),
        };
        // Any one producer of the topic may answer; the first whose stream takes it is asked.
        let asked = producers
            .iter()
            .any(|p| p.tx.try_send(Ok(command.clone())).is_ok());
        if asked {
            debug!(group = %check.producer_group, "transaction check pushed to a v5 producer");
        }
        asked
    }
}
