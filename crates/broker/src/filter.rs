//! Which messages a subscription selects: a tag expression (`*` or `tagA || tagB`) or an SQL92
//! condition over the message properties.
//!
//! Tags: the store pre-filters by the tag hash kept in the consume queue; hashes can collide, so
//! records are checked again by their exact `TAGS` value. SQL92: every record's properties (user
//! properties and system ones such as `TAGS` and `KEYS`) are decoded and the compiled condition
//! evaluated; only a definite true selects, as on RocketMQ brokers. Compiled conditions are cached
//! per (group, topic, expression), so a pull does not compile again.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use ferromq_filter::Selector;
use ferromq_model::hash::tag_code;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry};
use ferromq_remoting::body::heartbeat::{expression_type, SubscriptionData, SUB_ALL};
use ferromq_store::TagFilter;
use parking_lot::Mutex;

use crate::error::BrokerError;

/// What a consumer subscribed to in one topic.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageFilter {
    All,
    Tags(BTreeSet<String>),
    Sql(Arc<Selector>),
}

/// Who asks for a filter: the cache key besides the expression, and context for errors.
#[derive(Debug, Clone, Copy)]
pub struct FilterOwner<'a> {
    pub group: &'a str,
    pub topic: &'a str,
}

impl MessageFilter {
    /// Parses a subscription expression of the given type (`TAG` when absent or empty).
    ///
    /// # Errors
    /// `SubscriptionParse` for an SQL92 expression that does not compile (the remark names the
    /// position) or an unknown expression type.
    pub fn parse(
        expression: Option<&str>,
        kind: Option<&str>,
        owner: FilterOwner<'_>,
        cache: &FilterCache,
    ) -> Result<Self, BrokerError> {
        let expression = expression.unwrap_or("");
        match kind.unwrap_or("") {
            "" | expression_type::TAG => Ok(Self::from_tag_expression(expression)),
            expression_type::SQL92 => cache.compile(owner, expression).map(Self::Sql),
            other => Err(BrokerError::SubscriptionParse {
                expression: expression.to_owned(),
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
    /// As [`MessageFilter::parse`].
    pub fn from_data(
        data: &SubscriptionData,
        group: &str,
        cache: &FilterCache,
    ) -> Result<Self, BrokerError> {
        let owner = FilterOwner {
            group,
            topic: &data.topic,
        };
        Self::parse(
            Some(&data.sub_string),
            Some(&data.expression_type),
            owner,
            cache,
        )
    }

    /// The consume-queue pre-filter (SQL92 conditions need the record itself).
    #[must_use]
    pub fn store_filter(&self) -> TagFilter {
        match self {
            Self::All | Self::Sql(_) => TagFilter::All,
            Self::Tags(tags) => TagFilter::Codes(
                tags.iter()
                    .map(|t| tag_code(Some(t)))
                    .collect::<HashSet<i64>>(),
            ),
        }
    }

    /// Whether records are filtered after the store read, so a pull should read on when some were
    /// dropped. (The store already skips tag mismatches by hash within its scan window.)
    #[must_use]
    pub fn filters_records(&self) -> bool {
        matches!(self, Self::Sql(_))
    }

    /// Whether a stored record passes. Unreadable records are kept: the client decodes and reports
    /// them, and dropping them would hide the problem.
    #[must_use]
    pub fn accepts_record(&self, bytes: &[u8]) -> bool {
        if matches!(self, Self::All) {
            return true;
        }
        let Ok(Entry::Message(r)) = record::read(bytes, false) else {
            return true;
        };
        match self {
            Self::All => true,
            Self::Tags(tags) => {
                properties::get(r.properties, keys::TAGS).is_some_and(|t| tags.contains(t))
            }
            Self::Sql(selector) => selector.evaluate(&|name| properties::get(r.properties, name)),
        }
    }
}

/// Most compiled SQL92 conditions kept; the oldest entry goes first when full.
const CACHE_CAPACITY: usize = 1024;

type CacheKey = (String, String, String);

/// Compiled SQL92 conditions by (group, topic, expression), bounded.
#[derive(Debug, Default)]
pub struct FilterCache {
    inner: Mutex<CacheEntries>,
}

#[derive(Debug, Default)]
struct CacheEntries {
    compiled: HashMap<CacheKey, Arc<Selector>>,
    /// Insertion order, for eviction.
    order: VecDeque<CacheKey>,
}

impl FilterCache {
    /// The compiled form of `expression`, compiling it on first use.
    ///
    /// # Errors
    /// `SubscriptionParse` naming the group, topic and the position of the problem.
    pub fn compile(
        &self,
        owner: FilterOwner<'_>,
        expression: &str,
    ) -> Result<Arc<Selector>, BrokerError> {
        let key = (
            owner.group.to_owned(),
            owner.topic.to_owned(),
            expression.to_owned(),
        );
        if let Some(hit) = self.inner.lock().compiled.get(&key) {
            return Ok(hit.clone());
        }
        // Compiled outside the lock: expressions can be long, and a race only compiles twice.
        let selector =
            Arc::new(
                Selector::parse(expression).map_err(|e| BrokerError::SubscriptionParse {
                    expression: expression.to_owned(),
                    reason: format!(
                        "SQL92 error for group {} topic {}: {e}",
                        owner.group, owner.topic
                    ),
                })?,
            );
        let mut entries = self.inner.lock();
        if entries.compiled.len() >= CACHE_CAPACITY {
            if let Some(oldest) = entries.order.pop_front() {
                entries.compiled.remove(&oldest);
            }
        }
        if entries
            .compiled
            .insert(key.clone(), selector.clone())
            .is_none()
        {
            entries.order.push_back(key);
        }
        Ok(selector)
    }

    /// How many compiled conditions are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().compiled.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: FilterOwner<'static> = FilterOwner {
        group: "G",
        topic: "T",
    };

    #[test]
    fn parses_tag_expressions() {
        let cache = FilterCache::default();
        assert_eq!(MessageFilter::from_tag_expression("*"), MessageFilter::All);
        assert_eq!(MessageFilter::from_tag_expression(" "), MessageFilter::All);
        let s = MessageFilter::from_tag_expression("TagA || TagB ||");
        assert_eq!(
            s,
            MessageFilter::Tags(["TagA".to_owned(), "TagB".to_owned()].into())
        );
        let TagFilter::Codes(codes) = s.store_filter() else {
            panic!("codes expected");
        };
        assert!(codes.contains(&2_598_919));
        assert!(MessageFilter::parse(Some("*"), Some("TAG"), OWNER, &cache).is_ok());
        assert!(MessageFilter::parse(Some("*"), None, OWNER, &cache).is_ok());
        assert!(MessageFilter::parse(Some("*"), Some("XPATH"), OWNER, &cache).is_err());
    }

    #[test]
    fn sql_is_compiled_once_and_errors_name_the_position() {
        let cache = FilterCache::default();
        let a =
            MessageFilter::parse(Some("a > 1"), Some("SQL92"), OWNER, &cache).expect("compiles");
        let b =
            MessageFilter::parse(Some("a > 1"), Some("SQL92"), OWNER, &cache).expect("compiles");
        let (MessageFilter::Sql(a), MessageFilter::Sql(b)) = (a, b) else {
            panic!("sql filters expected");
        };
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
        let e = MessageFilter::parse(Some("a >"), Some("SQL92"), OWNER, &cache)
            .expect_err("does not compile");
        assert!(e.to_string().contains("line 1, column 4"), "{e}");
        assert!(e.to_string().contains("group G topic T"), "{e}");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn cache_is_bounded() {
        let cache = FilterCache::default();
        for i in 0..CACHE_CAPACITY + 10 {
            cache.compile(OWNER, &format!("a = {i}")).expect("compiles");
        }
        assert_eq!(cache.len(), CACHE_CAPACITY);
    }
}
