//! Tag subscriptions (§4.5): `*` or `TagA || TagB`, as `SubscriptionData` with tag hashes, and the
//! client-side re-check Java applies to pulled messages (the broker filters by hash only).

use ferromq_model::hash::java_string_hash;
use ferromq_remoting::body::heartbeat::{expression_type, SubscriptionData, SUB_ALL};

use crate::message_ext::MessageExt;

/// The subscription of `topic` to a tag expression; `sub_version` is a millisecond timestamp.
#[must_use]
pub fn subscription_data(topic: &str, expression: &str, sub_version: i64) -> SubscriptionData {
    let expression = expression.trim();
    let mut data = SubscriptionData {
        topic: topic.to_owned(),
        sub_string: if expression.is_empty() {
            SUB_ALL.to_owned()
        } else {
            expression.to_owned()
        },
        sub_version,
        expression_type: expression_type::TAG.to_owned(),
        ..SubscriptionData::default()
    };
    if data.sub_string != SUB_ALL {
        for tag in data
            .sub_string
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if !data.tags_set.iter().any(|t| t == tag) {
                data.tags_set.push(tag.to_owned());
                data.code_set.push(java_string_hash(tag));
            }
        }
    }
    data
}

/// Whether a pulled message passes the subscription's tag set (everything passes `*`).
#[must_use]
pub fn accepts(sub: &SubscriptionData, msg: &MessageExt) -> bool {
    if sub.tags_set.is_empty() || sub.sub_string == SUB_ALL {
        return true;
    }
    msg.tags()
        .is_some_and(|t| sub.tags_set.iter().any(|s| s == t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tag_expressions() {
        let s = subscription_data("T", " TagA || TagB ||  || TagA", 5);
        assert_eq!(s.tags_set, ["TagA", "TagB"]);
        assert_eq!(s.code_set, [2_598_919, java_string_hash("TagB")]);
        assert_eq!(s.sub_string, "TagA || TagB ||  || TagA");
        let all = subscription_data("T", "", 0);
        assert_eq!(all.sub_string, "*");
        assert!(all.tags_set.is_empty());
    }
}
