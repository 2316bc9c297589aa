//! The one place where broker errors become response codes.

use ferromq_remoting::{RemotingCommand, ResponseCode};
use ferromq_store::StoreError;

use crate::error::BrokerError;
use crate::error::ReplicaWaitError;

/// The response code a Java broker gives for `err`.
#[must_use]
pub fn code_of(err: &BrokerError) -> ResponseCode {
    match err {
        BrokerError::BadHeader(_)
        | BrokerError::BadBody(_)
        | BrokerError::InvalidName { .. }
        | BrokerError::BadQueueId { .. }
        | BrokerError::InvalidArgument(_)
        | BrokerError::BadReceiptHandle(_) => ResponseCode::INVALID_PARAMETER,
        // Java answers an ack of a message no longer in flight with NO_MESSAGE too.
        BrokerError::StaleReceiptHandle(_) => ResponseCode::NO_MESSAGE,
        BrokerError::SendForbidden(_)
        | BrokerError::Forbidden(_)
        | BrokerError::NoPermission { .. } => ResponseCode::NO_PERMISSION,
        BrokerError::TopicNotExist(_) => ResponseCode::TOPIC_NOT_EXIST,
        // Apache RocketMQ answers every refused recall so; the remark says why.
        BrokerError::Recall(_) => ResponseCode::ILLEGAL_OPERATION,
        BrokerError::MessageIllegal(_) => ResponseCode::MESSAGE_ILLEGAL,
        BrokerError::SubscriptionParse { .. } => ResponseCode::SUBSCRIPTION_PARSE_FAILED,
        BrokerError::SubscriptionNotExist { .. } => ResponseCode::SUBSCRIPTION_NOT_EXIST,
        BrokerError::SubscriptionGroupNotExist(_) => ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
        BrokerError::ConsumerNotOnline(_) => ResponseCode::CONSUMER_NOT_ONLINE,
        BrokerError::NotFound(_) => ResponseCode::QUERY_NOT_FOUND,
        BrokerError::Store(e) => store_code(e),
        BrokerError::ReplicaRefusesWrites(_) | BrokerError::LeaseExpired(_) => {
            ResponseCode::SERVICE_NOT_AVAILABLE
        }
        BrokerError::Replication(ReplicaWaitError::NotEnoughReplicas { .. }) => {
            ResponseCode::SLAVE_NOT_AVAILABLE
        }
        BrokerError::Replication(ReplicaWaitError::Timeout { .. }) => {
            ResponseCode::FLUSH_SLAVE_TIMEOUT
        }
        BrokerError::Unsupported(_)
        | BrokerError::NoConsumer(_)
        | BrokerError::Missing(_)
        | BrokerError::Io { .. }
        | BrokerError::CorruptFile { .. }
        | BrokerError::Config(_) => ResponseCode::SYSTEM_ERROR,
    }
}

fn store_code(e: &StoreError) -> ResponseCode {
    match e {
        StoreError::BadMessage(_) => ResponseCode::MESSAGE_ILLEGAL,
        StoreError::DiskFull { .. }
        | StoreError::ShutDown
        | StoreError::ReadOnly
        | StoreError::Poisoned(_) => ResponseCode::SERVICE_NOT_AVAILABLE,
        StoreError::FlushTimeout { .. } => ResponseCode::FLUSH_DISK_TIMEOUT,
        _ => ResponseCode::SYSTEM_ERROR,
    }
}

/// The error response to `req`, with the error text as remark.
#[must_use]
pub fn error_response(req: &RemotingCommand, err: &BrokerError) -> RemotingCommand {
    RemotingCommand::response_to(req, code_of(err), Some(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_java_broker() {
        let cases = [
            (
                BrokerError::TopicNotExist("T".into()),
                ResponseCode::TOPIC_NOT_EXIST,
            ),
            (
                BrokerError::SendForbidden("SCHEDULE_TOPIC_XXXX".into()),
                ResponseCode::NO_PERMISSION,
            ),
            (
                BrokerError::Store(StoreError::FlushTimeout { millis: 5 }),
                ResponseCode::FLUSH_DISK_TIMEOUT,
            ),
            (
                BrokerError::Store(StoreError::ShutDown),
                ResponseCode::SERVICE_NOT_AVAILABLE,
            ),
            (
                BrokerError::NotFound("none".into()),
                ResponseCode::QUERY_NOT_FOUND,
            ),
            (
                BrokerError::MessageIllegal("too big".into()),
                ResponseCode::MESSAGE_ILLEGAL,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(code_of(&err), code, "{err}");
        }
    }
}
