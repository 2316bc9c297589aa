//! The console's JSON API against a real broker and real clients: a topic created is listed and
//! changed, a group's lag per queue drops as it consumes and moves with resets, a message found
//! by key, id or time comes with its body and trace, a resent dead letter arrives at its group,
//! bad input is a 4xx JSON error, and changes need credentials when authentication is on.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use common::{get, request};
use ferromq_auth::wire::{AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use ferromq_auth::Credentials;
use ferromq_broker::service::SendBack;
use ferromq_client::admin::{Admin, AdminConfig};
use ferromq_client::consumer::pull::{PullConsumer, PullConsumerConfig};
use ferromq_client::{Message, MessageQueue, Producer, ProducerConfig};
use ferromq_http::{HttpServer, Target};
use ferromq_testkit::{eventually, TestCluster, DEFAULT_DEADLINE};
use serde_json::{json, Value};

async fn start_http(cluster: &TestCluster) -> ferromq_http::HttpHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    HttpServer::start(listener, Target::Broker(cluster.broker().service())).expect("http starts")
}

/// `GET path`, which must answer 200 with JSON.
async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, headers, body) = get(addr, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    serde_json::from_str(&body).expect("JSON answer")
}

/// `method path body`: the status and the JSON answer (errors are JSON too).
async fn call(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) = request(addr, method, path, Some(&body.to_string()), None).await;
    let v =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
    (status, v)
}

fn topic_entry<'a>(topics: &'a Value, name: &str) -> Option<&'a Value> {
    topics
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["topic"] == name)
}

/// The lag of `group` in one queue of `topic`, as the group page shows it.
async fn queue_lag(addr: SocketAddr, group: &str, topic: &str, queue_id: u32) -> u64 {
    let g = get_json(addr, &format!("/api/groups/{group}")).await;
    g["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .find(|q| q["topic"] == topic && q["queueId"] == queue_id)
        .and_then(|q| q["lagMessages"].as_u64())
        .unwrap_or_else(|| panic!("no queue {topic}/{queue_id} in {g}"))
}

async fn producer(cluster: &TestCluster) -> Producer {
    Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer")
}

async fn consumer(cluster: &TestCluster, group: &str) -> PullConsumer {
    PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        group: group.to_owned(),
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_listed_changed_and_deleted() {
    let cluster = TestCluster::start().await;
    let http = start_http(&cluster).await;
    let addr = http.local_addr();

    let cluster_view = get_json(addr, "/api/cluster").await;
    let b = &cluster_view["brokers"][0]["broker"];
    assert_eq!(b["brokerName"], cluster.broker_config(0).broker_name);
    assert_eq!(b["role"], "ASYNC_MASTER");
    assert_eq!(b["addr"], cluster.broker_addr());
    assert_eq!(cluster_view["authRequired"], false);

    let (status, _) = call(
        addr,
        "POST",
        "/api/topics",
        &json!({"topic": "ConsoleTopic", "queues": 2, "messageType": "fifo"}),
    )
    .await;
    assert_eq!(status, 200);
    let topics = get_json(addr, "/api/topics").await;
    let t = topic_entry(&topics, "ConsoleTopic").expect("created topic listed");
    assert_eq!(t["messageType"], "FIFO");
    assert_eq!(t["queues"].as_array().expect("queues").len(), 2);
    // System topics only when asked for.
    assert!(topic_entry(&topics, "TBW102").is_none());
    assert!(topic_entry(&get_json(addr, "/api/topics?system=true").await, "TBW102").is_some());

    // Three messages in queue 1: its offsets show them.
    let p = producer(&cluster).await;
    let mq = MessageQueue::new(
        "ConsoleTopic",
        cluster.broker_config(0).broker_name.clone(),
        1,
    );
    for i in 0..3 {
        p.send_to_queue(Message::new("ConsoleTopic", format!("m{i}")), &mq)
            .await
            .expect("send");
    }
    assert!(
        cluster
            .broker()
            .wait_readable(Duration::from_secs(10))
            .await
    );
    let topics = get_json(addr, "/api/topics").await;
    let q1 = &topic_entry(&topics, "ConsoleTopic").expect("listed")["queues"][1];
    assert_eq!(
        (q1["minOffset"].as_u64(), q1["maxOffset"].as_u64()),
        (Some(0), Some(3))
    );

    let (status, _) = call(
        addr,
        "PUT",
        "/api/topics/ConsoleTopic",
        &json!({"queues": 5}),
    )
    .await;
    assert_eq!(status, 200);
    let topics = get_json(addr, "/api/topics").await;
    let t = topic_entry(&topics, "ConsoleTopic").expect("listed");
    assert_eq!(t["queues"].as_array().expect("queues").len(), 5);
    assert_eq!(
        t["messageType"], "FIFO",
        "the update keeps the other settings"
    );

    // Bad input: JSON errors, never a panic, nothing created.
    for (method, path, body, want) in [
        ("POST", "/api/topics", json!({"topic": "bad topic!"}), 400),
        (
            "POST",
            "/api/topics",
            json!({"topic": "T", "queues": 0}),
            400,
        ),
        (
            "POST",
            "/api/topics",
            json!({"topic": "T", "messageType": "WEIRD"}),
            400,
        ),
        ("POST", "/api/topics", json!({"nope": 1}), 400),
        (
            "PUT",
            "/api/topics/ConsoleTopic",
            json!({"queues": 100_000}),
            400,
        ),
        ("PUT", "/api/topics/NoSuchTopic", json!({"queues": 2}), 404),
        ("DELETE", "/api/topics/NoSuchTopic", json!(null), 404),
        ("GET", "/api/nothing/here", json!(null), 404),
    ] {
        let (status, v) = call(addr, method, path, &body).await;
        assert_eq!(status, want, "{method} {path} {body}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    let (status, text) = request(addr, "POST", "/api/topics", Some("{not json"), None).await;
    assert_eq!(status, 400, "{text}");
    assert!(topic_entry(&get_json(addr, "/api/topics").await, "T").is_none());

    let (status, _) = call(addr, "DELETE", "/api/topics/ConsoleTopic", &json!(null)).await;
    assert_eq!(status, 200);
    assert!(topic_entry(&get_json(addr, "/api/topics").await, "ConsoleTopic").is_none());

    // The charts sampler took its first sample at start.
    let charts = get_json(addr, "/api/charts").await;
    assert!(
        !charts["points"].as_array().expect("points").is_empty(),
        "{charts}"
    );
    assert_eq!(charts["intervalMs"], 10_000);
    http.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_drops_as_a_group_consumes_and_follows_resets() {
    let cluster = TestCluster::start().await;
    let http = start_http(&cluster).await;
    let addr = http.local_addr();
    let p = producer(&cluster).await;
    let first = p
        .send(Message::new("LagTopic", "b0").with_keys(["key-0"]))
        .await
        .expect("send");
    let mq = first.queue.clone();
    let mut sent = vec![first];
    for i in 1..6 {
        sent.push(
            p.send_to_queue(
                Message::new("LagTopic", format!("b{i}")).with_keys([format!("key-{i}")]),
                &mq,
            )
            .await
            .expect("send"),
        );
    }
    assert!(
        cluster
            .broker()
            .wait_readable(Duration::from_secs(10))
            .await
    );

    // The group starts at the queue's first message: all six left.
    let c = consumer(&cluster, "lag-group").await;
    c.commit_offset("lag-group", &mq, 0).await.expect("commit");
    assert_eq!(
        queue_lag(addr, "lag-group", "LagTopic", mq.queue_id).await,
        6
    );
    let groups = get_json(addr, "/api/groups").await;
    let g = groups
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == "lag-group")
        .expect("group listed");
    assert_eq!(g["lagMessages"], 6);
    assert!(g["lagMs"].as_u64().is_some());

    // The stuck-queue view names the oldest waiting message.
    let stuck = get_json(addr, "/api/stuck").await;
    let s = stuck
        .as_array()
        .expect("stuck")
        .iter()
        .find(|s| s["group"] == "lag-group")
        .expect("stuck queue listed");
    assert_eq!(s["offset"], 0);
    assert_eq!(s["msgId"], sent[0].msg_id.as_str());
    assert_eq!(s["keys"], json!(["key-0"]));
    assert_eq!(s["reconsumeTimes"], 0);

    // It consumes four: two left, and the oldest waiting is now the fifth.
    let got = c.pull(&mq, 0, 4, "*").await.expect("pull");
    assert_eq!(got.messages.len(), 4);
    c.commit_offset("lag-group", &mq, got.next_offset)
        .await
        .expect("commit");
    assert_eq!(
        queue_lag(addr, "lag-group", "LagTopic", mq.queue_id).await,
        2
    );
    let stuck = get_json(addr, "/api/stuck").await;
    let s = stuck
        .as_array()
        .expect("stuck")
        .iter()
        .find(|s| s["group"] == "lag-group")
        .expect("still stuck");
    assert_eq!(
        (s["offset"].as_u64(), s["lagMessages"].as_u64()),
        (Some(4), Some(2))
    );

    // Skip to the end: nothing left; back to the start by time: all six again.
    let (status, v) = call(
        addr,
        "POST",
        "/api/groups/lag-group/reset",
        &json!({"topic": "LagTopic", "toEnd": true}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        queue_lag(addr, "lag-group", "LagTopic", mq.queue_id).await,
        0
    );
    let (status, v) = call(
        addr,
        "POST",
        "/api/groups/lag-group/reset",
        &json!({"topic": "LagTopic", "timestamp": 0}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        queue_lag(addr, "lag-group", "LagTopic", mq.queue_id).await,
        6
    );

    // Search: by key with its body, by unique key, by offset id, by time.
    let found = get_json(addr, "/api/messages/by-key?topic=LagTopic&key=key-3").await;
    let found = found.as_array().expect("list");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0]["body"],
        json!({"size": 2, "encoding": "utf8", "text": "b3", "truncated": false})
    );
    assert_eq!(found[0]["msgId"], sent[3].msg_id.as_str());
    assert_eq!(found[0]["properties"]["KEYS"], "key-3");
    let by_uniq = get_json(
        addr,
        &format!("/api/messages/by-id?id={}&topic=LagTopic", sent[2].msg_id),
    )
    .await;
    assert_eq!(by_uniq[0]["body"]["text"], "b2");
    let by_offset = get_json(
        addr,
        &format!("/api/messages/by-id?id={}", sent[5].offset_msg_id),
    )
    .await;
    assert_eq!(by_offset[0]["body"]["text"], "b5");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let by_time = get_json(
        addr,
        &format!(
            "/api/messages/by-time?topic=LagTopic&queue={}&begin={}&end={}",
            mq.queue_id,
            now - 3_600_000,
            now + 60_000
        ),
    )
    .await;
    let bodies: Vec<&str> = by_time
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["body"]["text"].as_str().expect("text"))
        .collect();
    assert_eq!(bodies, ["b0", "b1", "b2", "b3", "b4", "b5"]);

    // The broker's trace of a message: stored, then delivered to the group.
    let id = sent[1].msg_id.clone();
    let kinds = eventually(DEFAULT_DEADLINE, "the trace of a consumed message", || {
        let path = format!("/api/trace/{id}");
        async move {
            let steps = get_json(addr, &path).await;
            let kinds: Vec<String> = steps
                .as_array()
                .expect("steps")
                .iter()
                .map(|s| s["kind"].as_str().expect("kind").to_owned())
                .collect();
            (kinds.len() >= 2).then_some(kinds)
        }
    })
    .await;
    assert_eq!(kinds, ["BrokerStored", "BrokerDelivered"]);

    // Bad searches and unknown groups: 4xx JSON errors.
    for (path, want) in [
        ("/api/messages/by-key?topic=LagTopic", 400),
        ("/api/messages/by-key?topic=NoSuch&key=k", 404),
        ("/api/messages/by-key?topic=bad%20name&key=k", 400),
        ("/api/messages/by-id?id=NOTANID", 404),
        (
            "/api/messages/by-time?topic=LagTopic&queue=0&begin=0&end=99999999999999",
            400,
        ),
        (
            "/api/messages/by-time?topic=LagTopic&queue=0&begin=10&end=5",
            400,
        ),
        (
            "/api/messages/by-time?topic=LagTopic&queue=99&begin=0&end=5",
            400,
        ),
        (
            "/api/messages/by-time?topic=LagTopic&queue=x&begin=0&end=5",
            400,
        ),
        ("/api/messages/by-key?topic=LagTopic&key=%zz", 400),
        ("/api/groups/no-such-group", 404),
        ("/api/groups/bad%20group", 400),
    ] {
        let (status, _, body) = get(addr, path).await;
        assert_eq!(status, want, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).expect("JSON error");
        assert!(v["error"].is_string(), "{path}: {body}");
    }
    for body in [
        json!({"topic": "LagTopic"}),
        json!({"topic": "LagTopic", "timestamp": 1, "toEnd": true}),
        json!({"topic": "LagTopic", "timestamp": -5}),
        json!({"topic": "NoSuch", "toEnd": true}),
    ] {
        let (status, v) = call(addr, "POST", "/api/groups/lag-group/reset", &body).await;
        assert!((400..500).contains(&status), "{body}: {status} {v}");
    }
    http.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_dead_letter_arrives_at_its_group() {
    let cluster = TestCluster::start().await;
    let http = start_http(&cluster).await;
    let addr = http.local_addr();
    let p = producer(&cluster).await;
    let sent = p
        .send(Message::new("DlqTopic", vec![0xff_u8, 0x00, b'<']).with_keys(["poison"]))
        .await
        .expect("send");
    let mq = sent.queue.clone();
    assert!(
        cluster
            .broker()
            .wait_readable(Duration::from_secs(10))
            .await
    );

    // The group reads it and gives up on it at once: a dead letter.
    let c = consumer(&cluster, "dlq-group").await;
    let got = c.pull(&mq, 0, 1, "*").await.expect("pull");
    assert_eq!(got.messages.len(), 1);
    c.commit_offset("dlq-group", &mq, got.next_offset)
        .await
        .expect("commit");
    cluster
        .broker()
        .service()
        .send_back(&SendBack {
            group: "dlq-group".into(),
            offset: i64::try_from(got.messages[0].commit_log_offset).expect("offset"),
            delay_level: -1,
            max_reconsume_times: None,
            origin_topic: Some("DlqTopic".into()),
            consumer: "127.0.0.1:1".parse().expect("addr"),
        })
        .expect("dead-lettered");

    let dead = eventually(DEFAULT_DEADLINE, "the dead letter listed", || async move {
        let d = get_json(addr, "/api/dlq/dlq-group").await;
        (!d["messages"].as_array().expect("messages").is_empty()).then_some(d)
    })
    .await;
    let m = &dead["messages"][0];
    assert_eq!(dead["topic"], "%DLQ%dlq-group");
    assert_eq!(m["originTopic"], "DlqTopic");
    assert_eq!(m["keys"], json!(["poison"]));
    // Not UTF-8: shown as hex, never as raw bytes.
    assert_eq!(
        m["body"],
        json!({"size": 3, "encoding": "hex", "text": "ff003c", "truncated": false})
    );

    // A group with no dead letters has an empty page; bad offsets are refused.
    let none = get_json(addr, "/api/dlq/other-group").await;
    assert_eq!(none["messages"], json!([]));
    let (status, _) = call(
        addr,
        "POST",
        "/api/dlq/dlq-group/resend",
        &json!({"offset": 7}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(addr, "POST", "/api/dlq/other-group/resend", &json!({})).await;
    assert_eq!(status, 404);

    let offset = m["queueOffset"].as_u64().expect("offset");
    let (status, v) = call(
        addr,
        "POST",
        "/api/dlq/dlq-group/resend",
        &json!({ "offset": offset }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["resent"], json!([[offset, "DlqTopic"]]));

    // The group, continuing from its committed offset, gets it again: same body and key, once.
    // (Queues show it once the broker dispatched the resend, a moment after the answer.)
    let route = c.fetch_queues("DlqTopic").await.expect("route");
    let again = eventually(DEFAULT_DEADLINE, "the resent dead letter", || async {
        let mut again = Vec::new();
        for q in &route {
            let from = if *q == mq { got.next_offset } else { 0 };
            let pulled = c.pull(q, from, 32, "*").await.expect("pull");
            again.extend(pulled.messages);
        }
        (!again.is_empty()).then_some(again)
    })
    .await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(&again[0].body[..], &[0xff, 0x00, b'<']);
    assert_eq!(again[0].keys().collect::<Vec<_>>(), ["poison"]);
    assert_eq!(again[0].reconsume_times, 0);
    http.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_need_credentials_when_authentication_is_on() {
    let cluster = TestCluster::start_with(|c| {
        c.authentication_enabled = true;
        c.authorization_enabled = true;
        c.init_authentication_user = Some(ferromq_broker::config::auth::InitUser {
            username: "admin".into(),
            password: "s3cret".into(),
        });
    })
    .await;
    let http = start_http(&cluster).await;
    let addr = http.local_addr();
    let basic = |user: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
        )
    };
    let create = json!({"topic": "Guarded"}).to_string();
    // Reads stay open.
    assert_eq!(get(addr, "/api/topics").await.0, 200);
    for auth in [
        None,
        Some(basic("admin", "wrong")),
        Some(basic("nobody", "s3cret")),
        Some("Basic !!!".to_owned()),
    ] {
        let (status, body) =
            request(addr, "POST", "/api/topics", Some(&create), auth.as_deref()).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(serde_json::from_str::<Value>(&body).expect("JSON")["error"].is_string());
    }
    assert!(topic_entry(&get_json(addr, "/api/topics").await, "Guarded").is_none());
    let (status, body) = request(
        addr,
        "POST",
        "/api/topics",
        Some(&create),
        Some(&basic("admin", "s3cret")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(topic_entry(&get_json(addr, "/api/topics").await, "Guarded").is_some());

    // A known user without the permission: 403, and the topics stay as they were. Granted Create
    // and Update on the topic (as UPDATE_AND_CREATE_TOPIC needs), the same call passes.
    let admin = Admin::start_signed(
        AdminConfig {
            namesrv_addrs: cluster.namesrv_addrs(),
            ..AdminConfig::default()
        },
        Some(Credentials::new("admin", "s3cret")),
    )
    .await
    .expect("admin");
    let broker = cluster.broker_addr();
    admin
        .create_user(
            &broker,
            &UserInfo {
                username: Some("viewer".into()),
                password: Some("v1ewer".into()),
                user_type: Some("Normal".into()),
                user_status: None,
            },
        )
        .await
        .expect("create viewer");
    let grant = |resource: &str, actions: &[&str]| AclInfo {
        subject: Some("User:viewer".into()),
        policies: vec![PolicyInfo {
            policy_type: None,
            entries: vec![PolicyEntryInfo {
                resource: resource.into(),
                actions: actions.iter().map(|a| (*a).to_owned()).collect(),
                source_ips: Vec::new(),
                decision: "Allow".into(),
            }],
        }],
    };
    admin
        .put_acl(&broker, &grant("Topic:*", &["Sub"]))
        .await
        .expect("viewer may subscribe");
    let viewer = basic("viewer", "v1ewer");
    let other = json!({"topic": "ByViewer"}).to_string();
    let (status, body) = request(addr, "POST", "/api/topics", Some(&other), Some(&viewer)).await;
    assert_eq!(status, 403, "{body}");
    let error = serde_json::from_str::<Value>(&body).expect("JSON")["error"]
        .as_str()
        .expect("error text")
        .to_owned();
    assert!(error.contains("viewer"), "{error}");
    let (status, body) = request(addr, "DELETE", "/api/topics/Guarded", None, Some(&viewer)).await;
    assert_eq!(status, 403, "{body}");
    let topics = get_json(addr, "/api/topics").await;
    assert!(topic_entry(&topics, "ByViewer").is_none());
    assert!(topic_entry(&topics, "Guarded").is_some());
    admin
        .put_acl(&broker, &grant("Topic:ByViewer", &["Create", "Update"]))
        .await
        .expect("viewer may create");
    let (status, body) = request(addr, "POST", "/api/topics", Some(&other), Some(&viewer)).await;
    assert_eq!(status, 200, "{body}");
    assert!(topic_entry(&get_json(addr, "/api/topics").await, "ByViewer").is_some());
    admin.shutdown().await;
    http.shutdown().await;
    cluster.shutdown().await;
}

/// The cluster page asks the name server who else is in the cluster and each of them how it is:
/// a second broker group shows with its address, role and commit-log size as it reports them, and
/// the broker serving the page is not listed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_page_lists_the_other_brokers_of_the_cluster() {
    let cluster = TestCluster::builder()
        .brokers(["broker-a", "broker-b"])
        .start()
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let http = HttpServer::start(listener, Target::Broker(cluster.broker_at(0).service()))
        .expect("http starts");
    let addr = http.local_addr();
    let b_addr = cluster.broker_at(1).local_addr().to_string();

    // Messages only on broker-b: its commit log grows, broker-a's does not.
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    let mut spec = ferromq_client::admin::TopicSpec::new("OnlyOnB");
    spec.read_queue_nums = 2;
    spec.write_queue_nums = 2;
    admin
        .create_topic_on_broker(&b_addr, &spec)
        .await
        .expect("topic on broker-b");
    // The producer starts once the name server routes the topic to broker-b alone: before that
    // it would fall back to the default route and could create the topic on broker-a too.
    eventually(DEFAULT_DEADLINE, "route of OnlyOnB", || async {
        admin
            .topic_route("OnlyOnB")
            .await
            .ok()
            .filter(|r| r.queue_datas.len() == 1)
    })
    .await;
    admin.shutdown().await;
    let p = producer(&cluster).await;
    p.send(Message::new("OnlyOnB", "first"))
        .await
        .expect("first send");
    for i in 0..20 {
        p.send(Message::new("OnlyOnB", format!("m{i}")))
            .await
            .expect("send");
    }
    p.shutdown().await;

    let page = get_json(addr, "/api/cluster").await;
    assert_eq!(page["brokers"][0]["broker"]["brokerName"], "broker-a");
    assert!(page["peersError"].is_null(), "{page}");
    let peers = page["peers"].as_array().expect("peers");
    assert_eq!(peers.len(), 1, "only broker-b: {page}");
    let b = &peers[0];
    assert_eq!(b["brokerName"], "broker-b");
    assert_eq!(b["brokerId"], 0);
    assert_eq!(b["addr"], b_addr);
    assert_eq!(b["role"], "ASYNC_MASTER");
    assert!(b["error"].is_null(), "{b}");
    let b_log = cluster.broker_at(1).service().console_broker().log_bytes;
    assert!(b_log > 0);
    assert_eq!(b["logBytes"], b_log);
    // 21 messages stored within the last ten minutes: the broker's 10-minute put rate (the third
    // figure of `putTps`, which the page's rate comes from) is not zero.
    let client = ferromq_net::Client::connect(b_addr.clone(), ferromq_net::ClientConfig::default())
        .await
        .expect("connect broker-b");
    let resp = client
        .request(
            ferromq_remoting::RemotingCommand::request(
                ferromq_remoting::RequestCode::GET_BROKER_RUNTIME_INFO,
            ),
            DEFAULT_DEADLINE,
        )
        .await
        .expect("runtime info");
    let table: Value = serde_json::from_slice(resp.body.as_deref().expect("body")).expect("json");
    let put_tps = table["table"]["putTps"]
        .as_str()
        .expect("putTps")
        .to_owned();
    let rates: Vec<f64> = put_tps
        .split_whitespace()
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert_eq!(rates.len(), 3, "{put_tps}");
    assert!(rates[2] > 0.0, "{put_tps}");

    http.shutdown().await;
    cluster.shutdown().await;
}
