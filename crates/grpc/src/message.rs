//! A stored message as a v5 `Message`: the reverse of `send.rs`'s mapping, for messages the server
//! hands to clients (the half message of a transaction check).

use std::collections::BTreeMap;

use bytes::Bytes;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordView;
use ferromq_proto::v2::{
    Digest, DigestType, Encoding, Message, MessageType, Resource, SystemProperties,
};

use crate::send::{is_reserved, SHARDING_KEY, TRACE_CONTEXT};

/// The v5 form of `view`, of type `kind`.
pub(crate) fn from_record(view: &RecordView<'_>, kind: MessageType) -> Message {
    let props = view.properties;
    let user_properties: BTreeMap<String, String> = properties::iter(props)
        .filter(|(name, _)| !is_reserved(name))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let get = |name| properties::get(props, name).map(str::to_owned);
    let system = SystemProperties {
        tag: get(keys::TAGS),
        keys: properties::get(props, keys::KEYS)
            .map(|k| properties::split_keys(k).map(str::to_owned).collect())
            .unwrap_or_default(),
        message_id: get(keys::UNIQ_KEY).unwrap_or_default(),
        // v5 clients check the body against its digest. MD5 in upper-case hex is what RocketMQ's
        // proxy sends and what every SDK checks alike (the Node.js SDK compares a CRC32 digest
        // with a decimal number, so a hex CRC32 marks every message corrupted there).
        body_digest: Some(Digest {
            r#type: DigestType::Md5 as i32,
            checksum: md5_hex(view.body),
        }),
        body_encoding: if view.sys_flag & 0x1 != 0 {
            Encoding::Gzip
        } else {
            Encoding::Identity
        } as i32,
        message_type: kind as i32,
        born_timestamp: Some(timestamp(view.born_timestamp)),
        born_host: view.born_host.ip().to_string(),
        store_timestamp: Some(timestamp(view.store_timestamp)),
        store_host: view.store_host.to_string(),
        queue_id: i32::try_from(view.queue_id).unwrap_or(0),
        queue_offset: i64::try_from(view.queue_offset).ok(),
        message_group: get(SHARDING_KEY),
        trace_context: get(TRACE_CONTEXT),
        ..SystemProperties::default()
    };
    Message {
        topic: Some(Resource::named(view.topic)),
        user_properties,
        system_properties: Some(system),
        body: Bytes::copy_from_slice(view.body),
    }
}

fn md5_hex(body: &[u8]) -> String {
    use md5::{Digest as _, Md5};
    use std::fmt::Write as _;
    Md5::digest(body)
        .iter()
        .fold(String::with_capacity(32), |mut hex, b| {
            let _ = write!(hex, "{b:02X}");
            hex
        })
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}
