//! Building send requests (SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE, §5) and reading their responses.

use bytes::{Bytes, BytesMut};
use ferromq_model::properties::keys;
use ferromq_model::record::SYSFLAG_TRANSACTION_PREPARED;
use ferromq_remoting::body::batch::{self, BatchMessage};
use ferromq_remoting::headers::send::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::error::ClientError;
use crate::ids::{new_uniq_id, now_ms};
use crate::message::{Message, MessageQueue};
use crate::remote;
use crate::routes::DEFAULT_TOPIC;

/// Prefix of the retry topics consumers re-send failed messages to.
pub(crate) const RETRY_TOPIC_PREFIX: &str = "%RETRY%";

/// How the broker stored a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    SendOk,
    /// Stored, but the synchronous flush did not finish in time.
    FlushDiskTimeout,
    /// Stored, but replication to the slave did not finish in time.
    FlushSlaveTimeout,
    /// Stored, but no slave was available for synchronous replication.
    SlaveNotAvailable,
}

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status: SendStatus,
    /// The `UNIQ_KEY` (for a batch: the messages' keys joined with `,`).
    pub msg_id: String,
    /// The broker's offset message id (for a batch: the ids joined with `,`).
    pub offset_msg_id: String,
    pub queue: MessageQueue,
    /// Queue offset of the (first) message.
    pub queue_offset: u64,
    /// The broker's `transactionId` (the message's `UNIQ_KEY`).
    pub transaction_id: Option<String>,
    /// `MSG_REGION` of the broker.
    pub region_id: String,
    /// `TRACE_ON` of the broker: whether message traces are wanted.
    pub trace_on: bool,
}

/// What one send carries.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    Single(Message),
    Batch {
        topic: String,
        messages: Vec<Message>,
    },
}

impl Payload {
    pub(crate) fn topic(&self) -> &str {
        match self {
            Self::Single(m) => &m.topic,
            Self::Batch { topic, .. } => topic,
        }
    }

    /// Checks the message(s) and fills `UNIQ_KEY` and `WAIT` once, so retries resend the same ids.
    pub(crate) fn prepare(&mut self, max_size: usize) -> Result<(), ClientError> {
        match self {
            Self::Single(m) => {
                check_message(m, max_size)?;
                fill_system_properties(m);
            }
            Self::Batch { topic, messages } => {
                if messages.is_empty() {
                    return Err(ClientError::InvalidMessage("empty batch".into()));
                }
                let mut total = 0;
                for m in messages.iter_mut() {
                    check_message(m, max_size)?;
                    if m.topic != *topic {
                        return Err(ClientError::InvalidMessage(
                            "all messages of a batch must have the same topic".into(),
                        ));
                    }
                    if m.property(keys::DELAY_TIME_LEVEL).is_some() {
                        return Err(ClientError::InvalidMessage(
                            "batch messages cannot have a delay level".into(),
                        ));
                    }
                    fill_system_properties(m);
                    total += m.body.len() + m.encoded_properties().len() + 22;
                }
                if topic.starts_with(RETRY_TOPIC_PREFIX) {
                    return Err(ClientError::InvalidMessage(
                        "batches cannot go to a retry topic".into(),
                    ));
                }
                if total > max_size {
                    return Err(ClientError::InvalidMessage(format!(
                        "batch of {total} bytes exceeds the maximum of {max_size}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The `msg_id` of the result: the message's `UNIQ_KEY`, or the joined keys of a batch.
    fn uniq_ids(&self) -> String {
        match self {
            Self::Single(m) => m.uniq_key().unwrap_or_default().to_owned(),
            Self::Batch { messages, .. } => messages
                .iter()
                .map(|m| m.uniq_key().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The request to send this payload to `mq`.
    pub(crate) fn request(
        &self,
        group: &str,
        mq: &MessageQueue,
        default_queue_nums: i32,
    ) -> Result<RemotingCommand, ClientError> {
        let mut header = SendMessageRequestHeader {
            producer_group: group.to_owned(),
            topic: mq.topic.clone(),
            default_topic: DEFAULT_TOPIC.to_owned(),
            default_topic_queue_nums: default_queue_nums,
            queue_id: i32::try_from(mq.queue_id).unwrap_or(i32::MAX),
            sys_flag: 0,
            born_timestamp: now_ms(),
            flag: 0,
            properties: None,
            reconsume_times: Some(0),
            unit_mode: Some(false),
            batch: Some(false),
            max_reconsume_times: None,
            broker_name: Some(mq.broker_name.clone()),
        };
        let (code, body) = match self {
            Self::Single(m) => {
                let mut m = m.clone();
                if mq.topic.starts_with(RETRY_TOPIC_PREFIX) {
                    // Java moves these two into header fields for retry topics.
                    header.reconsume_times = take_int(&mut m, keys::RECONSUME_TIME);
                    header.max_reconsume_times = take_int(&mut m, keys::MAX_RECONSUME_TIMES);
                }
                if m.property(keys::TRANSACTION_PREPARED) == Some("true") {
                    header.sys_flag |= SYSFLAG_TRANSACTION_PREPARED;
                }
                header.flag = m.flag;
                header.properties = Some(m.encoded_properties());
                (RequestCode::SEND_MESSAGE_V2, m.body.clone())
            }
            Self::Batch { messages, .. } => {
                let props: Vec<String> = messages.iter().map(Message::encoded_properties).collect();
                let entries: Vec<BatchMessage<'_>> = messages
                    .iter()
                    .zip(&props)
                    .map(|(m, p)| BatchMessage {
                        flag: m.flag,
                        body: &m.body,
                        properties: p,
                    })
                    .collect();
                let mut out = BytesMut::new();
                batch::encode(&entries, &mut out)
                    .map_err(|e| ClientError::InvalidMessage(e.to_string()))?;
                // The batch wrapper has its own id and WAIT; the broker stores the inner messages.
                let wrapper = Message::new(&mq.topic, Bytes::new())
                    .with_property(keys::UNIQ_KEY, new_uniq_id())
                    .with_property(keys::WAIT_STORE_MSG_OK, "true");
                header.properties = Some(wrapper.encoded_properties());
                header.batch = Some(true);
                (RequestCode::SEND_BATCH_MESSAGE, out.freeze())
            }
        };
        Ok(RemotingCommand::request(code)
            .with_header(&SendMessageRequestHeaderV2(header))
            .with_body(body))
    }

    /// Reads a send response.
    pub(crate) fn result(
        &self,
        addr: &str,
        mq: &MessageQueue,
        resp: &RemotingCommand,
    ) -> Result<SendResult, ClientError> {
        let status = match resp.response_code() {
            ResponseCode::SUCCESS => SendStatus::SendOk,
            ResponseCode::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
            ResponseCode::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
            ResponseCode::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
            _ => return Err(remote::refusal(addr, resp)),
        };
        let h: SendMessageResponseHeader = remote::header(addr, resp)?;
        let bad = |what: &str| {
            ClientError::decode(
                addr,
                ferromq_remoting::DecodeError::BadField {
                    name: "send response",
                    value: what.to_owned(),
                },
            )
        };
        let queue_id = u32::try_from(h.queue_id).map_err(|_| bad("negative queueId"))?;
        let queue_offset =
            u64::try_from(h.queue_offset).map_err(|_| bad("negative queueOffset"))?;
        let msg_id = match (&self, &h.batch_uniq_id) {
            (Self::Batch { .. }, Some(id)) => id.clone(),
            _ => self.uniq_ids(),
        };
        Ok(SendResult {
            status,
            msg_id,
            offset_msg_id: h.msg_id,
            queue: MessageQueue::new(&mq.topic, &mq.broker_name, queue_id),
            queue_offset,
            transaction_id: h.transaction_id,
            region_id: h.msg_region,
            trace_on: h.trace_on,
        })
    }
}

fn check_message(m: &Message, max_size: usize) -> Result<(), ClientError> {
    if m.topic.is_empty() {
        return Err(ClientError::InvalidMessage("empty topic".into()));
    }
    if m.body.is_empty() {
        return Err(ClientError::InvalidMessage("empty body".into()));
    }
    if m.body.len() > max_size {
        return Err(ClientError::InvalidMessage(format!(
            "body of {} bytes exceeds the maximum of {max_size}",
            m.body.len()
        )));
    }
    Ok(())
}

fn fill_system_properties(m: &mut Message) {
    m.properties
        .entry(keys::UNIQ_KEY.to_owned())
        .or_insert_with(new_uniq_id);
    m.properties
        .entry(keys::WAIT_STORE_MSG_OK.to_owned())
        .or_insert_with(|| "true".to_owned());
}

fn take_int(m: &mut Message, key: &str) -> Option<i32> {
    m.properties.remove(key).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_model::properties;
    use ferromq_remoting::CustomHeader as _;

    #[test]
    fn single_request_uses_compact_header_and_keeps_ids() {
        let mut p = Payload::Single(Message::new("T", "body").with_tag("A").with_flag(9));
        p.prepare(1024).expect("valid");
        let mq = MessageQueue::new("T", "broker-a", 3);
        let cmd = p.request("pg", &mq, 4).expect("builds");
        assert_eq!(cmd.request_code(), RequestCode::SEND_MESSAGE_V2);
        let h = SendMessageRequestHeaderV2::from_ext_fields(&cmd.ext_fields)
            .expect("decodes")
            .0;
        assert_eq!((h.queue_id, h.flag, h.topic.as_str()), (3, 9, "T"));
        assert_eq!(h.default_topic, "TBW102");
        assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
        let props = h.properties.expect("properties");
        assert_eq!(properties::get(&props, "TAGS"), Some("A"));
        assert_eq!(properties::get(&props, "WAIT"), Some("true"));
        let uniq = properties::get(&props, "UNIQ_KEY").expect("uniq key");
        assert_eq!(p.uniq_ids(), uniq);
        assert_eq!(cmd.body.as_deref(), Some(&b"body"[..]));
    }

    #[test]
    fn batch_rules() {
        let mut mixed = Payload::Batch {
            topic: "T".into(),
            messages: vec![Message::new("T", "a"), Message::new("U", "b")],
        };
        assert!(matches!(
            mixed.prepare(1024),
            Err(ClientError::InvalidMessage(_))
        ));
        let mut delayed = Payload::Batch {
            topic: "T".into(),
            messages: vec![Message::new("T", "a").with_delay_level(2)],
        };
        assert!(matches!(
            delayed.prepare(1024),
            Err(ClientError::InvalidMessage(_))
        ));
        let mut ok = Payload::Batch {
            topic: "T".into(),
            messages: vec![Message::new("T", "a"), Message::new("T", "b")],
        };
        ok.prepare(1024).expect("valid");
        let cmd = ok
            .request("pg", &MessageQueue::new("T", "b", 0), 4)
            .expect("builds");
        assert_eq!(cmd.request_code(), RequestCode::SEND_BATCH_MESSAGE);
        let body = cmd.body.expect("body");
        let inner = batch::decode(&body).expect("batch body");
        assert_eq!(inner.len(), 2);
        assert_eq!(inner[1].body, b"b");
        assert_eq!(ok.uniq_ids().split(',').count(), 2);
    }

    #[test]
    fn retry_topic_moves_reconsume_fields_to_header() {
        let mut p = Payload::Single(
            Message::new("%RETRY%g", "x")
                .with_property("RECONSUME_TIME", "2")
                .with_property("MAX_RECONSUME_TIMES", "16"),
        );
        p.prepare(1024).expect("valid");
        let cmd = p
            .request("pg", &MessageQueue::new("%RETRY%g", "b", 0), 4)
            .expect("builds");
        let h = SendMessageRequestHeaderV2::from_ext_fields(&cmd.ext_fields)
            .expect("decodes")
            .0;
        assert_eq!(
            (h.reconsume_times, h.max_reconsume_times),
            (Some(2), Some(16))
        );
        assert_eq!(
            properties::get(&h.properties.expect("props"), "RECONSUME_TIME"),
            None
        );
    }
}
