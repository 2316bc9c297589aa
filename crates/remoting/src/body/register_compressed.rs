//! The compressed form of the `REGISTER_BROKER` body (header `compressed=true`), which Java brokers
//! send with `compressedRegister=true` and which keeps the registration of tens of thousands of
//! topics far below the frame limit (the text form takes about 160 bytes per topic).
//!
//! A zlib stream (RFC 1950) of big-endian `i32` lengths and byte strings, in order: the
//! `DataVersion` JSON; the topic count, then per topic its config as space-separated text
//! `name readQueueNums writeQueueNums perm filterType [attributesJSON]`; the filter-server list as a
//! JSON array; the count of static-topic mappings, then each mapping's JSON. The text form does not
//! carry `order` or `topicSysFlag` (Java's reader leaves them at their defaults, and so do we).

use std::collections::BTreeMap;
use std::io::{Read, Write as _};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::register::{
    DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType,
};
use crate::error::DecodeError;

/// Most bytes a compressed body may inflate to: a decompression bomb stops here.
pub const MAX_INFLATED_BYTES: u64 = 256 * 1024 * 1024;

impl RegisterBrokerBody {
    /// The compressed form (see the module documentation).
    #[must_use]
    pub fn to_compressed(&self) -> Vec<u8> {
        let w = &self.topic_config_serialize_wrapper;
        let mut raw = Vec::new();
        put(&mut raw, &json(&w.data_version));
        put_len(&mut raw, w.topic_config_table.len());
        for t in w.topic_config_table.values() {
            put(&mut raw, topic_text(t).as_bytes());
        }
        put(&mut raw, &json(&self.filter_server_list));
        let mappings: Vec<&serde_json::Value> = match &w.topic_queue_mapping_info_map {
            Some(serde_json::Value::Object(m)) => m.values().collect(),
            _ => Vec::new(),
        };
        put_len(&mut raw, mappings.len());
        for m in mappings {
            put(&mut raw, &json(m));
        }
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        let _ = z.write_all(&raw);
        z.finish().unwrap_or_default()
    }

    /// Reads the compressed form.
    ///
    /// # Errors
    /// `InvalidJson` for a stream that does not inflate or inflates past [`MAX_INFLATED_BYTES`],
    /// `Truncated` / `NegativeLength` for lengths that do not fit, `BadField` for a topic line that
    /// does not parse, `InvalidJson` for bad JSON parts.
    pub fn from_compressed(bytes: &[u8]) -> Result<RegisterBrokerBody, DecodeError> {
        Self::from_compressed_within(bytes, MAX_INFLATED_BYTES)
    }

    fn from_compressed_within(bytes: &[u8], limit: u64) -> Result<RegisterBrokerBody, DecodeError> {
        let mut raw = Vec::new();
        ZlibDecoder::new(bytes)
            .take(limit + 1)
            .read_to_end(&mut raw)
            .map_err(|e| DecodeError::InvalidJson(format!("compressed register body: {e}")))?;
        if raw.len() as u64 > limit {
            return Err(DecodeError::InvalidJson(format!(
                "compressed register body inflates past {limit} bytes"
            )));
        }
        let mut r = Reader { rest: &raw };
        let data_version: DataVersion = parse_json(r.bytes("dataVersion")?)?;
        let topics = r.len("topic count")?;
        let mut table = BTreeMap::new();
        for _ in 0..topics {
            let t = parse_topic(r.bytes("topic config")?)?;
            table.insert(t.topic_name.clone(), t);
        }
        let filter_server_list: Vec<String> = parse_json(r.bytes("filterServerList")?)?;
        let mut mappings = serde_json::Map::new();
        // Brokers before 5.0 end here.
        if !r.rest.is_empty() {
            for _ in 0..r.len("mapping count")? {
                let m: serde_json::Value = parse_json(r.bytes("topic queue mapping")?)?;
                let topic = m
                    .get("topic")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                mappings.insert(topic, m);
            }
        }
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                topic_config_table: table,
                topic_queue_mapping_info_map: Some(serde_json::Value::Object(mappings)),
                ..TopicConfigSerializeWrapper::default()
            },
        })
    }
}

fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::InvalidJson(e.to_string()))
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&i32::try_from(n).unwrap_or(i32::MAX).to_be_bytes());
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Java's `TopicConfig.encode()`.
fn topic_text(t: &TopicConfig) -> String {
    let filter = match t.topic_filter_type.unwrap_or_default() {
        TopicFilterType::SingleTag => "SINGLE_TAG",
        TopicFilterType::MultiTag => "MULTI_TAG",
    };
    let mut s = format!(
        "{} {} {} {} {filter}",
        t.topic_name, t.read_queue_nums, t.write_queue_nums, t.perm
    );
    if !t.attributes.is_empty() {
        s.push(' ');
        s.push_str(&String::from_utf8(json(&t.attributes)).unwrap_or_default());
    }
    s
}

/// Java's `TopicConfig.decode()`: five fields, and from 5.x an optional sixth (attributes JSON,
/// which may itself hold spaces).
fn parse_topic(bytes: &[u8]) -> Result<TopicConfig, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8("topic config"))?;
    let bad = || DecodeError::BadField {
        name: "topicConfig",
        value: text.chars().take(200).collect(),
    };
    let f: Vec<&str> = text.splitn(6, ' ').collect();
    if f.len() < 5 {
        return Err(bad());
    }
    let int = |s: &str| s.parse::<i32>().map_err(|_| bad());
    let topic_filter_type = match f[4] {
        "SINGLE_TAG" => Some(TopicFilterType::SingleTag),
        "MULTI_TAG" => Some(TopicFilterType::MultiTag),
        _ => None,
    };
    let attributes = match f.get(5) {
        Some(a) => parse_json(a.as_bytes())?,
        None => BTreeMap::new(),
    };
    Ok(TopicConfig {
        topic_name: f[0].to_owned(),
        read_queue_nums: int(f[1])?,
        write_queue_nums: int(f[2])?,
        perm: int(f[3])?,
        topic_filter_type,
        attributes,
        order: false,
        topic_sys_flag: 0,
    })
}

/// Length-prefixed parts of the inflated stream.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn len(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<4>() else {
            return Err(DecodeError::Truncated {
                what,
                needed: 4,
                available: self.rest.len(),
            });
        };
        self.rest = rest;
        let n = i32::from_be_bytes(*head);
        usize::try_from(n).map_err(|_| DecodeError::NegativeLength {
            what,
            len: i64::from(n),
        })
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.len(what)?;
        if n > self.rest.len() {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                available: self.rest.len(),
            });
        }
        let (part, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::JsonBody;

    fn sample() -> RegisterBrokerBody {
        let mut table = BTreeMap::new();
        for i in 0..300 {
            let mut t = TopicConfig {
                topic_name: format!("T{i}"),
                read_queue_nums: 8,
                write_queue_nums: 4,
                perm: 6,
                topic_filter_type: Some(TopicFilterType::SingleTag),
                ..TopicConfig::default()
            };
            if i % 3 == 0 {
                t.attributes
                    .insert("message.type".into(), "FIFO with space".into());
            }
            table.insert(t.topic_name.clone(), t);
        }
        RegisterBrokerBody {
            filter_server_list: vec!["127.0.0.1:1".into()],
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version: DataVersion {
                    counter: 42,
                    state_version: 3,
                    timestamp: 1_700_000_000_000,
                },
                topic_config_table: table,
                topic_queue_mapping_info_map: Some(serde_json::json!({
                    "ST": {"bname": "broker-a", "epoch": 0, "topic": "ST", "totalQueues": 1}
                })),
                ..TopicConfigSerializeWrapper::default()
            },
        }
    }

    #[test]
    fn round_trips_and_is_much_smaller_than_json() {
        let body = sample();
        let z = body.to_compressed();
        assert!(z.len() * 10 < body.to_json().len(), "{} bytes", z.len());
        assert_eq!(
            RegisterBrokerBody::from_compressed(&z).expect("decodes"),
            body
        );
    }

    /// Built by hand from the documented layout, as a Java 4.x broker writes it (no mapping
    /// count, no attributes).
    #[test]
    fn reads_the_documented_layout() {
        let mut raw = Vec::new();
        put(&mut raw, br#"{"counter":7,"stateVersion":0,"timestamp":1}"#);
        put_len(&mut raw, 1);
        put(&mut raw, b"TopicTest 4 4 6 MULTI_TAG");
        put(&mut raw, b"[]");
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&raw).expect("write");
        let body = RegisterBrokerBody::from_compressed(&z.finish().expect("finish")).expect("ok");
        let w = &body.topic_config_serialize_wrapper;
        assert_eq!(w.data_version.counter, 7);
        let t = &w.topic_config_table["TopicTest"];
        assert_eq!(
            (
                t.read_queue_nums,
                t.write_queue_nums,
                t.perm,
                t.topic_filter_type
            ),
            (4, 4, 6, Some(TopicFilterType::MultiTag))
        );
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let good = sample().to_compressed();
        assert!(RegisterBrokerBody::from_compressed(b"not zlib").is_err());
        assert!(RegisterBrokerBody::from_compressed(&good[..good.len() / 2]).is_err());
        let mut raw = Vec::new();
        put(&mut raw, br#"{"counter":1}"#);
        put_len(&mut raw, 5);
        put(&mut raw, b"T 1 x 6 SINGLE_TAG");
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&raw).expect("write");
        assert!(matches!(
            RegisterBrokerBody::from_compressed(&z.finish().expect("finish")),
            Err(DecodeError::BadField { .. })
        ));
        let mut raw = Vec::new();
        raw.extend_from_slice(&(-5i32).to_be_bytes());
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&raw).expect("write");
        assert!(matches!(
            RegisterBrokerBody::from_compressed(&z.finish().expect("finish")),
            Err(DecodeError::NegativeLength { .. })
        ));
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        z.write_all(&vec![0u8; 4 << 20]).expect("write");
        let bomb = z.finish().expect("finish");
        assert!(bomb.len() < 64 << 10);
        assert!(matches!(
            RegisterBrokerBody::from_compressed_within(&bomb, 1 << 20),
            Err(DecodeError::InvalidJson(m)) if m.contains("inflates past")
        ));
    }
}
