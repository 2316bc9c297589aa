//! The one table from remoting request code to what the request needs: which resources (read from
//! which header field or body) and which actions (any one of them suffices). A code missing from
//! the table is refused for every user but a super user, so a new request code cannot slip through
//! unchecked. The choices follow Apache's `DefaultAuthorizationContextBuilder` and the
//! `@RocketMQAction` annotations of its request headers; where Apache lets a request through
//! unchecked (body-only requests such as lock or query assignment), ferromq reads the group or
//! topic from the body instead.

use ferromq_remoting::body::assignment::{
    QueryAssignmentRequestBody, SetMessageRequestModeRequestBody,
};
use ferromq_remoting::body::heartbeat::HeartbeatData;
use ferromq_remoting::body::lock::LockBatchRequestBody;
use ferromq_remoting::body::pop::BatchAckMessageRequestBody;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode};

use crate::action::Action::{self, Create, Delete, Get, List, Pub, Sub, Update};
use crate::resource::Resource;

/// One resource a request touches and the actions that allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub resource: Resource,
    pub actions: &'static [Action],
}

/// Why a request's accesses could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessError {
    /// The code is not in the table.
    Unmapped,
    /// A field or body the table reads is missing or malformed.
    Unreadable(String),
}

/// Where a rule reads a resource name from.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// A header (ext) field.
    Field(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Body {
    Heartbeat,
    Lock,
    QueryAssignment,
    SetRequestMode,
    BatchAck,
    /// A JSON object's string field (subscription group config, check client config).
    JsonGroup(&'static str),
}

/// How one request code's accesses are found.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// A topic; a retry topic (`%RETRY%<group>`) stands for its group, with `Sub`.
    Topic(Src, &'static [Action]),
    Group(Src, &'static [Action]),
    /// A topic (as in `Topic`) and a group, both needing the actions.
    TopicAndGroup(Src, Src, &'static [Action]),
    /// The topic field when present, else the group field.
    TopicElseGroup(&'static str, &'static str, &'static [Action]),
    /// The cluster the broker belongs to.
    Cluster(&'static [Action]),
    Body(Body),
    /// Any authenticated user (client bookkeeping that names no resource).
    Authenticated,
}

const RETRY_PREFIX: &str = "%RETRY%";

/// The table. Every code the broker dispatches has a row (checked by tests that walk the
/// dispatcher); anything else is `None`, which is refused.
fn rule(code: RequestCode) -> Option<Rule> {
    use Rule::{Authenticated, Cluster, Group, Topic, TopicAndGroup};
    use Src::Field;
    const SUB_GET: &[Action] = &[Sub, Get];
    Some(match code {
        RequestCode::SEND_MESSAGE
        | RequestCode::SEND_REPLY_MESSAGE
        | RequestCode::RECALL_MESSAGE => Topic(Field("topic"), &[Pub]),
        RequestCode::SEND_MESSAGE_V2
        | RequestCode::SEND_BATCH_MESSAGE
        | RequestCode::SEND_REPLY_MESSAGE_V2 => Topic(Field("b"), &[Pub]),
        // 4.x clients' END_TRANSACTION header has no topic: their producer group stands in.
        RequestCode::END_TRANSACTION => Rule::TopicElseGroup("topic", "producerGroup", &[Pub]),
        RequestCode::PULL_MESSAGE
        | RequestCode::LITE_PULL_MESSAGE
        | RequestCode::POP_MESSAGE
        | RequestCode::ACK_MESSAGE
        | RequestCode::CHANGE_MESSAGE_INVISIBLETIME => {
            TopicAndGroup(Field("topic"), Field("consumerGroup"), &[Sub])
        }
        RequestCode::BATCH_ACK_MESSAGE => Rule::Body(Body::BatchAck),
        RequestCode::QUERY_ASSIGNMENT => Rule::Body(Body::QueryAssignment),
        RequestCode::SET_MESSAGE_REQUEST_MODE => Rule::Body(Body::SetRequestMode),
        RequestCode::GET_ALL_MESSAGE_REQUEST_MODE => Cluster(&[Get]),
        RequestCode::CONSUMER_SEND_MSG_BACK => Group(Field("group"), &[Sub]),
        RequestCode::HEART_BEAT => Rule::Body(Body::Heartbeat),
        RequestCode::UNREGISTER_CLIENT => Authenticated,
        RequestCode::GET_CONSUMER_LIST_BY_GROUP => Group(Field("consumerGroup"), SUB_GET),
        RequestCode::CHECK_CLIENT_CONFIG => Rule::Body(Body::JsonGroup("group")),
        RequestCode::LOCK_BATCH_MQ | RequestCode::UNLOCK_BATCH_MQ => Rule::Body(Body::Lock),
        RequestCode::QUERY_CONSUMER_OFFSET => {
            TopicAndGroup(Field("topic"), Field("consumerGroup"), SUB_GET)
        }
        RequestCode::UPDATE_CONSUMER_OFFSET => {
            TopicAndGroup(Field("topic"), Field("consumerGroup"), &[Sub, Update])
        }
        RequestCode::GET_MAX_OFFSET
        | RequestCode::GET_MIN_OFFSET
        | RequestCode::GET_EARLIEST_MSG_STORETIME
        | RequestCode::SEARCH_OFFSET_BY_TIMESTAMP
        | RequestCode::QUERY_MESSAGE => Topic(Field("topic"), SUB_GET),
        RequestCode::VIEW_MESSAGE_BY_ID => Cluster(SUB_GET),
        RequestCode::UPDATE_AND_CREATE_TOPIC => Topic(Field("topic"), &[Create, Update]),
        RequestCode::DELETE_TOPIC_IN_BROKER => Topic(Field("topic"), &[Delete]),
        RequestCode::GET_TOPIC_CONFIG
        | RequestCode::GET_TOPIC_STATS_INFO
        | RequestCode::QUERY_TOPIC_CONSUME_BY_WHO => Topic(Field("topic"), &[Get]),
        RequestCode::GET_ALL_TOPIC_CONFIG
        | RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG
        | RequestCode::GET_ALL_CONSUMER_OFFSET
        | RequestCode::GET_ALL_DELAY_OFFSET
        | RequestCode::GET_BROKER_RUNTIME_INFO
        | RequestCode::GET_BROKER_CONFIG
        | RequestCode::GET_BROKER_EPOCH_CACHE
        | RequestCode::VIEW_BROKER_STATS_DATA => Cluster(&[Get]),
        RequestCode::UPDATE_BROKER_CONFIG | RequestCode::NOTIFY_BROKER_ROLE_CHANGED => {
            Cluster(&[Update])
        }
        RequestCode::GET_CONSUME_STATS
        | RequestCode::GET_CONSUMER_CONNECTION_LIST
        | RequestCode::GET_CONSUMER_RUNNING_INFO => Group(Field("consumerGroup"), &[Get]),
        RequestCode::GET_PRODUCER_CONNECTION_LIST => Group(Field("producerGroup"), &[Get]),
        RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
            Rule::Body(Body::JsonGroup("groupName"))
        }
        RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG => Group(Field("group"), &[Get]),
        RequestCode::DELETE_SUBSCRIPTIONGROUP => Group(Field("groupName"), &[Delete]),
        RequestCode::INVOKE_BROKER_TO_RESET_OFFSET => {
            TopicAndGroup(Field("topic"), Field("group"), &[Update])
        }
        RequestCode::INVOKE_BROKER_TO_GET_CONSUMER_STATUS => Group(Field("group"), &[Get]),
        RequestCode::AUTH_CREATE_USER | RequestCode::AUTH_CREATE_ACL => Cluster(&[Create]),
        RequestCode::AUTH_UPDATE_USER | RequestCode::AUTH_UPDATE_ACL => Cluster(&[Update]),
        RequestCode::AUTH_DELETE_USER | RequestCode::AUTH_DELETE_ACL => Cluster(&[Delete]),
        RequestCode::AUTH_GET_USER | RequestCode::AUTH_GET_ACL => Cluster(&[Get]),
        RequestCode::AUTH_LIST_USER | RequestCode::AUTH_LIST_ACL => Cluster(&[List]),
        _ => return None,
    })
}

/// Whether the table has a row for `code`.
#[must_use]
pub fn is_mapped(code: RequestCode) -> bool {
    rule(code).is_some()
}

/// Every known request code the table maps (for documentation and tests).
pub static MAPPED_CODES: std::sync::LazyLock<Vec<RequestCode>> = std::sync::LazyLock::new(|| {
    RequestCode::ALL
        .iter()
        .copied()
        .filter(|c| is_mapped(*c))
        .collect()
});

/// What `cmd` needs, on a broker of cluster `cluster`. An empty list means any authenticated
/// user may send it.
///
/// # Errors
/// `Unmapped` for a code outside the table; `Unreadable` naming the missing field or bad body.
pub fn required_access(cmd: &RemotingCommand, cluster: &str) -> Result<Vec<Access>, AccessError> {
    let rule = rule(cmd.request_code()).ok_or(AccessError::Unmapped)?;
    let mut out = Vec::new();
    match rule {
        Rule::Topic(from, actions) => out.push(topic(read(cmd, from)?, actions)),
        Rule::Group(from, actions) => out.push(group(read(cmd, from)?, actions)),
        Rule::TopicAndGroup(t, g, actions) => {
            out.push(topic(read(cmd, t)?, actions));
            out.push(group(read(cmd, g)?, actions));
        }
        Rule::TopicElseGroup(t, g, actions) => match cmd.ext(t).filter(|v| !v.is_empty()) {
            Some(name) => out.push(topic(name, actions)),
            None => out.push(group(read(cmd, Src::Field(g))?, actions)),
        },
        Rule::Cluster(actions) => out.push(Access {
            resource: Resource::cluster(cluster),
            actions,
        }),
        Rule::Body(body) => from_body(cmd, body, &mut out)?,
        Rule::Authenticated => {}
    }
    Ok(out)
}

fn read(cmd: &RemotingCommand, from: Src) -> Result<&str, AccessError> {
    let Src::Field(name) = from;
    cmd.ext(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AccessError::Unreadable(format!("header field {name} is missing")))
}

fn topic(name: &str, actions: &'static [Action]) -> Access {
    match name.strip_prefix(RETRY_PREFIX) {
        Some(g) => Access {
            resource: Resource::group(g),
            actions: &[Sub],
        },
        None => Access {
            resource: Resource::topic(name),
            actions,
        },
    }
}

fn group(name: &str, actions: &'static [Action]) -> Access {
    Access {
        resource: Resource::group(name),
        actions,
    }
}

fn from_body(cmd: &RemotingCommand, body: Body, out: &mut Vec<Access>) -> Result<(), AccessError> {
    let bytes = cmd.body.as_deref().unwrap_or_default();
    let unreadable = |e: &dyn std::fmt::Display| AccessError::Unreadable(format!("body: {e}"));
    match body {
        Body::Heartbeat => {
            let hb = HeartbeatData::from_json(bytes).map_err(|e| unreadable(&e))?;
            for c in &hb.consumer_data_set {
                out.push(group(&c.group_name, &[Sub]));
                for s in &c.subscription_data_set {
                    if !s.topic.starts_with(RETRY_PREFIX) {
                        out.push(topic(&s.topic, &[Sub]));
                    }
                }
            }
        }
        Body::Lock => {
            let b = LockBatchRequestBody::from_json(bytes).map_err(|e| unreadable(&e))?;
            out.push(group(&b.consumer_group, &[Sub]));
        }
        Body::QueryAssignment => {
            let b = QueryAssignmentRequestBody::from_json(bytes).map_err(|e| unreadable(&e))?;
            out.push(topic(&b.topic, &[Sub]));
            out.push(group(&b.consumer_group, &[Sub]));
        }
        Body::SetRequestMode => {
            let b =
                SetMessageRequestModeRequestBody::from_json(bytes).map_err(|e| unreadable(&e))?;
            out.push(topic(&b.topic, &[Sub, Update]));
            out.push(group(&b.consumer_group, &[Sub, Update]));
        }
        Body::BatchAck => {
            let b = BatchAckMessageRequestBody::from_json(bytes).map_err(|e| unreadable(&e))?;
            for a in &b.acks {
                out.push(topic(&a.topic, &[Sub]));
                out.push(group(&a.consumer_group, &[Sub]));
            }
        }
        Body::JsonGroup(field) => {
            let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| unreadable(&e))?;
            let name = v
                .get(field)
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| AccessError::Unreadable(format!("body has no {field}")))?;
            let actions: &'static [Action] = if field == "groupName" {
                &[Create, Update]
            } else {
                &[Sub]
            };
            out.push(group(name, actions));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_pull_and_retry_topics() {
        let send = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_ext("a", "pg")
            .with_ext("b", "orders");
        assert_eq!(
            required_access(&send, "c"),
            Ok(vec![Access {
                resource: Resource::topic("orders"),
                actions: &[Pub]
            }])
        );
        let back =
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2).with_ext("b", "%RETRY%cg");
        assert_eq!(
            required_access(&back, "c").expect("mapped")[0].resource,
            Resource::group("cg")
        );
        let pull = RemotingCommand::request(RequestCode::PULL_MESSAGE)
            .with_ext("topic", "orders")
            .with_ext("consumerGroup", "cg");
        let got = required_access(&pull, "c").expect("mapped");
        assert_eq!(got.len(), 2);
        let no_topic = RemotingCommand::request(RequestCode::PULL_MESSAGE);
        assert!(matches!(
            required_access(&no_topic, "c"),
            Err(AccessError::Unreadable(_))
        ));
        let unknown = RemotingCommand::request(RequestCode(4242));
        assert_eq!(required_access(&unknown, "c"), Err(AccessError::Unmapped));
    }

    #[test]
    fn heartbeat_names_its_consumer_groups_and_topics() {
        let body =
            br#"{"clientID":"c1","consumerDataSet":[{"groupName":"cg","subscriptionDataSet":[
            {"topic":"orders","subString":"*"},{"topic":"%RETRY%cg","subString":"*"}]}],
            "producerDataSet":[{"groupName":"pg"}]}"#;
        let hb = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(&body[..]);
        let got = required_access(&hb, "c").expect("mapped");
        let names: Vec<String> = got.iter().map(|a| a.resource.to_string()).collect();
        assert_eq!(names, ["Group:cg", "Topic:orders"]);
    }
}
