//! The `SEND_BATCH_MESSAGE` body: messages encoded back to back by Java's
//! `MessageDecoder.encodeMessage`.
//!
//! ```text
//! i32  total size of this entry, this field included (= 22 + body_len + props_len)
//! i32  magic   (0, ignored)
//! i32  body CRC (0, ignored: the broker computes it)
//! i32  flag
//! i32  body length, then the body
//! i16  properties length, then the properties string (UTF-8)
//! ```
//!
//! Java's reader ignores the total size; this one checks it, since it is the only redundancy that
//! tells a corrupt batch from a valid one before anything is stored.

use bytes::{BufMut, BytesMut};

use crate::cursor::Cursor;
use crate::error::{DecodeError, EncodeError};

/// Bytes of an entry besides its body and properties.
const OVERHEAD: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// One message of a batch, borrowing the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMessage<'a> {
    pub flag: i32,
    pub body: &'a [u8],
    /// The message's own property string (`UNIQ_KEY`, `TAGS`, `KEYS`, `WAIT`, …).
    pub properties: &'a str,
}

/// Iterates the messages of a batch body; stops after the first error.
#[must_use]
pub fn iter(body: &[u8]) -> BatchIter<'_> {
    BatchIter {
        cursor: Cursor::new(body),
        failed: false,
    }
}

/// All messages of a batch body.
///
/// # Errors
/// The first malformed entry's error.
pub fn decode(body: &[u8]) -> Result<Vec<BatchMessage<'_>>, DecodeError> {
    iter(body).collect()
}

/// See [`iter`].
#[derive(Debug)]
pub struct BatchIter<'a> {
    cursor: Cursor<'a>,
    failed: bool,
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchMessage<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.cursor.remaining() == 0 {
            return None;
        }
        let entry = read_entry(&mut self.cursor);
        self.failed = entry.is_err();
        Some(entry)
    }
}

fn read_entry<'a>(c: &mut Cursor<'a>) -> Result<BatchMessage<'a>, DecodeError> {
    let start = c.position();
    let total = c.len_i32("batch message size")?;
    c.take(8, "batch message magic and CRC")?;
    let flag = c.i32("batch message flag")?;
    let body_len = c.len_i32("batch message body")?;
    let body = c.take(body_len, "batch message body")?;
    let props_len = c.len_i16("batch message properties")?;
    let properties = c.str(props_len, "batch message properties")?;
    if c.position() - start != total {
        return Err(DecodeError::BadField {
            name: "batch message size",
            value: total.to_string(),
        });
    }
    Ok(BatchMessage {
        flag,
        body,
        properties,
    })
}

/// Appends messages in the batch layout, as a Java producer does.
///
/// # Errors
/// `PropertiesTooLong` over 32767 bytes, `FrameTooLarge` for an entry over `i32::MAX`. On error
/// nothing is appended.
pub fn encode<'a>(
    messages: impl IntoIterator<Item = &'a BatchMessage<'a>>,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = out.len();
    for m in messages {
        if let Err(e) = encode_one(m, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(())
}

fn encode_one(m: &BatchMessage<'_>, out: &mut BytesMut) -> Result<(), EncodeError> {
    let props_len = m.properties.len();
    let props =
        i16::try_from(props_len).map_err(|_| EncodeError::PropertiesTooLong { len: props_len })?;
    let total = OVERHEAD + m.body.len() + props_len;
    let total_i32 = i32::try_from(total).map_err(|_| EncodeError::FrameTooLarge { len: total })?;
    // Bounded by `total`, which fits.
    let body_len =
        i32::try_from(m.body.len()).map_err(|_| EncodeError::FrameTooLarge { len: total })?;
    out.reserve(total);
    out.put_i32(total_i32);
    out.put_i32(0);
    out.put_i32(0);
    out.put_i32(m.flag);
    out.put_i32(body_len);
    out.put_slice(m.body);
    out.put_i16(props);
    out.put_slice(m.properties.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Built by hand from the layout: body "hi", properties "A\x01B\x02", flag 3.
    #[test]
    fn golden_entry() {
        let mut expected = Vec::new();
        expected.extend_from_slice(&30i32.to_be_bytes()); // 22 + 2 + 6
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&3i32.to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(b"hi");
        expected.extend_from_slice(&6i16.to_be_bytes());
        expected.extend_from_slice(b"KEYS\x01k\x02"[..6].as_ref());
        let m = BatchMessage {
            flag: 3,
            body: b"hi",
            properties: "KEYS\u{1}k",
        };
        let mut out = BytesMut::new();
        encode([&m], &mut out).expect("encodes");
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(decode(&out), Ok(vec![m]));
    }

    #[test]
    fn rejects_corrupt_entries() {
        let m = BatchMessage {
            flag: 0,
            body: b"abc",
            properties: "",
        };
        let mut out = BytesMut::new();
        encode([&m], &mut out).expect("encodes");
        let mut wrong_size = out.to_vec();
        wrong_size[3] += 1;
        assert!(matches!(
            decode(&wrong_size),
            Err(DecodeError::BadField { .. })
        ));
        let truncated = &out[..out.len() - 1];
        assert!(matches!(
            decode(truncated),
            Err(DecodeError::Truncated { .. })
        ));
        let mut negative = out.to_vec();
        negative[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            decode(&negative),
            Err(DecodeError::NegativeLength { .. })
        ));
    }

    proptest! {
        #[test]
        fn batches_round_trip(msgs in prop::collection::vec(
            (any::<i32>(), prop::collection::vec(any::<u8>(), 0..64), "\\PC{0,20}"), 0..5)
        ) {
            let batch: Vec<BatchMessage<'_>> = msgs
                .iter()
                .map(|(flag, body, props)| BatchMessage { flag: *flag, body, properties: props })
                .collect();
            let mut out = BytesMut::new();
            encode(&batch, &mut out).expect("encodes");
            prop_assert_eq!(decode(&out), Ok(batch));
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
