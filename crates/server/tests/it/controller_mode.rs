//! Controller mode, in process over real TCP: a controller picks the master of a two-broker group;
//! the replica joins the sync-state set and holds every acknowledged send; when the master stops,
//! the replica is elected and takes sends; the old master comes back as a replica; a master the
//! controllers stop confirming refuses sends; a former master with records the new master never had
//! cuts them and then holds exactly the new master's log.
//!
//! It lives here rather than with the broker's tests because it starts a controller in process, and
//! the broker must not depend on the controller (and openraft), not even for its tests.

use crate::broker_common as common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{call, pull_all, send_v2};
use ferromq_broker::{Broker, BrokerConfig, BrokerHandle, BrokerRole};
use ferromq_controller::{Controller, ControllerConfig, ControllerHandle};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::lists::KvTable;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_testkit::broker_config;
use tokio::net::TcpListener;

const TOPIC: &str = "Controlled";
const GROUP: &str = "broker-a";
const T: Duration = Duration::from_secs(20);

async fn eventually(what: &str, cond: impl FnMut() -> bool) {
    ferromq_testkit::eventually_holds(T, what, cond).await;
}

/// A fast-deciding controller, its settings changed by `tweak`.
async fn start_controller(
    dir: &Path,
    listener: TcpListener,
    tweak: impl FnOnce(&mut ControllerConfig),
) -> ControllerHandle {
    let mut config = ControllerConfig {
        node_id: 1,
        data_dir: dir.to_owned(),
        master_timeout: Duration::from_millis(1500),
        check_interval: Duration::from_millis(100),
        raft_heartbeat_interval: Duration::from_millis(50),
        raft_election_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(1500),
        ..ControllerConfig::default()
    };
    tweak(&mut config);
    Controller::start(config, listener)
        .await
        .expect("controller starts")
}

struct Env {
    ns: NameServerHandle,
    controller: Option<ControllerHandle>,
    controller_addr: std::net::SocketAddr,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start(unclean: bool) -> Self {
        Self::start_with(|c| c.enable_elect_unclean_master = unclean).await
    }

    /// A name server and a controller whose settings `tweak` changes.
    async fn start_with(tweak: impl FnOnce(&mut ControllerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns = NameServer::start(
            NameServerConfig::default(),
            TcpListener::bind("127.0.0.1:0").await.expect("bind ns"),
        )
        .expect("ns starts");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let controller_addr = listener.local_addr().expect("addr");
        let controller = start_controller(&dir.path().join("controller"), listener, tweak).await;
        Env {
            ns,
            controller: Some(controller),
            controller_addr,
            dir,
        }
    }

    fn config(&self, id: i64) -> BrokerConfig {
        let mut c = broker_config(
            &self.dir.path().join(format!("b{id}")),
            &[self.ns.local_addr().to_string()],
        );
        c.broker_name = GROUP.into();
        c.broker_id = id;
        c.broker_role = BrokerRole::SyncMaster;
        c.enable_controller_mode = true;
        c.controller_addrs = vec![self.controller_addr.to_string()];
        c.ha_listen_port = Some(0);
        c.broker_heartbeat_interval_ms = 200;
        c.controller_lease_ms = 1000;
        c.sync_flush_timeout_ms = 3000;
        c
    }

    async fn broker(&self, id: i64) -> BrokerHandle {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Broker::start(self.config(id), listener)
            .await
            .expect("broker starts")
    }

    fn sync_set(&self) -> Vec<u64> {
        self.controller
            .as_ref()
            .and_then(|c| c.replica_info(GROUP))
            .map(|i| i.sync_state_set.into_iter().collect())
            .unwrap_or_default()
    }
}

/// A broker under [`Broker::run`], which restarts it in place when it must cut its log.
struct Supervised {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    runner: tokio::task::JoinHandle<Result<(), ferromq_broker::BrokerError>>,
    starts: tokio::sync::mpsc::UnboundedReceiver<std::net::SocketAddr>,
}

impl Supervised {
    async fn start(config: BrokerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (starts_tx, mut starts) = tokio::sync::mpsc::unbounded_channel();
        let runner = tokio::spawn(Broker::run(
            config,
            listener,
            async {
                let _ = stop_rx.await;
            },
            move |h| {
                let _ = starts_tx.send(h.local_addr());
            },
        ));
        assert_eq!(starts.recv().await, Some(addr));
        Supervised {
            addr,
            stop,
            runner,
            starts,
        }
    }

    async fn client(&self) -> Client {
        Client::connect(self.addr.to_string(), ClientConfig::default())
            .await
            .expect("connect")
    }

    async fn runtime(&self, key: &str) -> String {
        let resp = call(
            &self.client().await,
            RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO),
        )
        .await;
        let kv = KvTable::from_json(resp.body.as_deref().expect("body")).expect("table");
        kv.table.get(key).cloned().unwrap_or_default()
    }

    async fn stop(self) {
        self.stop.send(()).expect("runner waits");
        self.runner.await.expect("joined").expect("clean stop");
    }
}

async fn client(b: &BrokerHandle) -> Client {
    Client::connect(b.local_addr().to_string(), ClientConfig::default())
        .await
        .expect("connect")
}

/// Sends `bodies` to queue 0 and returns each answer's code.
async fn send_all(c: &Client, bodies: impl IntoIterator<Item = String>) -> Vec<ResponseCode> {
    let mut codes = Vec::new();
    for b in bodies {
        let resp: RemotingCommand = send_v2(c, TOPIC, 0, None, b.as_bytes()).await;
        codes.push(resp.response_code());
    }
    codes
}

async fn bodies_of(b: &BrokerHandle, count: usize) -> Vec<String> {
    let c = client(b).await;
    pull_all(&c, TOPIC, 0, "*", count)
        .await
        .into_iter()
        .map(|(_, body, _, _)| String::from_utf8(body).expect("utf8"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_takes_over_and_the_old_master_rejoins_as_its_replica() {
    let env = Env::start(false).await;
    let a = env.broker(1).await;
    eventually("broker 1 is master", || a.role() == BrokerRole::SyncMaster).await;
    let b = env.broker(2).await;
    eventually("broker 2 joins the sync-state set", || {
        env.sync_set() == vec![1, 2]
    })
    .await;
    assert_eq!(b.role(), BrokerRole::Slave);

    let ca = client(&a).await;
    let first: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    let codes = send_all(&ca, first.clone()).await;
    assert!(
        codes.iter().all(|c| *c == ResponseCode::SUCCESS),
        "{codes:?}"
    );

    // A replica refuses sends.
    let cb = client(&b).await;
    let refused = send_all(&cb, ["no".to_owned()]).await;
    assert_eq!(refused, vec![ResponseCode::SERVICE_NOT_AVAILABLE]);

    let a_dir_config = env.config(1);
    let stopped = Instant::now();
    a.shutdown().await;
    eventually("broker 2 is elected", || b.role() == BrokerRole::SyncMaster).await;
    eprintln!(
        "failover: broker 2 master {:?} after broker 1 stopped",
        stopped.elapsed()
    );
    assert_eq!(b.master_epoch(), 2);
    // Alone in the sync-state set, the new master acknowledges on its own write.
    let second: Vec<String> = (40..60).map(|i| format!("m{i}")).collect();
    let codes = send_all(&cb, second.clone()).await;
    assert!(
        codes.iter().all(|c| *c == ResponseCode::SUCCESS),
        "{codes:?}"
    );

    // The old master returns on its folder (it may restart once to cut records written while it
    // stopped, such as its last trace events): a replica of broker 2, holding the same log.
    let a = Supervised::start(a_dir_config).await;
    eventually("broker 1 rejoins the sync-state set", || {
        env.sync_set() == vec![1, 2]
    })
    .await;
    assert_eq!(a.runtime("brokerRole").await, "SLAVE");
    assert_eq!(a.runtime("masterEpoch").await, "2");
    // At least everything the new master had by now (it may write more, its broker trace for one).
    let b_end = b.commit_log_end();
    ferromq_testkit::eventually(T, "broker 1 to catch up", || async {
        let end = a
            .runtime("commitLogMaxOffset")
            .await
            .parse::<u64>()
            .unwrap_or(0);
        (end >= b_end).then_some(())
    })
    .await;
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(bodies_of(&b, all.len()).await, all);
    let got: Vec<String> = pull_all(&a.client().await, TOPIC, 0, "*", all.len())
        .await
        .into_iter()
        .map(|(_, body, _, _)| String::from_utf8(body).expect("utf8"))
        .collect();
    assert_eq!(got, all);

    a.stop().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_no_controller_confirms_stops_taking_sends_until_confirmed_again() {
    let mut env = Env::start(false).await;
    let a = env.broker(1).await;
    eventually("broker 1 is master", || a.role() == BrokerRole::SyncMaster).await;
    let c = client(&a).await;
    assert_eq!(
        send_all(&c, ["before".to_owned()]).await,
        vec![ResponseCode::SUCCESS]
    );

    env.controller.take().expect("running").shutdown().await;
    ferromq_testkit::eventually(T, "the master to refuse sends", || async {
        let codes = send_all(&c, ["probe".to_owned()]).await;
        (codes[0] == ResponseCode::SERVICE_NOT_AVAILABLE).then_some(())
    })
    .await;

    // The controller comes back on its address and folder: the master is confirmed again.
    let listener = TcpListener::bind(env.controller_addr)
        .await
        .expect("rebind");
    env.controller =
        Some(start_controller(&env.dir.path().join("controller"), listener, |_| {}).await);
    ferromq_testkit::eventually(T, "the master to take sends again", || async {
        let codes = send_all(&c, ["after".to_owned()]).await;
        (codes[0] == ResponseCode::SUCCESS).then_some(())
    })
    .await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_former_master_cuts_what_the_new_master_never_had() {
    // Unclean elections let an empty broker lead, so the old master's records are not in its log.
    let env = Env::start(true).await;
    let a = env.broker(1).await;
    eventually("broker 1 is master", || a.role() == BrokerRole::SyncMaster).await;
    let ca = client(&a).await;
    let lost: Vec<String> = (0..30).map(|i| format!("old{i}")).collect();
    // Stored on broker 1; no replica, so SYNC_MASTER answers SUCCESS (alone in the set).
    assert!(send_all(&ca, lost)
        .await
        .iter()
        .all(|c| *c == ResponseCode::SUCCESS));
    let a_config = env.config(1);
    a.shutdown().await;

    let b = env.broker(2).await;
    eventually("broker 2 is elected though out of sync", || {
        b.role() == BrokerRole::SyncMaster
    })
    .await;
    let cb = client(&b).await;
    let kept: Vec<String> = (0..10).map(|i| format!("new{i}")).collect();
    assert!(send_all(&cb, kept.clone())
        .await
        .iter()
        .all(|c| *c == ResponseCode::SUCCESS));

    // Broker 1 returns under the supervisor, which restarts it with its log cut, on its address.
    let mut a = Supervised::start(a_config).await;
    let again = tokio::time::timeout(T, a.starts.recv())
        .await
        .expect("restarted in time");
    assert_eq!(again, Some(a.addr));
    eventually("broker 1 catches up after the cut", || {
        env.sync_set() == vec![1, 2]
    })
    .await;
    // Broker 1 now holds exactly broker 2's messages: the old ones are gone.
    let c1 = a.client().await;
    let got: Vec<String> = pull_all(&c1, TOPIC, 0, "*", kept.len())
        .await
        .into_iter()
        .map(|(_, body, _, _)| String::from_utf8(body).expect("utf8"))
        .collect();
    assert_eq!(got, kept);
    let resp = call(
        &c1,
        common::pull_request(
            "cg",
            TOPIC,
            0,
            i64::try_from(kept.len()).expect("small"),
            "*",
            None,
        ),
    )
    .await;
    assert_ne!(
        resp.response_code(),
        ResponseCode::SUCCESS,
        "nothing past the new master's log"
    );

    a.stop().await;
    b.shutdown().await;
}

/// Sends `body` to queue 0 of `topic` at delay level 1; panics unless SUCCESS.
async fn send_delayed(c: &Client, topic: &str, body: &str) {
    let props = ferromq_model::properties::encode([
        ("UNIQ_KEY", format!("U-{body}").as_str()),
        ("DELAY", "1"),
    ]);
    let h = common::send_header(topic, 0, &props);
    let resp = call(
        c,
        RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_header(&ferromq_remoting::headers::send::SendMessageRequestHeaderV2(h))
            .with_body(bytes::Bytes::copy_from_slice(body.as_bytes())),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_replica_does_not_deliver_again_what_the_old_master_delivered() {
    let env = Env::start(false).await;
    let tweak = |mut c: BrokerConfig| {
        c.message_delay_level = "300ms 1s".into();
        c
    };
    let a = Broker::start(
        tweak(env.config(1)),
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
    .expect("broker 1");
    eventually("broker 1 is master", || a.role() == BrokerRole::SyncMaster).await;
    let b = Broker::start(
        tweak(env.config(2)),
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
    .expect("broker 2");
    eventually("broker 2 joins the sync-state set", || {
        env.sync_set() == vec![1, 2]
    })
    .await;

    let ca = client(&a).await;
    for i in 0..5 {
        send_delayed(&ca, "Later", &format!("d{i}")).await;
    }
    // Delivered by broker 1 into the real topic, and its progress mirrored to broker 2.
    let first = pull_all(&ca, "Later", 0, "*", 5).await;
    assert_eq!(first.len(), 5);
    let mirrored = env.dir.path().join("b2/store/config/delayOffset.json");
    ferromq_testkit::eventually_ok(T, "the delivery progress mirrored", || {
        let text = std::fs::read_to_string(&mirrored).unwrap_or_default();
        std::future::ready(if text.replace([' ', '\n'], "").contains("\"1\":5") {
            Ok(())
        } else {
            Err(format!("progress never mirrored: {text}"))
        })
    })
    .await;

    a.shutdown().await;
    eventually("broker 2 is elected", || b.role() == BrokerRole::SyncMaster).await;
    let cb = client(&b).await;
    for i in 5..8 {
        send_delayed(&cb, "Later", &format!("d{i}")).await;
    }
    let got: Vec<String> = pull_all(&cb, "Later", 0, "*", 8)
        .await
        .into_iter()
        .map(|(_, body, _, _)| String::from_utf8(body).expect("utf8"))
        .collect();
    let want: Vec<String> = (0..8).map(|i| format!("d{i}")).collect();
    assert_eq!(got, want, "each delayed message delivered once, in order");
    // Nothing more arrives: broker 2 did not deliver the first five again.
    let resp = call(
        &cb,
        common::pull_request("cg", "Later", 0, 8, "*", Some(1_500)),
    )
    .await;
    assert_ne!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    b.shutdown().await;
}

/// The cluster's inner user: brokers sign their controller requests (and their registrations) with
/// it, the controller its role-change notices, and it is the brokers' super user.
const INNER: (&str, &str) = ("cluster-inner", "inner-secret");

/// The inner user's name with `secret` (the right one: `INNER.1`).
fn inner_with(secret: &str) -> ferromq_broker::config::auth::InnerCredentials {
    ferromq_broker::config::auth::InnerCredentials {
        access_key: INNER.0.into(),
        secret_key: secret.into(),
    }
}

fn signed(mut cmd: RemotingCommand) -> RemotingCommand {
    inner_with(INNER.1).credentials().sign(&mut cmd);
    cmd
}

/// Authentication on everywhere: a controller that takes only requests signed by the inner user,
/// brokers with ACL on. The brokers sign their way through election, the sync-state set and a
/// failover; the controller's notices reach brokers that refuse unsigned requests; a broker
/// registration that is unsigned, or signed with a wrong secret, is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authentication_on_brokers_sign_their_way_through_election_and_failover() {
    let env = Env::start_with(|c| {
        c.authentication_enabled = true;
        c.inner_client_authentication_credentials =
            Some(ferromq_controller::config::InnerCredentials {
                access_key: INNER.0.into(),
                secret_key: INNER.1.into(),
            });
    })
    .await;
    let controller_addr = env.controller_addr;
    let secured = |id: i64| {
        let mut c = env.config(id);
        c.authentication_enabled = true;
        c.authorization_enabled = true;
        c.init_authentication_user = Some(ferromq_broker::config::auth::InitUser {
            username: INNER.0.into(),
            password: INNER.1.into(),
        });
        c.inner_client_authentication_credentials = Some(inner_with(INNER.1));
        c
    };
    let start = |id: i64| {
        let config = secured(id);
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            Broker::start(config, listener)
                .await
                .expect("broker starts")
        }
    };
    let a = start(1).await;
    eventually("broker 1 is master", || a.role() == BrokerRole::SyncMaster).await;
    let b = start(2).await;
    eventually("broker 2 joins the sync-state set", || {
        env.sync_set() == vec![1, 2]
    })
    .await;

    // An intruder's registration, unsigned and then with a wrong secret: refused, nothing known.
    let intruder = Client::connect(controller_addr.to_string(), ClientConfig::default())
        .await
        .expect("connect controller");
    let register = || {
        RemotingCommand::request(RequestCode::CONTROLLER_REGISTER_BROKER)
            .with_ext("clusterName", "DefaultCluster")
            .with_ext("brokerName", "intruder")
            .with_ext("brokerAddress", "127.0.0.1:1")
            .with_ext("brokerId", "1")
    };
    let mut forged = register();
    inner_with("not-the-secret").credentials().sign(&mut forged);
    for cmd in [register(), forged] {
        let resp = call(&intruder, cmd).await;
        assert_eq!(
            resp.response_code(),
            ResponseCode::NO_PERMISSION,
            "{resp:?}"
        );
    }
    let controller = env.controller.as_ref().expect("controller");
    assert!(controller.replica_info("intruder").is_none());

    let send = |c: &Client, body: String| {
        let h = common::send_header(TOPIC, 0, &common::props(None, None, &format!("U-{body}")));
        let cmd = signed(
            RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
                .with_header(&ferromq_remoting::headers::send::SendMessageRequestHeaderV2(h))
                .with_body(body.into_bytes()),
        );
        let c = c.clone();
        async move { call(&c, cmd).await.response_code() }
    };
    let ca = client(&a).await;
    // The broker has ACL on: an unsigned send is refused.
    let unsigned = send_all(&ca, ["unsigned".to_owned()]).await;
    assert_eq!(unsigned, vec![ResponseCode::NO_PERMISSION]);
    let first: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    for body in &first {
        assert_eq!(send(&ca, body.clone()).await, ResponseCode::SUCCESS);
    }

    a.shutdown().await;
    eventually("broker 2 is elected", || b.role() == BrokerRole::SyncMaster).await;
    assert_eq!(b.master_epoch(), 2);
    let cb = client(&b).await;
    let second: Vec<String> = (20..30).map(|i| format!("s{i}")).collect();
    for body in &second {
        assert_eq!(send(&cb, body.clone()).await, ResponseCode::SUCCESS);
    }
    // Every acknowledged message on the new master, read with signed pulls.
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    let mut got = Vec::new();
    let mut offset = 0;
    let deadline = Instant::now() + T;
    while got.len() < all.len() {
        assert!(Instant::now() < deadline, "only {got:?} read back");
        let resp = call(
            &cb,
            signed(common::pull_request(
                "cg",
                TOPIC,
                0,
                offset,
                "*",
                Some(1_000),
            )),
        )
        .await;
        let h: ferromq_remoting::headers::pull::PullMessageResponseHeader =
            resp.decode_header().expect("pull header");
        match resp.response_code() {
            ResponseCode::SUCCESS => got.extend(
                common::decode(resp.body.as_deref().expect("body"))
                    .into_iter()
                    .map(|(_, body, _, _)| String::from_utf8(body).expect("utf8")),
            ),
            ResponseCode::PULL_NOT_FOUND | ResponseCode::PULL_RETRY_IMMEDIATELY => {}
            other => panic!("pull answered {other:?}: {resp:?}"),
        }
        offset = h.next_begin_offset;
    }
    assert_eq!(got, all);
    b.shutdown().await;
}
