//! Transactions: `END_TRANSACTION` (37, producer → broker, oneway) and `CHECK_TRANSACTION_STATE`
//! (39, broker → producer, oneway).

use super::ext_header;

/// Values of [`EndTransactionRequestHeader::commit_or_rollback`] (the `MessageSysFlag` bits).
pub mod commit_or_rollback {
    /// Unknown: the broker ignores the request and checks back later.
    pub const NOT_TYPE: i32 = 0;
    pub const COMMIT: i32 = 0x8;
    pub const ROLLBACK: i32 = 0xC;
}

ext_header! {
    /// `END_TRANSACTION` (37).
    pub struct EndTransactionRequestHeader {
        pub topic: Option<String> = "topic",
        pub producer_group: String = "producerGroup",
        /// Queue offset of the half message (from the send response).
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        /// Commit-log offset of the half message.
        pub commit_log_offset: i64 = "commitLogOffset",
        /// See [`commit_or_rollback`].
        pub commit_or_rollback: i32 = "commitOrRollback",
        /// True when answering a `CHECK_TRANSACTION_STATE`.
        pub from_transaction_check: bool = "fromTransactionCheck" [default: false],
        /// The message's `UNIQ_KEY`.
        pub msg_id: String = "msgId",
        pub transaction_id: Option<String> = "transactionId",
        pub broker_name: Option<String> = "bname",
    }
}

ext_header! {
    /// `CHECK_TRANSACTION_STATE` (39); the body is the half message as a stored record.
    pub struct CheckTransactionStateRequestHeader {
        pub topic: Option<String> = "topic",
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        pub commit_log_offset: i64 = "commitLogOffset",
        pub msg_id: Option<String> = "msgId",
        pub transaction_id: Option<String> = "transactionId",
        pub offset_msg_id: Option<String> = "offsetMsgId",
        pub broker_name: Option<String> = "bname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;

    round_trip_tests!(
        end_transaction: EndTransactionRequestHeader,
        check_transaction_state: CheckTransactionStateRequestHeader,
    );
}
