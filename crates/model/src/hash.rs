//! Java's `String.hashCode`, bit for bit.
//!
//! RocketMQ stores the tag's hash in every consume-queue entry and hashes index keys the same way, and
//! clients send tag hash sets computed in Java, so ours must agree exactly: the hash runs over UTF-16 code
//! units with wrapping 32-bit arithmetic, not over UTF-8 bytes.

/// `s.hashCode()` as Java computes it.
#[must_use]
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The tag code stored in a consume-queue entry: the tag's Java hash sign-extended, 0 without a tag.
#[must_use]
pub fn tag_code(tag: Option<&str>) -> i64 {
    match tag {
        Some(t) if !t.is_empty() => i64::from(java_string_hash(t)),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_for_known_strings() {
        // Values computed by the JVM's String.hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        assert_eq!(java_string_hash("hello world"), 1_794_106_052);
        // Overflows and wraps negative.
        assert_eq!(
            java_string_hash("TopicTest#key-0001"),
            java_by_hand("TopicTest#key-0001")
        );
        // Characters outside the BMP count as two UTF-16 units.
        assert_eq!(java_string_hash("\u{1F600}"), 55357 * 31 + 56832);
    }

    fn java_by_hand(s: &str) -> i32 {
        let mut h: i32 = 0;
        for u in s.encode_utf16() {
            h = h.wrapping_mul(31).wrapping_add(u as i32);
        }
        h
    }

    #[test]
    fn tag_code_is_zero_without_tag() {
        assert_eq!(tag_code(None), 0);
        assert_eq!(tag_code(Some("")), 0);
        assert_eq!(tag_code(Some("TagA")), 2_598_919);
    }
}
