//! ACL 2.0 over real TCP: a broker with authentication and authorization on, our client signing
//! with an access key / secret key, and raw requests for what no well-behaved client sends.

use crate::common;

use std::time::Duration;

use common::{call, client_of, props, send_header, TestCluster};
use ferromq_auth::wire::{AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use ferromq_auth::Credentials;
use ferromq_broker::config::auth::{InitUser, InnerCredentials};
use ferromq_broker::BrokerConfig;
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::{PullConsumer, PullConsumerConfig, PullStatus};
use ferromq_client::{ClientError, Message, Producer, ProducerConfig};
use ferromq_remoting::headers::send::SendMessageRequestHeaderV2;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const ROOT: (&str, &str) = ("root", "root-secret");
const ALICE: (&str, &str) = ("alice", "alice-secret");

fn secured(c: &mut BrokerConfig) {
    c.authentication_enabled = true;
    c.authorization_enabled = true;
    c.init_authentication_user = Some(InitUser {
        username: ROOT.0.into(),
        password: ROOT.1.into(),
    });
}

/// [`secured`], signing the broker's own requests (registration, a replica's mirroring) as `ROOT`.
fn inner(c: &mut BrokerConfig) {
    secured(c);
    c.inner_client_authentication_credentials = Some(InnerCredentials {
        access_key: ROOT.0.into(),
        secret_key: ROOT.1.into(),
    });
}

fn creds((ak, sk): (&str, &str)) -> Option<Credentials> {
    Some(Credentials::new(ak, sk))
}

async fn admin(cluster: &TestCluster, who: (&str, &str)) -> Admin {
    Admin::start_signed(
        AdminConfig {
            namesrv_addrs: cluster.namesrv_addrs(),
            ..AdminConfig::default()
        },
        creds(who),
    )
    .await
    .expect("admin")
}

fn entry(resource: &str, actions: &[&str], decision: &str) -> PolicyEntryInfo {
    PolicyEntryInfo {
        resource: resource.into(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        source_ips: Vec::new(),
        decision: decision.into(),
    }
}

/// Topics `allowed` and `secret`; user alice may publish and subscribe `allowed` with groups
/// `alice-*`, and nothing else.
async fn set_up(cluster: &TestCluster) {
    let root = admin(cluster, ROOT).await;
    let addr = cluster.broker_addr();
    for topic in ["allowed", "secret"] {
        let mut spec = TopicSpec::new(topic);
        spec.read_queue_nums = 2;
        spec.write_queue_nums = 2;
        root.create_topic_on_broker(&addr, &spec)
            .await
            .expect("topic");
    }
    root.create_user(
        &addr,
        &UserInfo {
            username: Some(ALICE.0.into()),
            password: Some(ALICE.1.into()),
            user_type: Some("Normal".into()),
            user_status: None,
        },
    )
    .await
    .expect("create alice");
    root.put_acl(
        &addr,
        &AclInfo {
            subject: Some("User:alice".into()),
            policies: vec![PolicyInfo {
                policy_type: Some("Custom".into()),
                entries: vec![
                    entry("Topic:allowed", &["Pub", "Sub"], "Allow"),
                    entry("Group:alice-*", &["Sub"], "Allow"),
                ],
            }],
        },
    )
    .await
    .expect("acl");
    wait_for_routes(&root).await;
    root.shutdown().await;
}

/// Topic changes reach the name server with the registration they trigger.
async fn wait_for_routes(admin: &Admin) {
    for topic in ["allowed", "secret"] {
        ferromq_testkit::eventually_ok(common::T, "the topic's route", || admin.topic_route(topic))
            .await;
    }
}

async fn producer(cluster: &TestCluster, who: (&str, &str)) -> Producer {
    Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        group: "alice-producer".into(),
        retries_on_failure: 0,
        credentials: creds(who),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer")
}

/// Every body of `topic` from offset 0, read as `who`, sorted.
async fn read_all(cluster: &TestCluster, who: (&str, &str), topic: &str) -> Vec<String> {
    // Acknowledged sends are indexed for pulls a moment later.
    assert!(
        cluster.broker().wait_readable(common::T).await,
        "consume queues caught up"
    );
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        group: "alice-readers".into(),
        credentials: creds(who),
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer");
    let mut got = Vec::new();
    for mq in consumer.fetch_queues(topic).await.expect("queues") {
        let mut offset = 0;
        loop {
            let r = consumer.pull(&mq, offset, 64, "*").await.expect("pull");
            got.extend(
                r.messages
                    .iter()
                    .map(|m| String::from_utf8_lossy(&m.body).into_owned()),
            );
            offset = r.next_offset;
            if matches!(r.status, PullStatus::NoNewMsg) {
                break;
            }
        }
    }
    consumer.shutdown().await;
    got.sort();
    got
}

fn refused(e: &ClientError) -> (ResponseCode, String) {
    match e {
        ClientError::Server { code, remark, .. } => (*code, remark.clone()),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_user_sends_and_pulls_and_is_refused_elsewhere() {
    let cluster = TestCluster::start_with(secured).await;
    set_up(&cluster).await;
    let alice = producer(&cluster, ALICE).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        let body = format!("m{i:02}");
        alice
            .send(Message::new("allowed", body.clone().into_bytes()))
            .await
            .expect("alice may publish to allowed");
        sent.push(body);
    }

    let err = alice
        .send(Message::new("secret", b"nope".to_vec()))
        .await
        .expect_err("alice may not publish to secret");
    let (code, remark) = refused(&err);
    assert_eq!(code, ResponseCode::NO_PERMISSION, "{remark}");
    for part in ["User:alice", "Topic:secret", "Pub"] {
        assert!(remark.contains(part), "remark {remark:?} lacks {part}");
    }

    // The refusal broke nothing: alice's connection and another client both go on.
    alice
        .send(Message::new("allowed", b"m20".to_vec()))
        .await
        .expect("alice again");
    sent.push("m20".into());
    let other = producer(&cluster, ROOT).await;
    other
        .send(Message::new("allowed", b"m21".to_vec()))
        .await
        .expect("root");
    sent.push("m21".into());

    assert_eq!(read_all(&cluster, ALICE, "allowed").await, sent);
    assert!(
        read_all(&cluster, ROOT, "secret").await.is_empty(),
        "nothing reached secret"
    );
    alice.shutdown().await;
    other.shutdown().await;
    cluster.shutdown().await;
}

/// A signed SEND_MESSAGE_V2 of `body` to `topic`, as `who` signs it.
fn signed_send(topic: &str, body: &[u8], who: Option<(&str, &str)>) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2::from(send_header(topic, 0, &props(None, None, "U1")));
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&header)
        .with_body(body.to_vec());
    if let Some(c) = who.and_then(creds) {
        c.sign(&mut cmd);
    }
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_each_get_no_permission_and_a_clear_remark() {
    let cluster = TestCluster::start_with(secured).await;
    set_up(&cluster).await;
    let client = client_of(cluster.broker()).await;

    let unsigned = signed_send("allowed", b"x", None);
    let wrong_secret = signed_send("allowed", b"x", Some((ALICE.0, "guess")));
    let unknown = signed_send("allowed", b"x", Some(("mallory", "whatever")));
    let mut no_signature = signed_send("allowed", b"x", Some(ALICE));
    no_signature.ext_fields.remove("Signature");
    // Signed over one body, sent with another.
    let mut tampered = signed_send("allowed", b"pay 1", Some(ALICE));
    tampered.body = Some(b"pay 1000"[..].into());
    let mut renamed = signed_send("allowed", b"x", Some(ALICE));
    renamed.ext_fields.insert("b".into(), "secret".into());

    let cases = [
        (unsigned, "not signed"),
        (wrong_secret, "alice: check signature failed"),
        (unknown, "user mallory is not found"),
        (no_signature, "alice: the request carries no Signature"),
        (tampered, "alice: check signature failed"),
        (renamed, "alice: check signature failed"),
    ];
    for (cmd, expected) in cases {
        let resp = call(&client, cmd).await;
        let remark = resp.remark.clone().unwrap_or_default();
        assert_eq!(
            resp.response_code(),
            ResponseCode::NO_PERMISSION,
            "{remark}"
        );
        assert!(
            remark.contains(expected),
            "remark {remark:?} lacks {expected:?}"
        );
    }

    // None of them stored anything: the first good send gets queue offset 0.
    let ok = call(&client, signed_send("allowed", b"good", Some(ALICE))).await;
    assert_eq!(ok.response_code(), ResponseCode::SUCCESS, "{:?}", ok.remark);
    assert_eq!(ok.ext("queueOffset"), Some("0"));
    assert_eq!(read_all(&cluster, ALICE, "allowed").await, ["good"]);

    // A code outside the table is refused for a normal user.
    let mut unmapped = RemotingCommand::request(RequestCode(4242));
    Credentials::new(ALICE.0, ALICE.1).sign(&mut unmapped);
    let resp = call(&client, unmapped).await;
    assert_eq!(resp.response_code(), ResponseCode::NO_PERMISSION);
    assert!(resp.remark.unwrap_or_default().contains("not covered"));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_acls_survive_a_restart() {
    let mut cluster = TestCluster::start_with(secured).await;
    set_up(&cluster).await;
    cluster.restart_broker(0).await;

    let root = admin(&cluster, ROOT).await;
    wait_for_routes(&root).await;
    let alice = root
        .user(&cluster.broker_addr(), ALICE.0)
        .await
        .expect("alice is still there");
    assert_eq!(alice.user_type.as_deref(), Some("Normal"));
    let acl = root
        .acl(&cluster.broker_addr(), "User:alice")
        .await
        .expect("acl");
    let resources: Vec<&str> = acl.policies[0]
        .entries
        .iter()
        .map(|e| e.resource.as_str())
        .collect();
    assert_eq!(resources, ["Topic:allowed", "Group:alice-*"]);
    root.shutdown().await;

    let p = producer(&cluster, ALICE).await;
    p.send(Message::new("allowed", b"after restart".to_vec()))
        .await
        .expect("alice still allowed");
    let err = p
        .send(Message::new("secret", b"x".to_vec()))
        .await
        .expect_err("still denied");
    assert_eq!(refused(&err).0, ResponseCode::NO_PERMISSION);
    p.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_on_no_request_code_reaches_a_handler_unsigned() {
    let cluster = TestCluster::start_with(secured).await;
    let client = client_of(cluster.broker()).await;
    let codes = RequestCode::ALL.iter().copied().chain([
        RequestCode(-1),
        RequestCode(0),
        RequestCode(4242),
        RequestCode(i32::MAX),
    ]);
    for code in codes {
        let resp = call(&client, RemotingCommand::request(code)).await;
        assert_eq!(
            resp.response_code(),
            ResponseCode::NO_PERMISSION,
            "{code}: {:?}",
            resp.remark
        );
    }
    cluster.shutdown().await;
}

/// Walks every request code with authentication off: each one the broker dispatches (anything but
/// REQUEST_CODE_NOT_SUPPORTED) must have a row in the authorization table, so a new handler cannot
/// be added without saying what it needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dispatched_request_code_is_in_the_authorization_table() {
    let cluster = TestCluster::start().await;
    let client = client_of(cluster.broker()).await;
    let mut dispatched = 0;
    for &code in RequestCode::ALL {
        let answered = client
            .request(RemotingCommand::request(code), Duration::from_secs(2))
            .await;
        let handled = match answered {
            Ok(resp) => resp.response_code() != ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
            // No answer at all (a notification): the broker took it.
            Err(_) => true,
        };
        if handled {
            dispatched += 1;
            assert!(
                ferromq_auth::access::is_mapped(code),
                "{code} is dispatched by the broker but has no row in the authorization table"
            );
        }
    }
    // Send, pull, offsets, admin, the auth requests themselves...
    assert!(dispatched >= 60, "only {dispatched} codes dispatched");
    cluster.shutdown().await;
}

/// A replica with ACL on signs its metadata requests to its master with
/// `innerClientAuthenticationCredentials`, so it mirrors the master's topics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_signs_its_mirroring_with_the_inner_credentials() {
    let master = TestCluster::start_with(|c| {
        inner(c);
        c.ha_listen_port = Some(0);
    })
    .await;
    set_up(&master).await;
    let ha = master.broker().ha_addr().expect("HA listener").to_string();
    let ns = master.ns().local_addr().to_string();
    let replica = common::start_replica(&master.dir().join("replica"), &ns, 1, |c| {
        inner(c);
        c.ha_master_address = Some(ha.clone());
    })
    .await;
    let r = client_of(&replica).await;
    ferromq_testkit::eventually(common::T, "the replica mirrored topic allowed", || {
        let r = &r;
        async move {
            let mut cmd = RemotingCommand::request(RequestCode::GET_TOPIC_CONFIG)
                .with_ext("topic", "allowed");
            Credentials::new(ROOT.0, ROOT.1).sign(&mut cmd);
            let resp = r.request(cmd, common::T).await.ok()?;
            (resp.response_code() == ResponseCode::SUCCESS).then_some(())
        }
    })
    .await;
    replica.shutdown().await;
    master.shutdown().await;
}

fn user_info(name: &str, password: &str, kind: &str) -> UserInfo {
    UserInfo {
        username: Some(name.into()),
        password: Some(password.into()),
        user_type: Some(kind.into()),
        user_status: None,
    }
}

/// User and ACL requests are authorized like any other (resource `Cluster`), and only a super
/// user may create a super user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_admin_needs_cluster_permissions_and_super_needs_super() {
    let cluster = TestCluster::start_with(secured).await;
    set_up(&cluster).await;
    let addr = cluster.broker_addr();
    let alice = admin(&cluster, ALICE).await;
    let err = alice
        .users(&addr, "")
        .await
        .expect_err("alice may not list users");
    let (code, remark) = refused(&err);
    assert_eq!(code, ResponseCode::NO_PERMISSION);
    assert!(
        remark.contains("User:alice")
            && remark.contains("Cluster:DefaultCluster")
            && remark.contains("List"),
        "{remark}"
    );

    let root = admin(&cluster, ROOT).await;
    root.put_acl(
        &addr,
        &AclInfo {
            subject: Some("User:alice".into()),
            policies: vec![PolicyInfo {
                policy_type: None,
                entries: vec![entry("Cluster", &["Create"], "Allow")],
            }],
        },
    )
    .await
    .expect("grant Cluster Create");
    alice
        .create_user(&addr, &user_info("carol", "carol-secret", "Normal"))
        .await
        .expect("alice may create a normal user now");
    let err = alice
        .create_user(&addr, &user_info("dave", "dave-secret", "Super"))
        .await
        .expect_err("but not a super user");
    let (code, remark) = refused(&err);
    assert_eq!(code, ResponseCode::SYSTEM_ERROR);
    assert!(remark.contains("super user"), "{remark}");

    let names: Vec<String> = root
        .users(&addr, "")
        .await
        .expect("root lists")
        .into_iter()
        .filter_map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "carol", "root"]);
    root.delete_user(&addr, "carol").await.expect("delete");
    let err = root.user(&addr, "carol").await.expect_err("gone");
    assert!(refused(&err).1.contains("carol is not found"));
    // A deleted user's requests are refused at once.
    let carol = producer(&cluster, ("carol", "carol-secret")).await;
    let err = carol
        .send(Message::new("allowed", b"x".to_vec()))
        .await
        .expect_err("carol is gone");
    assert!(refused(&err).1.contains("user carol is not found"));
    carol.shutdown().await;
    alice.shutdown().await;
    root.shutdown().await;
    cluster.shutdown().await;
}

/// GET_MAX_OFFSET of `allowed` queue 0 on `broker`, signed as `who`: what a consumer asks first.
async fn max_offset_as(broker: &ferromq_net::Client, who: (&str, &str)) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET)
        .with_ext("topic", "allowed")
        .with_ext("queueId", "0");
    Credentials::new(who.0, who.1).sign(&mut cmd);
    call(broker, cmd).await
}

/// A replica mirrors its master's users and ACLs with the inner credentials, keeps them on disk,
/// and, promoted (here by hand: the master gone, the replica started again as master on its
/// data), enforces them: a user created on the master after the replica started is accepted, a
/// user deleted there is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_mirrors_users_and_acls_and_enforces_them_once_promoted() {
    const BOB: (&str, &str) = ("bob", "bob-secret");
    let master = TestCluster::start_with(|c| {
        inner(c);
        c.ha_listen_port = Some(0);
    })
    .await;
    set_up(&master).await;
    let ha = master.broker().ha_addr().expect("HA listener").to_string();
    let ns = master.ns().local_addr().to_string();
    // Its own folder: the master's goes with the master's cluster.
    let replica_tmp = tempfile::tempdir().expect("tempdir");
    let replica_dir = replica_tmp.path().to_owned();
    let replica = common::start_replica(&replica_dir, &ns, 1, |c| {
        inner(c);
        c.ha_master_address = Some(ha.clone());
    })
    .await;

    // Changed on the master after the replica started: bob arrives, alice goes.
    let root = admin(&master, ROOT).await;
    let addr = master.broker_addr();
    root.create_user(&addr, &user_info(BOB.0, BOB.1, "Normal"))
        .await
        .expect("create bob");
    root.put_acl(
        &addr,
        &AclInfo {
            subject: Some("User:bob".into()),
            policies: vec![PolicyInfo {
                policy_type: None,
                entries: vec![
                    entry("Topic:allowed", &["Pub", "Sub"], "Allow"),
                    entry("Group:cg", &["Sub"], "Allow"),
                ],
            }],
        },
    )
    .await
    .expect("bob's acl");
    root.delete_user(&addr, ALICE.0)
        .await
        .expect("delete alice");
    root.shutdown().await;
    let m = client_of(master.broker()).await;
    let before = signed_send("allowed", b"before", Some(ROOT));
    assert_eq!(
        call(&m, before).await.response_code(),
        ResponseCode::SUCCESS
    );

    // The replica copies the master's users now and then: it may have bob before it has lost
    // alice (a copy taken between the two changes), so wait for both.
    let r = client_of(&replica).await;
    let resp = ferromq_testkit::eventually(
        common::T,
        "the replica accepts bob and refuses alice",
        || {
            let r = &r;
            async move {
                let bob = max_offset_as(r, BOB).await;
                let alice = max_offset_as(r, ALICE).await;
                (bob.response_code() == ResponseCode::SUCCESS
                    && alice.response_code() == ResponseCode::NO_PERMISSION)
                    .then_some(alice)
            }
        },
    )
    .await;
    let remark = resp.remark.unwrap_or_default();
    assert!(remark.contains("user alice is not found"), "{remark}");
    // Bob may read `allowed` but not `secret`: his ACL came along with him.
    let mut secret = RemotingCommand::request(RequestCode::GET_MAX_OFFSET)
        .with_ext("topic", "secret")
        .with_ext("queueId", "0");
    Credentials::new(BOB.0, BOB.1).sign(&mut secret);
    assert_eq!(
        call(&r, secret).await.response_code(),
        ResponseCode::NO_PERMISSION
    );
    let end = master.broker().commit_log_end();
    ferromq_testkit::eventually_holds(common::T, "the replica holds the log", || {
        replica.commit_log_end() >= end
    })
    .await;
    drop((m, r));
    master.shutdown().await;
    replica.shutdown().await;

    // Promoted: the same data, now a master, with no user given but the stored ones.
    let mut config = ferromq_testkit::broker_config(&replica_dir, &[]);
    config.authentication_enabled = true;
    config.authorization_enabled = true;
    let promoted = ferromq_testkit::start_broker(config).await;
    let p = client_of(&promoted).await;
    let after = signed_send("allowed", b"after", Some(BOB));
    let resp = call(&p, after).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let refused = call(&p, signed_send("allowed", b"alice", Some(ALICE))).await;
    assert_eq!(refused.response_code(), ResponseCode::NO_PERMISSION);
    let remark = refused.remark.unwrap_or_default();
    assert!(remark.contains("user alice is not found"), "{remark}");
    assert!(promoted.wait_readable(common::T).await, "indexed");
    let mut pull = common::pull_request("cg", "allowed", 0, 0, "*", None);
    Credentials::new(BOB.0, BOB.1).sign(&mut pull);
    let resp = call(&p, pull).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let bodies: Vec<Vec<u8>> = common::decode(resp.body.as_deref().expect("body"))
        .into_iter()
        .map(|(_, body, _, _)| body)
        .collect();
    assert_eq!(bodies, vec![b"before".to_vec(), b"after".to_vec()]);
    drop(p);
    promoted.shutdown().await;
}
