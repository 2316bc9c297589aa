//! Broker errors as v5 statuses, in one place. Application errors travel in the `status` field
//! of each response with the gRPC status left OK, as RocketMQ 5 clients expect.

use ferromq_broker::error::RecallError;
use ferromq_broker::error::ReplicaWaitError;
use ferromq_broker::BrokerError;
use ferromq_proto::{Code, Status};
use ferromq_store::StoreError;

/// The v5 status of a broker error; the message is the error's text.
pub(crate) fn from_broker(err: &BrokerError) -> Status {
    Status::new(code(err), err.to_string())
}

fn code(err: &BrokerError) -> Code {
    match err {
        BrokerError::BadHeader(_)
        | BrokerError::BadBody(_)
        | BrokerError::BadQueueId { .. }
        | BrokerError::MessageIllegal(_) => Code::BadRequest,
        BrokerError::InvalidName { .. } => Code::IllegalTopic,
        BrokerError::SendForbidden(_)
        | BrokerError::Forbidden(_)
        | BrokerError::NoPermission { .. }
        // A replica, or a master the controllers no longer confirm, refuses writes.
        | BrokerError::ReplicaRefusesWrites(_)
        | BrokerError::LeaseExpired(_) => Code::Forbidden,
        BrokerError::TopicNotExist(_) => Code::TopicNotFound,
        BrokerError::BadReceiptHandle(_) | BrokerError::StaleReceiptHandle(_) => {
            Code::InvalidReceiptHandle
        }
        BrokerError::InvalidArgument(_) => Code::BadRequest,
        BrokerError::Recall(e) => recall_code(e),
        BrokerError::SubscriptionParse { .. } => Code::IllegalFilterExpression,
        BrokerError::SubscriptionNotExist { .. } | BrokerError::SubscriptionGroupNotExist(_) => {
            Code::ConsumerGroupNotFound
        }
        BrokerError::Unsupported(_) => Code::Unsupported,
        BrokerError::NoConsumer(_)
        | BrokerError::ConsumerNotOnline(_)
        | BrokerError::NotFound(_)
        | BrokerError::Missing(_) => Code::NotFound,
        BrokerError::Store(StoreError::FlushTimeout { .. }) => Code::MasterPersistenceTimeout,
        BrokerError::Replication(ReplicaWaitError::Timeout { .. }) => Code::SlavePersistenceTimeout,
        BrokerError::Replication(ReplicaWaitError::NotEnoughReplicas { .. }) => {
            Code::HaNotAvailable
        }
        BrokerError::Store(_)
        | BrokerError::Io { .. }
        | BrokerError::CorruptFile { .. }
        | BrokerError::Config(_) => Code::InternalServerError,
    }
}

fn recall_code(err: &RecallError) -> Code {
    match err {
        RecallError::Malformed(_)
        | RecallError::TopicMismatch { .. }
        | RecallError::OtherBroker(_) => Code::BadRequest,
        RecallError::TooFar(_) => Code::IllegalDeliveryTime,
        // Delivered already: nothing is left to recall, as for a handle naming no message.
        RecallError::AlreadyDue(_) | RecallError::NoSuchMessage { .. } => Code::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_text_and_get_a_code() {
        let s = from_broker(&BrokerError::TopicNotExist("t".into()));
        assert_eq!(s.code(), Code::TopicNotFound);
        assert!(s.message.contains("topic[t]"), "{}", s.message);
        let s = from_broker(&BrokerError::Store(StoreError::FlushTimeout { millis: 5 }));
        assert_eq!(s.code(), Code::MasterPersistenceTimeout);
    }
}
