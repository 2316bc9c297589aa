//! The stored message record: RocketMQ's commit-log layout, which is also the wire format of pulled and
//! queried messages (a pull response body is a concatenation of stored records, copied as they are).
//!
//! All integers are big-endian. With IPv4 hosts and a V1 topic:
//!
//! ```text
//! off size field
//!   0   4  total size (whole record, this field included)
//!   4   4  magic: 0xDAA320A7 (V1, 1-byte topic length) or 0xDAA320AB (V2, 2-byte topic length)
//!   8   4  body CRC: crc32(body) & 0x7FFF_FFFF
//!  12   4  queue id
//!  16   4  flag
//!  20   8  queue offset              <- assigned at append
//!  28   8  physical offset           <- assigned at append
//!  36   4  sys flag (0x10: born host is IPv6, 0x20: store host is IPv6)
//!  40   8  born timestamp (ms)
//!  48   8  born host (4-byte IPv4 + i32 port; 16-byte IPv6 + port = 20 bytes)
//!  56   8  store timestamp (ms)      <- assigned at append
//!  64   8  store host
//!  72   4  reconsume times
//!  76   8  prepared transaction offset
//!  84 4+n  body
//!  .. 1+n  topic (V1) | 2+n (V2, used only when the topic is longer than 127 bytes)
//!  .. 2+n  properties string
//! ```
//!
//! A segment's unused tail starts with an 8-byte blank marker: `i32 remaining bytes, i32 0xCBD43194`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Magic of a record whose topic length is one byte.
pub const MAGIC_V1: u32 = 0xDAA3_20A7;
/// Magic of a record whose topic length is two bytes.
pub const MAGIC_V2: u32 = 0xDAA3_20AB;
/// Magic of the end-of-segment marker.
pub const BLANK_MAGIC: u32 = 0xCBD4_3194;
/// Length of the end-of-segment marker.
pub const BLANK_LEN: usize = 8;
/// Born host is an IPv6 address.
pub const SYSFLAG_BORNHOST_V6: i32 = 0x10;
/// Store host is an IPv6 address.
pub const SYSFLAG_STOREHOST_V6: i32 = 0x20;
/// Transaction state bits.
pub const SYSFLAG_TRANSACTION_MASK: i32 = 0xC;
/// A prepared (half) transaction message: stored, not put in a consume queue.
pub const SYSFLAG_TRANSACTION_PREPARED: i32 = 0x4;
/// A rolled-back transaction message: stored, not put in a consume queue.
pub const SYSFLAG_TRANSACTION_ROLLBACK: i32 = 0xC;

const QUEUE_OFFSET_POS: usize = 20;
const PHYSICAL_OFFSET_POS: usize = 28;
const SYSFLAG_POS: usize = 36;
const BORN_HOST_POS: usize = 48;
/// The smallest possible record: fixed IPv4 part, empty body, 1-byte topic length, empty properties.
pub const MIN_RECORD_LEN: usize = 84 + 4 + 1 + 2;
/// Topics longer than this need the V2 (2-byte length) layout.
const V1_MAX_TOPIC_LEN: usize = 127;

/// What a caller supplies to store a message; the store fills queue offset, physical offset and store time.
#[derive(Debug, Clone)]
pub struct RecordDraft<'a> {
    pub topic: &'a str,
    pub queue_id: u32,
    pub flag: i32,
    /// Caller's sys flag; the host-family bits are set from the addresses by the encoder.
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    /// Encoded property string (see [`crate::properties`]).
    pub properties: &'a str,
}

/// Why a draft cannot become a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("topic is {len} bytes; at most 32767 fit a record")]
    TopicTooLong { len: usize },
    #[error("properties are {len} bytes; at most 32767 fit a record")]
    PropertiesTooLong { len: usize },
    #[error("record would be {len} bytes; at most {max} fit")]
    TooLarge { len: usize, max: usize },
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record needs {needed} bytes, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("bad magic code {0:#010x}")]
    BadMagic(u32),
    #[error("bad record size {0}")]
    BadSize(i64),
    #[error("body CRC mismatch: stored {stored:#x}, computed {computed:#x}")]
    BadCrc { stored: u32, computed: u32 },
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

/// One entry found while scanning a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    Message(RecordView<'a>),
    /// The end-of-segment marker; `remaining` bytes (marker included) are padding.
    Blank {
        remaining: u32,
    },
}

/// A decoded record borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub total_size: u32,
    pub body_crc: u32,
    pub queue_id: u32,
    pub flag: i32,
    pub queue_offset: u64,
    pub physical_offset: u64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties: &'a str,
}

impl RecordView<'_> {
    /// Prepared and rolled-back transaction records get no consume-queue entry and no queue offset.
    #[must_use]
    pub fn is_queue_visible(&self) -> bool {
        !matches!(
            self.sys_flag & SYSFLAG_TRANSACTION_MASK,
            SYSFLAG_TRANSACTION_PREPARED | SYSFLAG_TRANSACTION_ROLLBACK
        )
    }
}

/// `crc32(body) & 0x7FFFFFFF`, as RocketMQ stores it.
#[must_use]
pub fn body_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

fn host_len(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() {
        8
    } else {
        20
    }
}

/// Length of the record a draft encodes to.
#[must_use]
pub fn encoded_len(d: &RecordDraft<'_>) -> usize {
    let topic_len_size = if d.topic.len() > V1_MAX_TOPIC_LEN {
        2
    } else {
        1
    };
    4 + 4
        + 4
        + 4
        + 4
        + 8
        + 8
        + 4
        + 8
        + host_len(&d.born_host)
        + 8
        + host_len(&d.store_host)
        + 4
        + 8
        + 4
        + d.body.len()
        + topic_len_size
        + d.topic.len()
        + 2
        + d.properties.len()
}

fn put_host(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&i32::from(addr.port()).to_be_bytes());
}

/// Appends the record for `d` to `out`, with queue offset, physical offset and store timestamp zero
/// (see [`patch_store_fields`]). Returns the record length.
///
/// # Errors
/// When the topic or properties do not fit their length fields or the record exceeds `max_len`.
pub fn encode(
    d: &RecordDraft<'_>,
    max_len: usize,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    if d.topic.len() > i16::MAX as usize {
        return Err(EncodeError::TopicTooLong { len: d.topic.len() });
    }
    if d.properties.len() > i16::MAX as usize {
        return Err(EncodeError::PropertiesTooLong {
            len: d.properties.len(),
        });
    }
    let len = encoded_len(d);
    if len > max_len || len > i32::MAX as usize {
        return Err(EncodeError::TooLarge { len, max: max_len });
    }
    let v2 = d.topic.len() > V1_MAX_TOPIC_LEN;
    let mut sys_flag = d.sys_flag & !(SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6);
    if d.born_host.is_ipv6() {
        sys_flag |= SYSFLAG_BORNHOST_V6;
    }
    if d.store_host.is_ipv6() {
        sys_flag |= SYSFLAG_STOREHOST_V6;
    }
    out.reserve(len);
    let start = out.len();
    // Lengths below were bounded above, so the casts cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    {
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(&(if v2 { MAGIC_V2 } else { MAGIC_V1 }).to_be_bytes());
        out.extend_from_slice(&body_crc(d.body).to_be_bytes());
        out.extend_from_slice(&d.queue_id.to_be_bytes());
        out.extend_from_slice(&d.flag.to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&sys_flag.to_be_bytes());
        out.extend_from_slice(&d.born_timestamp.to_be_bytes());
        put_host(out, &d.born_host);
        out.extend_from_slice(&0i64.to_be_bytes());
        put_host(out, &d.store_host);
        out.extend_from_slice(&d.reconsume_times.to_be_bytes());
        out.extend_from_slice(&d.prepared_transaction_offset.to_be_bytes());
        out.extend_from_slice(&(d.body.len() as u32).to_be_bytes());
        out.extend_from_slice(d.body);
        if v2 {
            out.extend_from_slice(&(d.topic.len() as u16).to_be_bytes());
        } else {
            out.push(d.topic.len() as u8);
        }
        out.extend_from_slice(d.topic.as_bytes());
        out.extend_from_slice(&(d.properties.len() as u16).to_be_bytes());
        out.extend_from_slice(d.properties.as_bytes());
    }
    debug_assert_eq!(out.len() - start, len);
    Ok(len)
}

/// Fills the store-assigned fields of an encoded record in place.
///
/// # Panics
/// If `record` is shorter than a record header (a caller bug: it must come from [`encode`]).
pub fn patch_store_fields(
    record: &mut [u8],
    queue_offset: u64,
    physical_offset: u64,
    store_timestamp: i64,
) {
    record[QUEUE_OFFSET_POS..QUEUE_OFFSET_POS + 8].copy_from_slice(&queue_offset.to_be_bytes());
    record[PHYSICAL_OFFSET_POS..PHYSICAL_OFFSET_POS + 8]
        .copy_from_slice(&physical_offset.to_be_bytes());
    let sys_flag = read_i32(record, SYSFLAG_POS);
    let pos = BORN_HOST_POS
        + if sys_flag & SYSFLAG_BORNHOST_V6 != 0 {
            20
        } else {
            8
        };
    record[pos..pos + 8].copy_from_slice(&store_timestamp.to_be_bytes());
}

/// The end-of-segment marker for a tail of `remaining` bytes.
#[must_use]
pub fn blank_marker(remaining: u32) -> [u8; BLANK_LEN] {
    let mut m = [0u8; BLANK_LEN];
    m[..4].copy_from_slice(&remaining.to_be_bytes());
    m[4..].copy_from_slice(&BLANK_MAGIC.to_be_bytes());
    m
}

fn read_i32(b: &[u8], pos: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[pos..pos + 4]);
    i32::from_be_bytes(a)
}

fn read_u32(b: &[u8], pos: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[pos..pos + 4]);
    u32::from_be_bytes(a)
}

fn read_u64(b: &[u8], pos: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[pos..pos + 8]);
    u64::from_be_bytes(a)
}

/// Bounds-checked big-endian reader over one record.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(RecordError::Malformed("field runs past the record end"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(read_i32(self.take(4)?, 0))
    }
    fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(read_u64(self.take(8)?, 0))
    }
    fn host(&mut self, v6: bool) -> Result<SocketAddr, RecordError> {
        let ip = if v6 {
            let mut o = [0u8; 16];
            o.copy_from_slice(self.take(16)?);
            IpAddr::V6(Ipv6Addr::from(o))
        } else {
            let mut o = [0u8; 4];
            o.copy_from_slice(self.take(4)?);
            IpAddr::V4(Ipv4Addr::from(o))
        };
        let port = self.i32()?;
        // Ports are 16-bit; anything else is not a record we wrote.
        let port = u16::try_from(port).map_err(|_| RecordError::Malformed("port out of range"))?;
        Ok(SocketAddr::new(ip, port))
    }
}

/// Reads the size and magic at the start of `buf` without decoding further.
///
/// # Errors
/// `Truncated` when fewer than 8 bytes are available.
pub fn peek(buf: &[u8]) -> Result<(u32, u32), RecordError> {
    if buf.len() < BLANK_LEN {
        return Err(RecordError::Truncated {
            needed: BLANK_LEN,
            available: buf.len(),
        });
    }
    Ok((read_u32(buf, 0), read_u32(buf, 4)))
}

/// Decodes the entry at the start of `buf`, verifying size, magic, field bounds and (when `check_crc`)
/// the body CRC. Never panics on any input.
///
/// # Errors
/// `Truncated` when `buf` ends before the entry does (more bytes may complete it); any other error means
/// the bytes are not a valid record.
pub fn read(buf: &[u8], check_crc: bool) -> Result<Entry<'_>, RecordError> {
    let (size, magic) = peek(buf)?;
    match magic {
        BLANK_MAGIC => {
            if (size as usize) < BLANK_LEN {
                return Err(RecordError::BadSize(i64::from(size)));
            }
            return Ok(Entry::Blank { remaining: size });
        }
        MAGIC_V1 | MAGIC_V2 => {}
        other => return Err(RecordError::BadMagic(other)),
    }
    let total = size as usize;
    if total < MIN_RECORD_LEN || size > i32::MAX as u32 {
        return Err(RecordError::BadSize(i64::from(size)));
    }
    if buf.len() < total {
        return Err(RecordError::Truncated {
            needed: total,
            available: buf.len(),
        });
    }
    let mut c = Cursor {
        buf: &buf[..total],
        pos: 8,
    };
    let stored_crc = read_u32(c.take(4)?, 0);
    let queue_id =
        u32::try_from(c.i32()?).map_err(|_| RecordError::Malformed("negative queue id"))?;
    let flag = c.i32()?;
    let queue_offset = c.u64()?;
    let physical_offset = c.u64()?;
    let sys_flag = c.i32()?;
    let born_timestamp = c.u64()? as i64;
    let born_host = c.host(sys_flag & SYSFLAG_BORNHOST_V6 != 0)?;
    let store_timestamp = c.u64()? as i64;
    let store_host = c.host(sys_flag & SYSFLAG_STOREHOST_V6 != 0)?;
    let reconsume_times = c.i32()?;
    let prepared_transaction_offset = c.u64()? as i64;
    let body_len =
        usize::try_from(c.i32()?).map_err(|_| RecordError::Malformed("negative body length"))?;
    let body = c.take(body_len)?;
    let topic_len = if magic == MAGIC_V2 {
        usize::from(u16::from_be_bytes([c.take(1)?[0], c.take(1)?[0]]))
    } else {
        usize::from(c.take(1)?[0])
    };
    let topic = std::str::from_utf8(c.take(topic_len)?)
        .map_err(|_| RecordError::Malformed("topic is not UTF-8"))?;
    let props_len = usize::from(u16::from_be_bytes([c.take(1)?[0], c.take(1)?[0]]));
    let properties = std::str::from_utf8(c.take(props_len)?)
        .map_err(|_| RecordError::Malformed("properties are not UTF-8"))?;
    if c.pos != total {
        return Err(RecordError::Malformed(
            "record size disagrees with its fields",
        ));
    }
    if check_crc {
        let computed = body_crc(body);
        if computed != stored_crc {
            return Err(RecordError::BadCrc {
                stored: stored_crc,
                computed,
            });
        }
    }
    Ok(Entry::Message(RecordView {
        total_size: size,
        body_crc: stored_crc,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    }))
}

#[cfg(test)]
mod tests;
