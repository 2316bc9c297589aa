//! The name server over real TCP on 127.0.0.1:0, driven by our net client with the frames a Java
//! broker, client or admin tool sends.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::lists::{KvTable, TopicList};
use ferromq_remoting::body::register::RegisterBrokerBody;
use ferromq_remoting::body::route::{ClusterInfo, TopicRouteData};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::route::RegisterBrokerRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const T: Duration = Duration::from_secs(5);
const CLUSTER: &str = "DefaultCluster";

async fn start(config: NameServerConfig) -> NameServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    NameServer::start(config, listener).expect("starts")
}

async fn client(ns: &NameServerHandle) -> Client {
    Client::connect(ns.local_addr().to_string(), ClientConfig::default())
        .await
        .expect("connect")
}

/// A registration body exactly as a Java 5.x broker writes it (fastjson, sorted keys).
fn java_register_body(counter: i64, topics: &[(&str, i32, i32)]) -> Bytes {
    let table: Vec<String> = topics
        .iter()
        .map(|(name, queues, perm)| {
            format!(
                r#""{name}":{{"attributes":{{}},"order":false,"perm":{perm},"readQueueNums":{queues},"topicFilterType":"SINGLE_TAG","topicName":"{name}","topicSysFlag":0,"writeQueueNums":{queues}}}"#
            )
        })
        .collect();
    Bytes::from(format!(
        r#"{{"filterServerList":[],"topicConfigSerializeWrapper":{{"dataVersion":{{"counter":{counter},"stateVersion":0,"timestamp":1700000000000}},"mappingDataVersion":{{"counter":0,"stateVersion":0,"timestamp":1700000000000}},"topicConfigTable":{{{}}},"topicQueueMappingDetailMap":{{}},"topicQueueMappingInfoMap":{{}}}}}}"#,
        table.join(",")
    ))
}

fn register_request(name: &str, id: i64, addr: &str, body: Bytes) -> RemotingCommand {
    register_request_as(name, id, addr, body, false)
}

fn register_request_as(
    name: &str,
    id: i64,
    addr: &str,
    body: Bytes,
    compressed: bool,
) -> RemotingCommand {
    let header = RegisterBrokerRequestHeader {
        broker_name: name.into(),
        broker_addr: addr.into(),
        cluster_name: CLUSTER.into(),
        ha_server_addr: format!("{addr}-ha"),
        broker_id: id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed,
        body_crc32: i32::try_from(crc32fast::hash(&body) & 0x7FFF_FFFF).expect("31 bits"),
        grpc_addr: None,
    };
    RemotingCommand::request(RequestCode::REGISTER_BROKER)
        .with_header(&header)
        .with_body(body)
}

async fn register(c: &Client, name: &str, id: i64, addr: &str, counter: i64) -> RemotingCommand {
    let body = java_register_body(counter, &[("TopicTest", 4, 6), ("TBW102", 8, 7)]);
    let resp = c
        .request(register_request(name, id, addr, body), T)
        .await
        .expect("answered");
    assert_eq!(
        resp.response_code(),
        ResponseCode::SUCCESS,
        "{:?}",
        resp.remark
    );
    resp
}

async fn route(c: &Client, topic: &str) -> RemotingCommand {
    let req =
        RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", topic);
    c.request(req, T).await.expect("answered")
}

async fn assert_no_route(c: &Client, topic: &str) {
    let resp = route(c, topic).await;
    assert_eq!(resp.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("No topic route info in name server for the topic: {topic}").as_str())
    );
}

fn body_json(resp: &RemotingCommand) -> Value {
    serde_json::from_slice(resp.body.as_deref().expect("body")).expect("standard JSON")
}

/// `compressedRegister=true` brokers send the zlib form; 30,000 topics fit in a few hundred KiB.
#[tokio::test]
async fn a_compressed_registration_of_30000_topics_is_routed() {
    let ns = start(NameServerConfig::default()).await;
    let broker = client(&ns).await;
    let names: Vec<String> = (0..30_000).map(|i| format!("Many{i}")).collect();
    let topics: Vec<(&str, i32, i32)> = names.iter().map(|n| (n.as_str(), 8, 6)).collect();
    let json = java_register_body(1, &topics);
    let body = RegisterBrokerBody::from_json(&json)
        .expect("parses")
        .to_compressed();
    assert!(body.len() * 10 < json.len(), "{} bytes", body.len());
    let resp = broker
        .request(
            register_request_as("broker-a", 0, "10.0.0.1:10911", body.into(), true),
            T,
        )
        .await
        .expect("answered");
    assert_eq!(
        resp.response_code(),
        ResponseCode::SUCCESS,
        "{:?}",
        resp.remark
    );
    let c = client(&ns).await;
    for topic in ["Many0", "Many17234", "Many29999"] {
        let resp = route(&c, topic).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{topic}");
        let json = body_json(&resp);
        assert_eq!(json["queueDatas"][0]["writeQueueNums"], 8, "{topic}");
    }
    // A body that does not inflate is refused with a message, and the server stays up.
    let resp = broker
        .request(
            register_request_as(
                "broker-a",
                0,
                "10.0.0.1:10911",
                Bytes::from_static(b"junk"),
                true,
            ),
            T,
        )
        .await
        .expect("answered");
    assert_ne!(resp.response_code(), ResponseCode::SUCCESS);
    assert!(resp.remark.is_some());
    assert_eq!(
        route(&c, "Many0").await.response_code(),
        ResponseCode::SUCCESS
    );
}

#[tokio::test]
async fn a_registered_master_is_routed_with_java_shaped_json() {
    let ns = start(NameServerConfig::default()).await;
    let broker = client(&ns).await;
    let reg = register(&broker, "broker-a", 0, "10.0.0.1:10911", 1).await;
    assert_eq!(reg.ext("masterAddr"), None);
    assert_eq!(reg.body, None, "no ORDER_TOPIC_CONFIG namespace yet");

    let c = client(&ns).await;
    let resp = route(&c, "TopicTest").await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let text = std::str::from_utf8(resp.body.as_deref().expect("body")).expect("utf8");
    assert!(
        text.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911"}"#),
        "{text}"
    );
    let json = body_json(&resp);
    let keys =
        |v: &Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect() };
    assert_eq!(
        keys(&json),
        ["brokerDatas", "filterServerTable", "queueDatas"]
    );
    assert_eq!(
        keys(&json["queueDatas"][0]),
        [
            "brokerName",
            "perm",
            "readQueueNums",
            "topicSysFlag",
            "writeQueueNums"
        ]
    );
    assert_eq!(
        keys(&json["brokerDatas"][0]),
        ["brokerAddrs", "brokerName", "cluster", "enableActingMaster"]
    );
    let route = TopicRouteData::from_json(resp.body.as_deref().expect("body")).expect("parses");
    let q = &route.queue_datas[0];
    assert_eq!((q.read_queue_nums, q.write_queue_nums, q.perm), (4, 4, 6));
    assert_eq!(route.broker_datas[0].cluster, CLUSTER);
    assert_eq!(
        route_perm(&c, "TBW102").await,
        7,
        "TBW102 keeps read|write|inherit"
    );
    ns.shutdown().await;
}

async fn route_perm(c: &Client, topic: &str) -> i32 {
    let resp = route(c, topic).await;
    TopicRouteData::from_json(resp.body.as_deref().expect("body"))
        .expect("parses")
        .queue_datas[0]
        .perm
}

#[tokio::test]
async fn two_brokers_a_slave_cluster_info_and_topic_lists() {
    let ns = start(NameServerConfig::default()).await;
    let c = client(&ns).await;
    register(&c, "broker-a", 0, "10.0.0.1:10911", 1).await;
    register(&c, "broker-b", 0, "10.0.0.2:10911", 1).await;
    let slave = register(&c, "broker-a", 1, "10.0.0.3:10911", 1).await;
    assert_eq!(slave.ext("masterAddr"), Some("10.0.0.1:10911"));
    assert_eq!(slave.ext("haServerAddr"), Some("10.0.0.1:10911-ha"));

    let resp = route(&c, "TopicTest").await;
    let route = TopicRouteData::from_json(resp.body.as_deref().expect("body")).expect("parses");
    assert_eq!(route.queue_datas.len(), 2);
    assert_eq!(route.broker_datas.len(), 2);
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);

    let info = c
        .request(
            RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
            T,
        )
        .await
        .expect("answered");
    let info = ClusterInfo::from_json(info.body.as_deref().expect("body")).expect("parses");
    assert_eq!(info.cluster_addr_table[CLUSTER].len(), 2);
    assert_eq!(
        info.broker_addr_table["broker-a"]
            .broker_addrs
            .get(&1)
            .map(String::as_str),
        Some("10.0.0.3:10911")
    );

    let all = c
        .request(
            RemotingCommand::request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
            T,
        )
        .await
        .expect("answered");
    let all = TopicList::from_json(all.body.as_deref().expect("body")).expect("parses");
    assert_eq!(all.topic_list, ["TBW102", "TopicTest"]);

    let by_cluster = c
        .request(
            RemotingCommand::request(RequestCode::GET_TOPICS_BY_CLUSTER)
                .with_ext("cluster", CLUSTER),
            T,
        )
        .await
        .expect("answered");
    let by_cluster =
        TopicList::from_json(by_cluster.body.as_deref().expect("body")).expect("parses");
    assert_eq!(by_cluster.topic_list, ["TBW102", "TopicTest"]);
    ns.shutdown().await;
}

#[tokio::test]
async fn unregister_and_delete_topic_remove_routes() {
    let ns = start(NameServerConfig::default()).await;
    let c = client(&ns).await;
    register(&c, "broker-a", 0, "10.0.0.1:10911", 1).await;
    register(&c, "broker-b", 0, "10.0.0.2:10911", 1).await;

    let unregister = RemotingCommand::request(RequestCode::UNREGISTER_BROKER)
        .with_ext("brokerName", "broker-a")
        .with_ext("brokerAddr", "10.0.0.1:10911")
        .with_ext("clusterName", CLUSTER)
        .with_ext("brokerId", "0");
    let resp = c.request(unregister, T).await.expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let resp = route(&c, "TopicTest").await;
    let route = TopicRouteData::from_json(resp.body.as_deref().expect("body")).expect("parses");
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].broker_name, "broker-b");

    let delete = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV)
        .with_ext("topic", "TopicTest");
    let resp = c.request(delete, T).await.expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    assert_no_route(&c, "TopicTest").await;
    assert_no_route(&c, "NeverExisted").await;
    assert_eq!(route_perm(&c, "TBW102").await, 7);
    ns.shutdown().await;
}

#[tokio::test]
async fn heartbeats_with_the_same_data_version_keep_the_routes() {
    let ns = start(NameServerConfig::default()).await;
    let c = client(&ns).await;
    register(&c, "broker-a", 0, "10.0.0.1:10911", 5).await;
    // Same version, other content: a heartbeat; the content is not re-read.
    let body = java_register_body(5, &[("TopicTest", 16, 6), ("TBW102", 8, 7)]);
    let resp = c
        .request(register_request("broker-a", 0, "10.0.0.1:10911", body), T)
        .await
        .expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    let r = route(&c, "TopicTest").await;
    let r = TopicRouteData::from_json(r.body.as_deref().expect("body")).expect("parses");
    assert_eq!(r.queue_datas[0].write_queue_nums, 4);

    let query = |counter: i64| {
        RemotingCommand::request(RequestCode::QUERY_DATA_VERSION)
            .with_ext("brokerName", "broker-a")
            .with_ext("brokerAddr", "10.0.0.1:10911")
            .with_ext("clusterName", CLUSTER)
            .with_ext("brokerId", "0")
            .with_body(format!(
                r#"{{"counter":{counter},"stateVersion":0,"timestamp":1700000000000}}"#
            ))
    };
    let same = c.request(query(5), T).await.expect("answered");
    assert_eq!(same.ext("changed"), Some("false"));
    let other = c.request(query(6), T).await.expect("answered");
    assert_eq!(other.ext("changed"), Some("true"));
    assert_eq!(body_json(&other)["counter"], 5);
    ns.shutdown().await;
}

#[tokio::test]
async fn bad_registrations_and_missing_header_fields_are_system_errors() {
    let ns = start(NameServerConfig::default()).await;
    let c = client(&ns).await;
    let mut req = register_request(
        "broker-a",
        0,
        "10.0.0.1:10911",
        java_register_body(1, &[("T", 1, 6), ("U", 1, 6)]),
    );
    req.ext_fields.insert("bodyCrc32".into(), "12345".into());
    let resp = c.request(req, T).await.expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(resp.remark.as_deref(), Some("crc32 not match"));

    // An incremental (single-topic) registration before a full one: Java refuses it.
    let single = register_request(
        "broker-a",
        0,
        "10.0.0.1:10911",
        java_register_body(1, &[("T", 1, 6)]),
    );
    let resp = c.request(single, T).await.expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(resp.remark.as_deref(), Some("register broker failed"));

    let resp = c
        .request(
            RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC),
            T,
        )
        .await
        .expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(resp.remark.as_deref().is_some_and(|r| r.contains("topic")));
    ns.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_broker_expires_after_the_timeout() {
    let config = NameServerConfig {
        broker_expiry: Duration::from_secs(120),
        scan_interval: Duration::from_secs(5),
        ..NameServerConfig::default()
    };
    let ns = start(config).await;
    let broker = client(&ns).await;
    let broker_conn = broker.connection().await.expect("connected");
    let mut changes = ns.route_changes();
    register(&broker, "broker-a", 0, "10.0.0.1:10911", 1).await;
    changes.borrow_and_update();
    let registered_at = tokio::time::Instant::now();

    // Nothing else happens: paused time runs straight to the scan that expires the broker.
    changes.changed().await.expect("name server alive");
    let silent_for = registered_at.elapsed();
    assert!(silent_for > Duration::from_secs(120), "{silent_for:?}");
    assert!(silent_for <= Duration::from_secs(126), "{silent_for:?}");
    // Java closes the expired broker's channel.
    broker_conn.closed().await;
    let c = client(&ns).await;
    assert_no_route(&c, "TopicTest").await;
    ns.shutdown().await;
}

#[tokio::test]
async fn a_broker_is_removed_when_its_connection_closes() {
    let ns = start(NameServerConfig::default()).await;
    let broker = client(&ns).await;
    let c = client(&ns).await;
    register(&broker, "broker-a", 0, "10.0.0.1:10911", 1).await;
    assert_eq!(
        route(&c, "TopicTest").await.response_code(),
        ResponseCode::SUCCESS
    );

    let mut changes = ns.route_changes();
    changes.borrow_and_update();
    broker.shutdown().await;
    changes.changed().await.expect("name server alive");
    assert_no_route(&c, "TopicTest").await;
    ns.shutdown().await;
}

#[tokio::test]
async fn kv_config_put_get_delete_and_persist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = NameServerConfig {
        kv_config_path: Some(dir.path().join("kvConfig.json")),
        ..NameServerConfig::default()
    };
    let ns = start(config.clone()).await;
    let c = client(&ns).await;
    let kv = |code: RequestCode, key: &str| {
        RemotingCommand::request(code)
            .with_ext("namespace", "ORDER_TOPIC_CONFIG")
            .with_ext("key", key)
    };
    let put = kv(RequestCode::PUT_KV_CONFIG, "TopicTest").with_ext("value", "broker-a:4");
    assert_eq!(
        c.request(put, T).await.expect("put").response_code(),
        ResponseCode::SUCCESS
    );
    let put = kv(RequestCode::PUT_KV_CONFIG, "Other").with_ext("value", "broker-b:2");
    assert_eq!(
        c.request(put, T).await.expect("put").response_code(),
        ResponseCode::SUCCESS
    );

    let got = c
        .request(kv(RequestCode::GET_KV_CONFIG, "TopicTest"), T)
        .await
        .expect("get");
    assert_eq!(got.ext("value"), Some("broker-a:4"));
    let del = c
        .request(kv(RequestCode::DELETE_KV_CONFIG, "Other"), T)
        .await
        .expect("delete");
    assert_eq!(del.response_code(), ResponseCode::SUCCESS);
    let gone = c
        .request(kv(RequestCode::GET_KV_CONFIG, "Other"), T)
        .await
        .expect("get");
    assert_eq!(gone.response_code(), ResponseCode::QUERY_NOT_FOUND);

    let list = RemotingCommand::request(RequestCode::GET_KVLIST_BY_NAMESPACE)
        .with_ext("namespace", "ORDER_TOPIC_CONFIG");
    let resp = c.request(list.clone(), T).await.expect("list");
    let table = KvTable::from_json(resp.body.as_deref().expect("body")).expect("parses");
    assert_eq!(table.table.len(), 1);

    // Brokers get the ORDER_TOPIC_CONFIG table back when they register.
    let reg = register(&c, "broker-a", 0, "10.0.0.1:10911", 1).await;
    assert_eq!(body_json(&reg)["table"]["TopicTest"], "broker-a:4");
    ns.shutdown().await;

    let ns = start(config).await;
    let c = client(&ns).await;
    let got = c
        .request(kv(RequestCode::GET_KV_CONFIG, "TopicTest"), T)
        .await
        .expect("get");
    assert_eq!(got.ext("value"), Some("broker-a:4"), "persisted");
    let missing = RemotingCommand::request(RequestCode::GET_KVLIST_BY_NAMESPACE)
        .with_ext("namespace", "nothing");
    let resp = c.request(missing, T).await.expect("list");
    assert_eq!(resp.response_code(), ResponseCode::QUERY_NOT_FOUND);
    ns.shutdown().await;
}

#[tokio::test]
async fn an_unknown_request_code_is_refused_and_the_connection_survives() {
    let ns = start(NameServerConfig::default()).await;
    let c = client(&ns).await;
    let resp = c
        .request(RemotingCommand::request(RequestCode::SEND_MESSAGE), T)
        .await
        .expect("answered");
    assert_eq!(
        resp.response_code(),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 10 not supported by ferromq")
    );
    assert_no_route(&c, "TopicTest").await;
    ns.shutdown().await;
}

#[tokio::test]
async fn a_malformed_frame_from_one_client_does_not_affect_another() {
    let ns = start(NameServerConfig::default()).await;
    let good = client(&ns).await;
    register(&good, "broker-a", 0, "10.0.0.1:10911", 1).await;

    let mut bad = TcpStream::connect(ns.local_addr()).await.expect("connect");
    // A JSON header that is not JSON.
    bad.write_all(&[0, 0, 0, 7, 0, 0, 0, 3, b'{', b'{', b'{'])
        .await
        .expect("write");
    let mut buf = [0u8; 16];
    match bad.read(&mut buf).await {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected the name server to close, got {n} bytes"),
    }
    assert_eq!(
        route(&good, "TopicTest").await.response_code(),
        ResponseCode::SUCCESS
    );
    ns.shutdown().await;
}
