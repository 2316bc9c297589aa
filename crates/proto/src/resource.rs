//! A [`Resource`] (topic or consumer group) and its name as the broker stores it.
//!
//! v5 clients send the namespace apart from the name; the broker's topics and groups are flat
//! names, with a namespace joined in front by `%` as `RocketMQ` does (`ns%orders`). Retry and
//! dead-letter names (`%RETRY%`, `%DLQ%`) are built from the joined group name by the broker.

use std::fmt;

use crate::v2::Resource;

/// Joins a namespace and a name.
pub const NAMESPACE_SEPARATOR: char = '%';

impl Resource {
    /// A resource without a namespace.
    pub fn named(name: impl Into<String>) -> Self {
        Resource {
            resource_namespace: String::new(),
            name: name.into(),
        }
    }

    /// The stored name: `namespace%name`, or just `name` when the namespace is empty.
    #[must_use]
    pub fn qualified_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resource_namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(
                f,
                "{}{NAMESPACE_SEPARATOR}{}",
                self.resource_namespace, self.name
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_joins_in_front() {
        assert_eq!(Resource::named("orders").qualified_name(), "orders");
        let namespaced = Resource {
            resource_namespace: "shop".to_owned(),
            name: "orders".to_owned(),
        };
        assert_eq!(namespaced.qualified_name(), "shop%orders");
        assert_eq!(namespaced.to_string(), "shop%orders");
    }
}
