//! The v5 gRPC counterpart of `access.rs`: one table from `MessagingService` RPC (its method name,
//! as in the request path `/apache.rocketmq.v2.MessagingService/<Rpc>`) to the resources its
//! request names and the actions any one of which allows each. The adapter reads the names out of
//! the decoded request ([`Named`]); this file decides what they need. An RPC missing from the table
//! is refused for every user but a super user, as a remoting request code is.
//!
//! The rows follow Apache's `DefaultAuthorizationContextBuilder` for gRPC. Where Apache checks
//! nothing (PullMessage, the offset RPCs, RecallMessage), ferromq asks what the remoting request
//! doing the same thing asks (PULL_MESSAGE, QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX_OFFSET,
//! RECALL_MESSAGE), so a v5 client gets no more than a remoting one. SendMessage checks the topic of
//! every message of the batch, not only the first.

use crate::access::{Access, AccessError};
use crate::action::Action::{self, Get, Pub, Sub, Update};
use crate::resource::Resource;

/// What one request names, read from the decoded message by the adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named<'a> {
    /// Every topic the request names (each message's for SendMessage; the settings' topics for
    /// Telemetry).
    pub topics: Vec<&'a str>,
    /// The consumer group, when the request names one. For Telemetry, `Some` means the settings
    /// are a subscription's, `None` a publisher's.
    pub group: Option<&'a str>,
}

/// What a rule asks of one kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Not looked at.
    No,
    /// Must be named; each needs one of the actions.
    Required(&'static [Action]),
    /// Checked with one of the actions when named (clients that have no group, such as producers,
    /// leave it out).
    IfNamed(&'static [Action]),
}

/// How one RPC's accesses follow from what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Names {
        topic: Need,
        group: Need,
    },
    /// Telemetry's settings: a publisher's topics need Pub, a subscriber's group and topics Sub.
    /// The other telemetry commands (answers to the server's) need nothing beyond authentication.
    Settings,
}

const SUB_GET: &[Action] = &[Sub, Get];
const SUB_UPDATE: &[Action] = &[Sub, Update];

/// The table.
fn rule(rpc: &str) -> Option<Rule> {
    use Need::{IfNamed, No, Required};
    let names = |topic, group| Rule::Names { topic, group };
    Some(match rpc {
        "QueryRoute" => names(Required(&[Pub, Sub]), No),
        "SendMessage" | "EndTransaction" | "RecallMessage" => names(Required(&[Pub]), No),
        "QueryAssignment"
        | "ReceiveMessage"
        | "AckMessage"
        | "ForwardMessageToDeadLetterQueue"
        | "ChangeInvisibleDuration"
        | "PullMessage"
        | "SyncLiteSubscription" => names(Required(&[Sub]), Required(&[Sub])),
        "UpdateOffset" => names(Required(SUB_UPDATE), Required(SUB_UPDATE)),
        "GetOffset" => names(Required(SUB_GET), Required(SUB_GET)),
        "QueryOffset" => names(Required(SUB_GET), No),
        // Producers' heartbeats and terminations name no group: authentication alone.
        "Heartbeat" | "NotifyClientTermination" => names(No, IfNamed(&[Sub])),
        "Telemetry" => Rule::Settings,
        _ => return None,
    })
}

/// Whether the table has a row for `rpc`.
#[must_use]
pub fn is_mapped(rpc: &str) -> bool {
    rule(rpc).is_some()
}

/// What `rpc` naming `named` needs. An empty list means any authenticated user may call it.
///
/// # Errors
/// `Unmapped` for an RPC outside the table; `Unreadable` naming a topic or group the RPC must name
/// and does not.
pub fn required_access(rpc: &str, named: &Named<'_>) -> Result<Vec<Access>, AccessError> {
    let (topic, group) = match rule(rpc).ok_or(AccessError::Unmapped)? {
        Rule::Names { topic, group } => (topic, group),
        Rule::Settings if named.group.is_some() => (Need::IfNamed(&[Sub]), Need::Required(&[Sub])),
        Rule::Settings => (Need::IfNamed(&[Pub]), Need::No),
    };
    let mut out = Vec::new();
    match group {
        Need::No => {}
        Need::Required(actions) | Need::IfNamed(actions) => match named.group {
            Some(g) if !g.is_empty() => out.push(Access {
                resource: Resource::group(g),
                actions,
            }),
            _ if matches!(group, Need::Required(_)) => {
                return Err(AccessError::Unreadable(format!("{rpc} names no group")));
            }
            _ => {}
        },
    }
    if let Need::Required(actions) | Need::IfNamed(actions) = topic {
        let mut seen: Vec<&str> = Vec::new();
        for t in &named.topics {
            if t.is_empty() {
                return Err(AccessError::Unreadable(format!(
                    "{rpc} names an empty topic"
                )));
            }
            if !seen.contains(t) {
                seen.push(t);
                out.push(Access {
                    resource: Resource::topic(t),
                    actions,
                });
            }
        }
        if seen.is_empty() && matches!(topic, Need::Required(_)) {
            return Err(AccessError::Unreadable(format!("{rpc} names no topic")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<'a>(topics: &[&'a str], group: Option<&'a str>) -> Named<'a> {
        Named {
            topics: topics.to_vec(),
            group,
        }
    }

    fn shown(rpc: &str, n: &Named<'_>) -> Vec<String> {
        required_access(rpc, n)
            .expect("mapped and readable")
            .iter()
            .map(|a| format!("{} {}", a.resource, crate::action::names(a.actions)))
            .collect()
    }

    /// Table-driven: every row of the service definition, what it needs.
    #[test]
    fn each_rpc_needs_what_apache_asks() {
        let t = named(&["orders"], None);
        let tg = named(&["orders"], Some("billing"));
        let cases: &[(&str, &Named<'_>, &[&str])] = &[
            ("QueryRoute", &t, &["Topic:orders Pub|Sub"]),
            ("SendMessage", &t, &["Topic:orders Pub"]),
            ("EndTransaction", &t, &["Topic:orders Pub"]),
            ("RecallMessage", &t, &["Topic:orders Pub"]),
            (
                "QueryAssignment",
                &tg,
                &["Group:billing Sub", "Topic:orders Sub"],
            ),
            (
                "ReceiveMessage",
                &tg,
                &["Group:billing Sub", "Topic:orders Sub"],
            ),
            (
                "AckMessage",
                &tg,
                &["Group:billing Sub", "Topic:orders Sub"],
            ),
            (
                "ForwardMessageToDeadLetterQueue",
                &tg,
                &["Group:billing Sub", "Topic:orders Sub"],
            ),
            (
                "ChangeInvisibleDuration",
                &tg,
                &["Group:billing Sub", "Topic:orders Sub"],
            ),
            (
                "PullMessage",
                &tg,
                &["Group:billing Sub", "Topic:orders Sub"],
            ),
            (
                "SyncLiteSubscription",
                &tg,
                &["Group:billing Sub", "Topic:orders Sub"],
            ),
            (
                "UpdateOffset",
                &tg,
                &["Group:billing Sub|Update", "Topic:orders Sub|Update"],
            ),
            (
                "GetOffset",
                &tg,
                &["Group:billing Sub|Get", "Topic:orders Sub|Get"],
            ),
            ("QueryOffset", &t, &["Topic:orders Sub|Get"]),
            ("Heartbeat", &tg, &["Group:billing Sub"]),
            ("Heartbeat", &named(&[], None), &[]),
            (
                "NotifyClientTermination",
                &named(&[], Some("billing")),
                &["Group:billing Sub"],
            ),
            ("NotifyClientTermination", &named(&[], None), &[]),
            (
                "Telemetry",
                &named(&["a", "b"], None),
                &["Topic:a Pub", "Topic:b Pub"],
            ),
            ("Telemetry", &named(&[], None), &[]),
            ("Telemetry", &tg, &["Group:billing Sub", "Topic:orders Sub"]),
            (
                "Telemetry",
                &named(&[], Some("billing")),
                &["Group:billing Sub"],
            ),
        ];
        for (rpc, n, want) in cases {
            assert_eq!(shown(rpc, n), *want, "{rpc} {n:?}");
        }
    }

    #[test]
    fn a_batch_checks_each_topic_once() {
        let n = named(&["a", "b", "a"], None);
        assert_eq!(shown("SendMessage", &n), ["Topic:a Pub", "Topic:b Pub"]);
    }

    #[test]
    fn missing_names_and_unknown_rpcs_are_refused() {
        for (rpc, n) in [
            ("SendMessage", named(&[], None)),
            ("SendMessage", named(&[""], None)),
            ("ReceiveMessage", named(&["orders"], None)),
            ("ReceiveMessage", named(&["orders"], Some(""))),
            ("QueryRoute", named(&[], Some("g"))),
            ("Telemetry", named(&["t"], Some(""))),
        ] {
            assert!(
                matches!(required_access(rpc, &n), Err(AccessError::Unreadable(_))),
                "{rpc} {n:?}"
            );
        }
        for rpc in ["", "sendMessage", "SendMessages", "Admin"] {
            assert!(!is_mapped(rpc));
            assert_eq!(
                required_access(rpc, &named(&["t"], Some("g"))),
                Err(AccessError::Unmapped)
            );
        }
    }
}
