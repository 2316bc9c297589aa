//! [`MessageExt`]: a stored message as pulled or queried, decoded from the record bytes.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordView;
use ferromq_remoting::body::records;
use ferromq_remoting::DecodeError;

use crate::message::MessageQueue;

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExt {
    pub topic: String,
    /// The broker it was read from (empty when unknown).
    pub broker_name: String,
    pub queue_id: u32,
    pub queue_offset: u64,
    /// Physical position in the broker's commit log.
    pub commit_log_offset: u64,
    /// Milliseconds since the epoch.
    pub store_timestamp: i64,
    /// Milliseconds since the epoch, as the producer stamped it.
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    /// As the producer sent it: a body stored compressed (`sys_flag & 0x1`) is decompressed here (see
    /// [`crate::compression`]); one that cannot be is kept as stored, and a warning is logged.
    pub body: Bytes,
    pub flag: i32,
    pub sys_flag: i32,
    pub body_crc: u32,
    pub properties: BTreeMap<String, String>,
    /// The producer's `UNIQ_KEY`, or the offset id when the message has none.
    pub msg_id: String,
    /// Store host + commit-log offset, in hex (what `VIEW_MESSAGE_BY_ID` takes).
    pub offset_msg_id: String,
    /// How many times it was redelivered before.
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

fn decompressed(view: &RecordView<'_>, stored: Bytes) -> Bytes {
    match crate::compression::decompress(view.sys_flag, &stored) {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(topic = view.topic, offset = view.physical_offset, error = %e,
                "cannot decompress a message body; delivering it as stored");
            stored
        }
    }
}

impl MessageExt {
    /// Decodes a record; `body` must be the buffer `view` borrows from, so the message body is a
    /// slice of it rather than a copy.
    #[must_use]
    pub fn from_record(view: &RecordView<'_>, body: &Bytes, broker_name: &str) -> Self {
        let props: BTreeMap<String, String> = properties::iter(view.properties)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let offset_msg_id = offset_msg_id(view.store_host, view.physical_offset);
        let msg_id = props
            .get(keys::UNIQ_KEY)
            .cloned()
            .unwrap_or_else(|| offset_msg_id.clone());
        Self {
            topic: view.topic.to_owned(),
            broker_name: broker_name.to_owned(),
            queue_id: view.queue_id,
            queue_offset: view.queue_offset,
            commit_log_offset: view.physical_offset,
            store_timestamp: view.store_timestamp,
            born_timestamp: view.born_timestamp,
            born_host: view.born_host,
            store_host: view.store_host,
            body: decompressed(view, body.slice_ref(view.body)),
            flag: view.flag,
            sys_flag: view.sys_flag,
            body_crc: view.body_crc,
            properties: props,
            msg_id,
            offset_msg_id,
            reconsume_times: view.reconsume_times,
            prepared_transaction_offset: view.prepared_transaction_offset,
        }
    }

    /// Decodes every record of a pull, query or view body.
    ///
    /// # Errors
    /// The first malformed record (body CRCs are checked).
    pub fn decode_all(body: &Bytes, broker_name: &str) -> Result<Vec<Self>, DecodeError> {
        records::iter(body, true)
            .map(|r| r.map(|view| Self::from_record(&view, body, broker_name)))
            .collect()
    }

    #[must_use]
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// The tag (`TAGS`).
    #[must_use]
    pub fn tags(&self) -> Option<&str> {
        self.property(keys::TAGS)
    }

    /// The business keys (`KEYS`, space-separated).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        ferromq_model::properties::split_keys(self.property(keys::KEYS).unwrap_or(""))
    }

    /// The queue it came from.
    #[must_use]
    pub fn queue(&self) -> MessageQueue {
        MessageQueue::new(&self.topic, &self.broker_name, self.queue_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_model::record::{encode, patch_store_fields, RecordDraft};

    fn record(body: &[u8], props: &str, physical: u64) -> Vec<u8> {
        let born: SocketAddr = "10.0.0.9:5000".parse().expect("addr");
        let store: SocketAddr = "10.0.0.1:10911".parse().expect("addr");
        let draft = RecordDraft {
            topic: "T",
            queue_id: 2,
            flag: 5,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: born,
            store_host: store,
            reconsume_times: 1,
            prepared_transaction_offset: 0,
            body,
            properties: props,
        };
        let mut buf = Vec::new();
        encode(&draft, usize::MAX, &mut buf).expect("encodes");
        patch_store_fields(&mut buf, 7, physical, 1_700_000_000_050);
        buf
    }

    #[test]
    fn decodes_records_and_ids() {
        let mut raw = record(
            b"hello",
            "UNIQ_KEY\u{1}U1\u{2}TAGS\u{1}A\u{2}KEYS\u{1}k1 k2\u{2}",
            0,
        );
        let next = raw.len() as u64;
        raw.extend(record(b"bye", "", next));
        let body = Bytes::from(raw);
        let msgs = MessageExt::decode_all(&body, "broker-a").expect("decodes");
        assert_eq!(msgs.len(), 2);
        let m = &msgs[0];
        assert_eq!(&m.body[..], b"hello");
        assert_eq!(
            (m.queue_id, m.queue_offset, m.flag, m.reconsume_times),
            (2, 7, 5, 1)
        );
        assert_eq!(m.msg_id, "U1");
        assert_eq!(m.offset_msg_id, "0A00000100002A9F0000000000000000");
        assert_eq!(m.tags(), Some("A"));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["k1", "k2"]);
        assert_eq!(m.queue(), MessageQueue::new("T", "broker-a", 2));
        // Without UNIQ_KEY the offset id stands in.
        assert_eq!(msgs[1].msg_id, msgs[1].offset_msg_id);
        assert_eq!(msgs[1].commit_log_offset, next);
    }
}
