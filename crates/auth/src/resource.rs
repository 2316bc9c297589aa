//! What a policy entry is about: `Cluster`, `Topic:<name>`, `Group:<name>`, a prefix (`Topic:abc*`)
//! or everything (`*`), as Apache's `Resource.of` reads them.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// The kind of a resource. `Any` only appears in policies (`*`), never in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Any,
    Cluster,
    Topic,
    Group,
}

impl ResourceType {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Any => "Any",
            Self::Cluster => "Cluster",
            Self::Topic => "Topic",
            Self::Group => "Group",
        }
    }
}

/// Which names of its type a resource covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourcePattern {
    /// Every name (`Topic:*`).
    Any,
    /// Exactly this name.
    Literal(String),
    /// Names starting with this (`Topic:abc*` holds `abc`).
    Prefix(String),
}

/// A resource in a policy entry, or (always literal) the resource a request touches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    pub kind: ResourceType,
    pub pattern: ResourcePattern,
}

impl Resource {
    #[must_use]
    pub fn topic(name: &str) -> Self {
        Self::literal(ResourceType::Topic, name)
    }

    #[must_use]
    pub fn group(name: &str) -> Self {
        Self::literal(ResourceType::Group, name)
    }

    #[must_use]
    pub fn cluster(name: &str) -> Self {
        Self::literal(ResourceType::Cluster, name)
    }

    fn literal(kind: ResourceType, name: &str) -> Self {
        Self {
            kind,
            pattern: ResourcePattern::Literal(name.to_owned()),
        }
    }

    /// Whether this (policy) resource covers `requested` (a literal resource of a request).
    #[must_use]
    pub fn covers(&self, requested: &Resource) -> bool {
        if self.kind == ResourceType::Any {
            return true;
        }
        if self.kind != requested.kind {
            return false;
        }
        let ResourcePattern::Literal(name) = &requested.pattern else {
            return false;
        };
        match &self.pattern {
            ResourcePattern::Any => true,
            ResourcePattern::Literal(l) => l == name,
            ResourcePattern::Prefix(p) => name.starts_with(p.as_str()),
        }
    }

    /// How precisely this resource names what it covers, higher is more precise: a literal name
    /// before a longer prefix before a shorter one before a whole type before `*`. The most precise
    /// matching entry decides (Apache's `AclAuthorizationHandler` ordering).
    #[must_use]
    pub fn precision(&self) -> (u8, usize) {
        if self.kind == ResourceType::Any {
            return (0, 0);
        }
        match &self.pattern {
            ResourcePattern::Any => (1, 0),
            ResourcePattern::Prefix(p) => (2, p.len()),
            ResourcePattern::Literal(_) => (3, 0),
        }
    }
}

impl FromStr for Resource {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "*" {
            return Ok(Self {
                kind: ResourceType::Any,
                pattern: ResourcePattern::Any,
            });
        }
        let (kind, name) = s.split_once(':').unwrap_or((s, ""));
        let kind = [
            ResourceType::Cluster,
            ResourceType::Topic,
            ResourceType::Group,
        ]
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(kind))
        .ok_or_else(|| ModelError::Resource(s.to_owned()))?;
        let pattern = match name {
            // A bare `Cluster` is the cluster this broker belongs to, whatever its name.
            "" if kind == ResourceType::Cluster => ResourcePattern::Any,
            "" => return Err(ModelError::Resource(s.to_owned())),
            "*" => ResourcePattern::Any,
            n => match n.strip_suffix('*') {
                Some(prefix) => ResourcePattern::Prefix(prefix.to_owned()),
                None => ResourcePattern::Literal(n.to_owned()),
            },
        };
        Ok(Self { kind, pattern })
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ResourceType::Any {
            return f.write_str("*");
        }
        let kind = self.kind.name();
        match &self.pattern {
            ResourcePattern::Any if self.kind == ResourceType::Cluster => f.write_str(kind),
            ResourcePattern::Any => write!(f, "{kind}:*"),
            ResourcePattern::Literal(n) => write!(f, "{kind}:{n}"),
            ResourcePattern::Prefix(p) => write!(f, "{kind}:{p}*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Resource {
        s.parse().expect("parses")
    }

    #[test]
    fn parses_and_prints_every_form() {
        for s in [
            "*",
            "Cluster",
            "Topic:*",
            "Topic:orders",
            "Group:g*",
            "Cluster:c1",
        ] {
            assert_eq!(r(s).to_string(), s);
        }
        assert_eq!(r("topic:Orders"), Resource::topic("Orders"));
        assert!("Queue:x".parse::<Resource>().is_err());
        assert!("Topic:".parse::<Resource>().is_err());
    }

    #[test]
    fn covers_by_kind_and_pattern() {
        let t = Resource::topic("orders-eu");
        assert!(r("*").covers(&t));
        assert!(r("Topic:*").covers(&t));
        assert!(r("Topic:orders*").covers(&t));
        assert!(r("Topic:orders-eu").covers(&t));
        assert!(!r("Topic:orders").covers(&t));
        assert!(!r("Group:orders*").covers(&t));
        assert!(r("Cluster").covers(&Resource::cluster("DefaultCluster")));
        assert!(!r("Cluster:other").covers(&Resource::cluster("DefaultCluster")));
    }
}
