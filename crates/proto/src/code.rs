//! What each v5 [`Code`] means, in one place, for adapters that map their errors to it and for
//! messages that explain it.

use crate::v2::Code;

impl Code {
    /// Whether a client treats the code as success: `OK`, and `MULTIPLE_RESULTS` for a batch
    /// whose entries carry their own statuses.
    #[must_use]
    pub fn is_success(self) -> bool {
        matches!(self, Code::Ok | Code::MultipleResults)
    }

    /// Whether the code blames the request (a 4xxxx code) rather than the server.
    #[must_use]
    pub fn is_client_error(self) -> bool {
        (40_000..50_000).contains(&(self as i32))
    }

    /// A short English meaning, for a [`Status`](crate::Status) message when there is nothing
    /// more specific to say.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Code::Unspecified => "unspecified",
            Code::Ok => "ok",
            Code::MultipleResults => "entries ended differently, see each entry",
            Code::BadRequest => "bad request",
            Code::IllegalAccessPoint => "illegal access point",
            Code::IllegalTopic => "illegal topic",
            Code::IllegalConsumerGroup => "illegal consumer group",
            Code::IllegalMessageTag => "illegal message tag",
            Code::IllegalMessageKey => "illegal message key",
            Code::IllegalMessageGroup => "illegal message group",
            Code::IllegalMessagePropertyKey => "illegal message property key",
            Code::InvalidTransactionId => "invalid transaction id",
            Code::IllegalMessageId => "illegal message id",
            Code::IllegalFilterExpression => "illegal filter expression",
            Code::IllegalInvisibleTime => "illegal invisible time",
            Code::IllegalDeliveryTime => "illegal delivery time",
            Code::InvalidReceiptHandle => "invalid receipt handle",
            Code::MessagePropertyConflictWithType => "message property conflicts with its type",
            Code::UnrecognizedClientType => "unrecognized client type",
            Code::MessageCorrupted => "message corrupted",
            Code::ClientIdRequired => "client id required",
            Code::IllegalPollingTime => "illegal polling time",
            Code::IllegalOffset => "illegal offset",
            Code::IllegalLiteTopic => "illegal lite topic",
            Code::InvalidClientProperties => "invalid client properties",
            Code::Unauthorized => "unauthorized",
            Code::PaymentRequired => "payment required",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not found",
            Code::MessageNotFound => "no message found",
            Code::TopicNotFound => "topic not found",
            Code::ConsumerGroupNotFound => "consumer group not found",
            Code::OffsetNotFound => "offset not found",
            Code::RequestTimeout => "request timeout",
            Code::PayloadTooLarge => "payload too large",
            Code::MessageBodyTooLarge => "message body too large",
            Code::MessageBodyEmpty => "message body empty",
            Code::PreconditionFailed => "precondition failed",
            Code::TooManyRequests => "too many requests",
            Code::LiteTopicQuotaExceeded => "lite topic quota exceeded",
            Code::LiteSubscriptionQuotaExceeded => "lite subscription quota exceeded",
            Code::RequestHeaderFieldsTooLarge => "request header fields too large",
            Code::MessagePropertiesTooLarge => "message properties too large",
            Code::InternalError => "internal error",
            Code::InternalServerError => "internal server error",
            Code::HaNotAvailable => "high availability not available",
            Code::NotImplemented => "not implemented",
            Code::ProxyTimeout => "server timeout",
            Code::MasterPersistenceTimeout => "master persistence timeout",
            Code::SlavePersistenceTimeout => "slave persistence timeout",
            Code::Unsupported => "unsupported",
            Code::VersionUnsupported => "version unsupported",
            Code::VerifyFifoMessageUnsupported => "verifying FIFO messages unsupported",
            Code::FailedToConsumeMessage => "failed to consume message",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_blame() {
        assert!(Code::Ok.is_success());
        assert!(Code::MultipleResults.is_success());
        assert!(!Code::MessageNotFound.is_success());
        assert!(!Code::Unspecified.is_success());
        assert!(Code::BadRequest.is_client_error());
        assert!(Code::MessagePropertiesTooLarge.is_client_error());
        assert!(!Code::InternalError.is_client_error());
        assert!(!Code::Ok.is_client_error());
    }

    #[test]
    fn numbers_and_names_both_ways() {
        assert_eq!(Code::try_from(40_013), Ok(Code::InvalidReceiptHandle));
        assert!(Code::try_from(40_099).is_err());
        assert_eq!(Code::TooManyRequests.as_str_name(), "TOO_MANY_REQUESTS");
        assert_eq!(
            Code::from_str_name("MESSAGE_NOT_FOUND"),
            Some(Code::MessageNotFound)
        );
        assert_eq!(Code::MessageNotFound.meaning(), "no message found");
    }
}
