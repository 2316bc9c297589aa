//! [`TransactionProducer`]: sends half messages, runs the local transaction, then commits or rolls
//! back with END_TRANSACTION; answers the broker's CHECK_TRANSACTION_STATE with a check listener.
//!
//! The sequence is Java's `TransactionMQProducer`: the message goes out with `TRAN_MSG=true` and
//! `PGROUP`, so the broker parks it invisibly; the local transaction runs only when the half
//! message was stored; its outcome goes to the broker oneway. When the outcome is unknown (or lost),
//! the broker later asks one producer of the group, on that producer's own connection, and the
//! check listener decides.

use std::sync::Arc;

use async_trait::async_trait;
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_model::properties::keys;
use ferromq_net::{ClientConfig, Handler, RequestContext};
use ferromq_remoting::body::records;
use ferromq_remoting::headers::transaction::{
    commit_or_rollback, CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode};
use tracing::{debug, warn};

use super::{Producer, ProducerConfig, SendResult, SendStatus};
use crate::error::ClientError;
use crate::message::Message;
use crate::message_ext::MessageExt;

/// The outcome of a local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTransactionState {
    /// Deliver the message.
    Commit,
    /// Drop the message.
    Rollback,
    /// Not decided yet: the broker will ask the check listener later.
    Unknown,
}

impl LocalTransactionState {
    fn wire(self) -> i32 {
        match self {
            Self::Commit => commit_or_rollback::COMMIT,
            Self::Rollback => commit_or_rollback::ROLLBACK,
            Self::Unknown => commit_or_rollback::NOT_TYPE,
        }
    }
}

/// The result of [`TransactionProducer::send_in_transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSendResult {
    /// How the half message was stored.
    pub send: SendResult,
    /// What the local transaction decided (what was sent to the broker).
    pub state: LocalTransactionState,
}

/// The check listener: the state of the local transaction of a half message the broker asks about.
pub type CheckListener = Arc<dyn Fn(&MessageExt) -> LocalTransactionState + Send + Sync>;

/// A producer of transaction messages.
#[derive(Debug)]
pub struct TransactionProducer {
    producer: Producer,
}

impl TransactionProducer {
    /// Starts a producer whose connections answer CHECK_TRANSACTION_STATE with `check` (run on the
    /// blocking pool).
    ///
    /// # Errors
    /// An invalid configuration.
    pub async fn start<F>(config: ProducerConfig, check: F) -> Result<Self, ClientError>
    where
        F: Fn(&MessageExt) -> LocalTransactionState + Send + Sync + 'static,
    {
        let handler = CheckHandler {
            group: config.group.clone(),
            check: Arc::new(check),
        };
        let producer = Producer::start_with(
            config,
            ClientConfig {
                handler: Arc::new(handler),
                ..ClientConfig::default()
            },
        )
        .await?;
        Ok(Self { producer })
    }

    /// The underlying producer (for plain sends from the same group).
    #[must_use]
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `msg` as a half message, runs `local` once the broker stored it, and reports the
    /// outcome. When the send was not fully successful the transaction is rolled back without
    /// running `local`, as Java does.
    ///
    /// # Errors
    /// The half message could not be sent; the outcome could not be handed to the connection (the
    /// broker then checks back).
    pub async fn send_in_transaction<F>(
        &self,
        mut msg: Message,
        local: F,
    ) -> Result<TransactionSendResult, ClientError>
    where
        F: FnOnce(&Message, &SendResult) -> LocalTransactionState,
    {
        if msg.property(keys::DELAY_TIME_LEVEL).is_some() {
            msg.properties.remove(keys::DELAY_TIME_LEVEL);
        }
        let group = self.producer.shared.config.group.clone();
        msg.properties
            .insert(keys::TRANSACTION_PREPARED.to_owned(), "true".to_owned());
        msg.properties
            .insert(keys::PRODUCER_GROUP.to_owned(), group.clone());
        let send = self.producer.send(msg.clone()).await?;
        let state = if send.status == SendStatus::SendOk {
            local(&msg, &send)
        } else {
            LocalTransactionState::Rollback
        };
        self.end(&group, &send, state).await?;
        Ok(TransactionSendResult { send, state })
    }

    async fn end(
        &self,
        group: &str,
        send: &SendResult,
        state: LocalTransactionState,
    ) -> Result<(), ClientError> {
        let (_, commit_log_offset) =
            decode_offset_msg_id(&send.offset_msg_id).ok_or_else(|| {
                ClientError::InvalidArgument(format!(
                    "the broker returned an unreadable offset message id {}",
                    send.offset_msg_id
                ))
            })?;
        let shared = &self.producer.shared;
        let addr = shared
            .routes
            .find_master(&send.queue.broker_name, &send.queue.topic)
            .await?;
        let header = EndTransactionRequestHeader {
            topic: Some(send.queue.topic.clone()),
            producer_group: group.to_owned(),
            tran_state_table_offset: i64::try_from(send.queue_offset).unwrap_or(i64::MAX),
            commit_log_offset: i64::try_from(commit_log_offset).unwrap_or(i64::MAX),
            commit_or_rollback: state.wire(),
            from_transaction_check: false,
            msg_id: send.msg_id.clone(),
            transaction_id: send.transaction_id.clone(),
            broker_name: Some(send.queue.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(RequestCode::END_TRANSACTION).with_header(&header);
        shared.remote.oneway(&addr, cmd).await
    }

    /// Stops the producer (see [`Producer::shutdown`]).
    pub async fn shutdown(self) {
        self.producer.shutdown().await;
    }
}

/// Answers the broker's CHECK_TRANSACTION_STATE on the connection it came from.
struct CheckHandler {
    group: String,
    check: CheckListener,
}

#[async_trait]
impl Handler for CheckHandler {
    async fn handle(&self, ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        if req.request_code() != RequestCode::CHECK_TRANSACTION_STATE {
            return Some(ferromq_net::not_supported(&req));
        }
        let header: CheckTransactionStateRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => {
                warn!(error = %e, "unreadable transaction check");
                return None;
            }
        };
        let body = req.body.clone().unwrap_or_default();
        let msg = match records::iter(&body, true).next() {
            Some(Ok(view)) => MessageExt::from_record(
                &view,
                &body,
                header.broker_name.as_deref().unwrap_or_default(),
            ),
            other => {
                warn!(error = ?other.map(|r| r.err()), "transaction check without a readable message");
                return None;
            }
        };
        let check = self.check.clone();
        let state = match tokio::task::spawn_blocking(move || {
            let state = check(&msg);
            (state, msg)
        })
        .await
        {
            Ok((state, _)) => state,
            Err(e) => {
                warn!(error = %e, "check listener panicked; leaving the transaction unknown");
                LocalTransactionState::Unknown
            }
        };
        let answer = EndTransactionRequestHeader {
            topic: header.topic.clone(),
            producer_group: self.group.clone(),
            tran_state_table_offset: header.tran_state_table_offset,
            commit_log_offset: header.commit_log_offset,
            commit_or_rollback: state.wire(),
            from_transaction_check: true,
            msg_id: header.msg_id.clone().unwrap_or_default(),
            transaction_id: header.transaction_id.clone(),
            broker_name: header.broker_name.clone(),
        };
        let cmd = RemotingCommand::request(RequestCode::END_TRANSACTION)
            .with_header(&answer)
            .oneway();
        if let Err(e) = ctx.connection().send_oneway(cmd).await {
            debug!(error = %e, "transaction check answer not sent");
        }
        None
    }
}
