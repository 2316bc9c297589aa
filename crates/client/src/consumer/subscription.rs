//! Subscriptions: tag expressions (§4.5, `*` or `TagA || TagB`, as `SubscriptionData` with tag
//! hashes, re-checked on pulled messages as Java does since the broker filters by hash only) and
//! SQL92 conditions on message properties, which the broker evaluates (see `docs/filtering.md`).

use ferromq_model::hash::java_string_hash;
use ferromq_remoting::body::heartbeat::{expression_type, SubscriptionData, SUB_ALL};

use crate::message_ext::MessageExt;

/// What a consumer selects in a topic. A plain string converts to a tag expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSelector {
    /// `*` (everything) or `TagA || TagB`.
    Tag(String),
    /// An SQL92 condition on message properties, such as `region = 'eu' AND price > 10`.
    Sql92(String),
}

impl MessageSelector {
    #[must_use]
    pub fn tag(expression: impl Into<String>) -> Self {
        Self::Tag(expression.into())
    }

    #[must_use]
    pub fn sql(expression: impl Into<String>) -> Self {
        Self::Sql92(expression.into())
    }

    /// Compiles an SQL92 condition here, so a bad one fails before any request (brokers refuse
    /// it too, with the same message). Tag expressions always pass.
    ///
    /// # Errors
    /// What is wrong with the condition and where.
    pub fn check(&self) -> Result<(), ferromq_filter::ParseError> {
        match self {
            Self::Tag(_) => Ok(()),
            Self::Sql92(sql) => ferromq_filter::Selector::parse(sql).map(drop),
        }
    }
}

impl From<&str> for MessageSelector {
    fn from(expression: &str) -> Self {
        Self::Tag(expression.to_owned())
    }
}

impl From<String> for MessageSelector {
    fn from(expression: String) -> Self {
        Self::Tag(expression)
    }
}

impl From<&String> for MessageSelector {
    fn from(expression: &String) -> Self {
        Self::Tag(expression.clone())
    }
}

impl From<&MessageSelector> for MessageSelector {
    fn from(selector: &MessageSelector) -> Self {
        selector.clone()
    }
}

/// The subscription of `topic` to a selector (a `&str` is a tag expression); `sub_version` is a
/// millisecond timestamp.
#[must_use]
pub fn subscription_data(
    topic: &str,
    selector: impl Into<MessageSelector>,
    sub_version: i64,
) -> SubscriptionData {
    let expression = match selector.into() {
        MessageSelector::Tag(expression) => expression,
        MessageSelector::Sql92(sql) => {
            return SubscriptionData {
                topic: topic.to_owned(),
                sub_string: sql,
                sub_version,
                expression_type: expression_type::SQL92.to_owned(),
                ..SubscriptionData::default()
            }
        }
    };
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

/// Whether a pulled message passes the subscription's tag set (everything passes `*`, and SQL92
/// conditions were evaluated by the broker).
#[must_use]
pub fn accepts(sub: &SubscriptionData, msg: &MessageExt) -> bool {
    if sub.expression_type == expression_type::SQL92
        || sub.tags_set.is_empty()
        || sub.sub_string == SUB_ALL
    {
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

    #[test]
    fn sql_selectors_carry_their_expression_type() {
        let s = subscription_data("T", MessageSelector::sql("a > 1 || b"), 7);
        assert_eq!(s.expression_type, "SQL92");
        assert_eq!(s.sub_string, "a > 1 || b");
        assert!(s.tags_set.is_empty() && s.code_set.is_empty());
        assert_eq!(subscription_data("T", "TagA", 7).expression_type, "TAG");
        assert!(MessageSelector::sql("a > 1").check().is_ok());
        let e = MessageSelector::sql("a >").check().expect_err("incomplete");
        assert_eq!(e.position.column, 4);
        assert!(MessageSelector::tag("a >").check().is_ok());
    }
}
