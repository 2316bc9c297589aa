//! Small list and table bodies: `TopicList` (206, 224, 304), `GroupList` (300) and `KVTable`
//! (28, 219, and the `REGISTER_BROKER` reply).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::json::{null_as_default, JsonBody};

/// A set of topic names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub topic_list: Vec<String>,
}

impl JsonBody for TopicList {}

/// A set of group names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    #[serde(deserialize_with = "null_as_default")]
    pub group_list: Vec<String>,
}

impl JsonBody for GroupList {}

/// A string table (`KVTable`): broker runtime info, a KV namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KvTable {
    #[serde(deserialize_with = "null_as_default")]
    pub table: BTreeMap<String, String>,
}

impl JsonBody for KvTable {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_bodies_parse_and_emit() {
        let t = TopicList::from_json(br#"{"topicList":["T1","T2"]}"#).expect("parses");
        assert_eq!(t.topic_list, ["T1", "T2"]);
        assert_eq!(&t.to_json()[..], br#"{"topicList":["T1","T2"]}"#);
        let g = GroupList::from_json(br#"{"groupList":["g1"]}"#).expect("parses");
        assert_eq!(g.group_list, ["g1"]);
        let kv = KvTable::from_json(br#"{"table":{"brokerActive":"true"}}"#).expect("parses");
        assert_eq!(kv.table["brokerActive"], "true");
        assert_eq!(&KvTable::default().to_json()[..], br#"{"table":{}}"#);
    }
}
