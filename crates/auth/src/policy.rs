//! Policies and the decision for one access.
//!
//! The rules are Apache's (`AclAuthorizationHandler`): only entries whose resource covers the
//! request, whose actions include one the request needs (or `All`), and whose source IPs include
//! the client's (or are empty) take part; the `Custom` policy's entries are looked at first and the
//! `Default` policy's only when no custom entry takes part. Of those, the most precise resource
//! decides (literal, then longer prefix, then shorter, then a whole type, then `*`); among equally
//! precise entries Deny wins. No entry taking part means denied.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::action::Action;
use crate::error::ModelError;
use crate::ip_range::IpRange;
use crate::resource::Resource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// Apache keeps two policies per subject: what an operator writes (`Custom`) and a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyType {
    Custom,
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    pub resource: Resource,
    pub actions: Vec<Action>,
    /// Empty: from anywhere.
    pub source_ips: Vec<IpRange>,
    pub decision: Decision,
}

impl PolicyEntry {
    fn applies(&self, resource: &Resource, actions: &[Action], source: Option<IpAddr>) -> bool {
        self.resource.covers(resource)
            && actions
                .iter()
                .any(|a| self.actions.contains(a) || self.actions.contains(&Action::All))
            && (self.source_ips.is_empty()
                || source.is_some_and(|ip| self.source_ips.iter().any(|r| r.contains(ip))))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyType,
    pub entries: Vec<PolicyEntry>,
}

/// Every policy of one subject (a user name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    pub policies: Vec<Policy>,
}

impl Acl {
    /// Allows `actions` (any one of them suffices, as a request names alternatives) on `resource`
    /// from `source`, or says why not.
    ///
    /// # Errors
    /// The reason written into the denial's remark.
    pub fn decide(
        &self,
        resource: &Resource,
        actions: &[Action],
        source: Option<IpAddr>,
    ) -> Result<(), &'static str> {
        let taking_part = |kind| -> Vec<&PolicyEntry> {
            self.policies
                .iter()
                .filter(|p| p.kind == kind)
                .flat_map(|p| &p.entries)
                .filter(|e| e.applies(resource, actions, source))
                .collect()
        };
        let mut entries = taking_part(PolicyType::Custom);
        if entries.is_empty() {
            entries = taking_part(PolicyType::Default);
        }
        let Some(best) = entries.iter().map(|e| e.resource.precision()).max() else {
            return Err("no matched acl policy");
        };
        let deny = entries
            .iter()
            .filter(|e| e.resource.precision() == best)
            .any(|e| e.decision == Decision::Deny);
        if deny {
            Err("the matched acl policy's decision is deny")
        } else {
            Ok(())
        }
    }

    /// Replaces the entries for the same resource within the same policy type and adds the others
    /// (Apache's `updateAcl` merges this way).
    pub fn merge(&mut self, other: Acl) {
        for policy in other.policies {
            match self.policies.iter_mut().find(|p| p.kind == policy.kind) {
                Some(mine) => {
                    for entry in policy.entries {
                        mine.entries.retain(|e| e.resource != entry.resource);
                        mine.entries.push(entry);
                    }
                }
                None => self.policies.push(policy),
            }
        }
    }

    /// Removes the entries for `resource` (all when `None`) from the given policy type (all when
    /// `None`); empty policies go too.
    pub fn remove(&mut self, kind: Option<PolicyType>, resource: Option<&Resource>) {
        for policy in &mut self.policies {
            if kind.is_none_or(|k| k == policy.kind) {
                policy
                    .entries
                    .retain(|e| resource.is_some_and(|r| *r != e.resource));
            }
        }
        self.policies.retain(|p| !p.entries.is_empty());
    }
}

impl Decision {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
}

impl FromStr for Decision {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            d if d.eq_ignore_ascii_case("allow") => Ok(Self::Allow),
            d if d.eq_ignore_ascii_case("deny") => Ok(Self::Deny),
            _ => Err(ModelError::Decision(s.to_owned())),
        }
    }
}

impl PolicyType {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Custom => "Custom",
            Self::Default => "Default",
        }
    }
}

impl FromStr for PolicyType {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            t if t.eq_ignore_ascii_case("custom") => Ok(Self::Custom),
            t if t.eq_ignore_ascii_case("default") => Ok(Self::Default),
            _ => Err(ModelError::PolicyType(s.to_owned())),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(resource: &str, actions: &[Action], decision: Decision, ips: &[&str]) -> PolicyEntry {
        PolicyEntry {
            resource: resource.parse().expect("resource"),
            actions: actions.to_vec(),
            source_ips: ips.iter().map(|s| s.parse().expect("ip")).collect(),
            decision,
        }
    }

    fn acl(kind: PolicyType, entries: Vec<PolicyEntry>) -> Acl {
        Acl {
            policies: vec![Policy { kind, entries }],
        }
    }

    const LOCAL: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn table_of_decisions() {
        use Action::{All, Pub, Sub};
        use Decision::{Allow, Deny};
        let t = Resource::topic("orders");
        let cases: Vec<(Vec<PolicyEntry>, &[Action], bool)> = vec![
            (vec![], &[Pub], false),
            (
                vec![entry("Topic:orders", &[Pub], Allow, &[])],
                &[Pub],
                true,
            ),
            (
                vec![entry("Topic:orders", &[Pub], Allow, &[])],
                &[Sub],
                false,
            ),
            (
                vec![entry("Topic:orders", &[All], Allow, &[])],
                &[Sub],
                true,
            ),
            (vec![entry("Topic:ord*", &[Pub], Allow, &[])], &[Pub], true),
            (
                vec![entry("Topic:other", &[Pub], Allow, &[])],
                &[Pub],
                false,
            ),
            (vec![entry("*", &[Pub], Allow, &[])], &[Pub], true),
            // Deny wins among equally precise entries.
            (
                vec![
                    entry("Topic:orders", &[Pub], Allow, &[]),
                    entry("Topic:orders", &[All], Deny, &[]),
                ],
                &[Pub],
                false,
            ),
            // The more precise entry decides.
            (
                vec![
                    entry("Topic:*", &[Pub], Deny, &[]),
                    entry("Topic:orders", &[Pub], Allow, &[]),
                ],
                &[Pub],
                true,
            ),
            (
                vec![
                    entry("Topic:ord*", &[Pub], Allow, &[]),
                    entry("Topic:orders", &[Pub], Deny, &[]),
                ],
                &[Pub],
                false,
            ),
            (
                vec![
                    entry("Topic:o*", &[Pub], Allow, &[]),
                    entry("Topic:ord*", &[Pub], Deny, &[]),
                ],
                &[Pub],
                false,
            ),
            // Any one of the request's alternatives suffices.
            (
                vec![entry("Topic:orders", &[Sub], Allow, &[])],
                &[Pub, Sub],
                true,
            ),
            // Source ranges.
            (
                vec![entry("Topic:orders", &[Pub], Allow, &["127.0.0.0/8"])],
                &[Pub],
                true,
            ),
            (
                vec![entry("Topic:orders", &[Pub], Allow, &["10.0.0.0/8"])],
                &[Pub],
                false,
            ),
        ];
        for (i, (entries, actions, allowed)) in cases.into_iter().enumerate() {
            let got = acl(PolicyType::Custom, entries).decide(&t, actions, LOCAL);
            assert_eq!(got.is_ok(), allowed, "case {i}: {got:?}");
        }
    }

    #[test]
    fn default_policy_only_when_no_custom_entry_applies() {
        let mut a = acl(
            PolicyType::Default,
            vec![entry("Topic:*", &[Action::Pub], Decision::Allow, &[])],
        );
        assert!(a
            .decide(&Resource::topic("t"), &[Action::Pub], LOCAL)
            .is_ok());
        a.merge(acl(
            PolicyType::Custom,
            vec![entry("Topic:t", &[Action::Pub], Decision::Deny, &[])],
        ));
        assert!(a
            .decide(&Resource::topic("t"), &[Action::Pub], LOCAL)
            .is_err());
        assert!(a
            .decide(&Resource::topic("u"), &[Action::Pub], LOCAL)
            .is_ok());
        a.remove(Some(PolicyType::Custom), Some(&Resource::topic("t")));
        assert_eq!(a.policies.len(), 1);
        assert!(a
            .decide(&Resource::topic("t"), &[Action::Pub], LOCAL)
            .is_ok());
    }
}
