//! Tag subscriptions: `*` or `tagA || tagB`. The store pre-filters by the tag hash kept in the
//! consume queue; hashes can collide, so records are checked again by their exact `TAGS` value.

use std::collections::{BTreeSet, HashSet};

use ferromq_model::hash::tag_code;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry};
use ferromq_remoting::body::heartbeat::{expression_type, SubscriptionData, SUB_ALL};
use ferromq_store::TagFilter;

use crate::error::BrokerError;

/// What a consumer subscribed to in one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSubscription {
    All,
    Tags(BTreeSet<String>),
}

impl TagSubscription {
    /// Parses a subscription expression of the given type (`TAG` when absent or empty).
    ///
    /// # Errors
    /// `Unsupported` for SQL92 (no property filter in this broker), `SubscriptionParse` for an
    /// unknown expression type.
    pub fn parse(expression: Option<&str>, kind: Option<&str>) -> Result<Self, BrokerError> {
        match kind.unwrap_or("") {
            "" | expression_type::TAG => Ok(Self::from_tag_expression(expression.unwrap_or(""))),
            expression_type::SQL92 => Err(sql92_unsupported()),
            other => Err(BrokerError::SubscriptionParse {
                expression: expression.unwrap_or("").to_owned(),
                reason: format!("unknown expression type {other}"),
            }),
        }
    }

    /// `*` or empty: everything; otherwise the `||`-separated tags, trimmed, empties dropped.
    #[must_use]
    pub fn from_tag_expression(expression: &str) -> Self {
        let expression = expression.trim();
        if expression.is_empty() || expression == SUB_ALL {
            return Self::All;
        }
        let tags: BTreeSet<String> = expression
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        if tags.is_empty() {
            Self::All
        } else {
            Self::Tags(tags)
        }
    }

    /// From a heartbeat's subscription.
    ///
    /// # Errors
    /// As [`TagSubscription::parse`].
    pub fn from_data(data: &SubscriptionData) -> Result<Self, BrokerError> {
        Self::parse(Some(&data.sub_string), Some(&data.expression_type))
    }

    /// The consume-queue pre-filter.
    #[must_use]
    pub fn store_filter(&self) -> TagFilter {
        match self {
            Self::All => TagFilter::All,
            Self::Tags(tags) => TagFilter::Codes(
                tags.iter()
                    .map(|t| tag_code(Some(t)))
                    .collect::<HashSet<i64>>(),
            ),
        }
    }

    /// Whether a stored record's `TAGS` matches exactly. Unreadable records are kept: the client
    /// decodes and reports them, and dropping them would hide the problem.
    #[must_use]
    pub fn accepts_record(&self, bytes: &[u8]) -> bool {
        let Self::Tags(tags) = self else {
            return true;
        };
        match record::read(bytes, false) {
            Ok(Entry::Message(r)) => {
                properties::get(r.properties, keys::TAGS).is_some_and(|t| tags.contains(t))
            }
            _ => true,
        }
    }
}

/// Java's remark when a broker has `enablePropertyFilter=false`.
pub(crate) fn sql92_unsupported() -> BrokerError {
    BrokerError::Unsupported(
        "The broker does not support consumer to filter message by SQL92".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tag_expressions() {
        assert_eq!(
            TagSubscription::from_tag_expression("*"),
            TagSubscription::All
        );
        assert_eq!(
            TagSubscription::from_tag_expression(" "),
            TagSubscription::All
        );
        let s = TagSubscription::from_tag_expression("TagA || TagB ||");
        assert_eq!(
            s,
            TagSubscription::Tags(["TagA".to_owned(), "TagB".to_owned()].into())
        );
        let TagFilter::Codes(codes) = s.store_filter() else {
            panic!("codes expected");
        };
        assert!(codes.contains(&2_598_919));
        assert!(TagSubscription::parse(Some("a > 1"), Some("SQL92")).is_err());
        assert!(TagSubscription::parse(Some("*"), Some("TAG")).is_ok());
        assert!(TagSubscription::parse(Some("*"), None).is_ok());
    }
}
