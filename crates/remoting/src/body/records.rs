//! Bodies made of stored message records, back to back and exactly as stored: the success bodies of
//! `PULL_MESSAGE`, `QUERY_MESSAGE` and `VIEW_MESSAGE_BY_ID`, and the `CHECK_TRANSACTION_STATE` body.
//! The record layout itself lives in `ferromq_model::record`.

use ferromq_model::record::{self, Entry, RecordError, RecordView};

use crate::error::DecodeError;

/// Iterates the records of a body; stops after the first error, since a bad length makes the rest
/// unreadable (Java clients drop the remainder of the batch the same way).
#[must_use]
pub fn iter(body: &[u8], check_crc: bool) -> Records<'_> {
    Records {
        rest: body,
        check_crc,
        failed: false,
    }
}

/// All records of a body.
///
/// # Errors
/// The first malformed record's error.
pub fn decode(body: &[u8], check_crc: bool) -> Result<Vec<RecordView<'_>>, DecodeError> {
    iter(body, check_crc).collect()
}

/// See [`iter`].
#[derive(Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    check_crc: bool,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordView<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let item = match record::read(self.rest, self.check_crc) {
            Ok(Entry::Message(view)) => {
                let len = view.total_size as usize;
                // `read` verified the record fits in `rest`.
                self.rest = self.rest.get(len..).unwrap_or_default();
                Ok(view)
            }
            // An end-of-segment marker belongs to a commit-log file, never to a message body.
            Ok(Entry::Blank { .. }) => {
                Err(RecordError::Malformed("blank marker in a message body").into())
            }
            Err(e) => Err(e.into()),
        };
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_model::record::{encode, patch_store_fields, RecordDraft};
    use proptest::prelude::*;
    use std::net::SocketAddr;

    fn stored(topic: &str, body: &[u8], physical: u64) -> Vec<u8> {
        let host: SocketAddr = "10.0.0.1:10911".parse().expect("addr");
        let draft = RecordDraft {
            topic,
            queue_id: 1,
            flag: 0,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: host,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body,
            properties: "TAGS\u{1}a\u{2}",
        };
        let mut buf = Vec::new();
        encode(&draft, usize::MAX, &mut buf).expect("encodes");
        patch_store_fields(&mut buf, 3, physical, 1_700_000_000_001);
        buf
    }

    #[test]
    fn iterates_concatenated_records() {
        let mut body = stored("T", b"one", 0);
        let first_len = body.len() as u64;
        body.extend(stored("T", b"two", first_len));
        let records = decode(&body, true).expect("decodes");
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].body, b"two");
        assert_eq!(records[1].physical_offset, first_len);
    }

    #[test]
    fn stops_at_the_first_bad_record() {
        let mut body = stored("T", b"one", 0);
        body.extend_from_slice(&[0, 0, 0, 9, 1, 2, 3, 4, 5]);
        let mut it = iter(&body, false);
        assert!(it.next().expect("first").is_ok());
        assert!(it.next().expect("second").is_err());
        assert!(it.next().is_none());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            for r in iter(&bytes, true) {
                let _ = r;
            }
        }
    }
}
