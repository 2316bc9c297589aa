//! Transaction messages end to end: local commit and rollback, unknown outcomes resolved by the
//! broker's check-back (commit or rollback), never-answered ones discarded after the maximum
//! number of checks; consumers see exactly the committed messages, once. Then restarts in the middle
//! of open transactions — a clean shutdown, and SIGKILL of a broker running in a child process
//! under SYNC_FLUSH — after which every committed transaction is visible exactly once.
//!
//! The child broker is this test binary re-executed with an environment variable naming its folder.

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferromq_broker::{Broker, BrokerConfig, BrokerHandle};
use ferromq_client::consumer::pull::PullConsumer;
use ferromq_client::producer::{LocalTransactionState, TransactionProducer};
use ferromq_client::{Message, MessageExt, ProducerConfig};
use ferromq_namesrv::{NameServer, NameServerConfig};
use parking_lot::Mutex;
use tokio::net::TcpListener;

const CHILD_DIR_ENV: &str = "FERROMQ_TX_CHILD_DIR";
const CHILD_NAMESRV_ENV: &str = "FERROMQ_TX_CHILD_NAMESRV";
const TOPIC: &str = "TxTopic";
const MAX_CHECKS: u32 = 3;

fn fast_checks(config: &mut BrokerConfig) {
    config.transaction_check_interval_ms = 100;
    config.transaction_timeout_ms = 400;
    config.transaction_check_max = MAX_CHECKS;
}

/// What the application's database says about each transaction, by body prefix.
fn truth(body: &str) -> LocalTransactionState {
    if body.starts_with("commit")
        || body.starts_with("checked-commit")
        || body.starts_with("pending")
    {
        LocalTransactionState::Commit
    } else if body.starts_with("never") {
        LocalTransactionState::Unknown
    } else {
        LocalTransactionState::Rollback
    }
}

type Checks = Arc<Mutex<BTreeMap<String, u32>>>;

async fn tx_producer(namesrv: &str, checks: &Checks) -> TransactionProducer {
    let log = checks.clone();
    TransactionProducer::start(
        ProducerConfig {
            namesrv_addrs: vec![namesrv.to_owned()],
            group: "tx-group".into(),
            heartbeat_interval: Duration::from_millis(200),
            ..ProducerConfig::default()
        },
        move |m: &MessageExt| {
            let body = String::from_utf8_lossy(&m.body).into_owned();
            *log.lock().entry(body.clone()).or_default() += 1;
            truth(&body)
        },
    )
    .await
    .expect("transaction producer starts")
}

/// Sends `body` in a transaction whose local outcome is `local`.
async fn send(p: &TransactionProducer, body: &str, local: LocalTransactionState) -> String {
    let r = p
        .send_in_transaction(Message::new(TOPIC, body.to_owned()), |_, _| local)
        .await
        .expect("half message sent");
    assert_eq!(r.state, local);
    r.send.msg_id
}

fn sorted_bodies(msgs: &[MessageExt]) -> Vec<String> {
    let mut v: Vec<String> = msgs
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    v.sort();
    v
}

/// Waits until the topic holds exactly `want` (sorted) — never more — and returns its messages.
async fn await_exactly(puller: &PullConsumer, topic: &str, want: &[&str]) -> Vec<MessageExt> {
    let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    // Checks after a restart wait for the producer's heartbeat and the check interval: allow a
    // loaded machine more than the default deadline.
    let msgs = ferromq_testkit::eventually(
        Duration::from_secs(30),
        &format!("{topic} to hold {want:?}"),
        || async {
            let got = pull_all(puller, topic).await;
            (got.len() >= want.len()).then_some(got)
        },
    )
    .await;
    assert_eq!(
        sorted_bodies(&msgs),
        want,
        "exactly the committed messages, once each"
    );
    msgs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_commit_rollback_checked_and_discarded() {
    let cluster = TestCluster::start_with(fast_checks).await;
    let checks: Checks = Arc::default();
    let producer = tx_producer(&cluster.namesrv(), &checks).await;
    use LocalTransactionState::{Commit, Rollback, Unknown};
    let plan = [
        ("commit-0", Commit),
        ("commit-1", Commit),
        ("rollback-0", Rollback),
        ("checked-commit-0", Unknown),
        ("checked-commit-1", Unknown),
        ("checked-rollback-0", Unknown),
        ("never-0", Unknown),
    ];
    let mut ids = BTreeMap::new();
    for (body, local) in plan {
        ids.insert(body, send(&producer, body, local).await);
    }
    let puller = cluster.pull_consumer("tx-reader").await;
    let visible = await_exactly(
        &puller,
        TOPIC,
        &[
            "commit-0",
            "commit-1",
            "checked-commit-0",
            "checked-commit-1",
        ],
    )
    .await;
    for m in &visible {
        let body = String::from_utf8_lossy(&m.body).into_owned();
        assert_eq!(m.msg_id, ids[body.as_str()], "{body}: the id survives");
        assert_eq!(m.property("REAL_TOPIC"), None);
        assert_eq!(m.property("TRAN_MSG"), None);
        assert_eq!(m.property("PGROUP"), Some("tx-group"));
    }

    // The never-answered one ends up where admin tools can see it, after exactly MAX_CHECKS checks.
    let discarded = eventually("the discarded half message", || async {
        let got = pull_all(&puller, "TRANS_CHECK_MAX_TIME_TOPIC").await;
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(sorted_bodies(&discarded), vec!["never-0"]);
    assert_eq!(discarded[0].property("REAL_TOPIC"), Some(TOPIC));
    assert_eq!(discarded[0].msg_id, ids["never-0"]);
    eventually("the rolled-back check", || async {
        checks
            .lock()
            .contains_key("checked-rollback-0")
            .then_some(())
    })
    .await;
    let checks = checks.lock().clone();
    assert_eq!(checks.get("never-0"), Some(&MAX_CHECKS));
    // Usually one check each; a slow answer can cross the next scan, which asks again (harmless:
    // the broker remembers the outcome, and the visible messages above are checked exactly).
    for checked in ["checked-commit-0", "checked-commit-1", "checked-rollback-0"] {
        let n = checks.get(checked).copied().unwrap_or(0);
        assert!((1..=MAX_CHECKS).contains(&n), "{checked} checked {n} times");
    }
    for decided in ["commit-0", "commit-1", "rollback-0"] {
        assert_eq!(checks.get(decided), None, "{decided} was never in doubt");
    }
    // Nothing more became visible meanwhile.
    await_exactly(
        &puller,
        TOPIC,
        &[
            "commit-0",
            "commit-1",
            "checked-commit-0",
            "checked-commit-1",
        ],
    )
    .await;
    puller.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

fn broker_config(dir: &Path, namesrv: &str) -> BrokerConfig {
    BrokerConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        store_root_dir: dir.join("store"),
        commit_log_file_size: 8 << 20,
        flush_disk_type: ferromq_broker::java_conf::parse("flushDiskType=SYNC_FLUSH\n", "test")
            .expect("flush mode")
            .flush_disk_type,
        flush_consumer_offset_interval_ms: 200,
        ..BrokerConfig::default()
    }
}

async fn start_broker(config: BrokerConfig) -> BrokerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind broker");
    Broker::start(config, listener)
        .await
        .expect("broker starts")
}

/// The child: a broker on the folder and name server from the environment, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_broker_child() {
    let (Ok(dir), Ok(namesrv)) = (
        std::env::var(CHILD_DIR_ENV),
        std::env::var(CHILD_NAMESRV_ENV),
    ) else {
        return;
    };
    // Checks would resolve the open transactions before the crash; this broker never checks.
    let config = BrokerConfig {
        transaction_check_interval_ms: 3_600_000,
        ..broker_config(Path::new(&dir), &namesrv)
    };
    let broker = start_broker(config).await;
    println!("READY {}", broker.local_addr());
    std::future::pending::<()>().await;
}

/// Waits until the broker at `addr` holds `n` op messages (one per ended transaction) in queue 0 of
/// the transaction op topic, where every half message of queue 0 gets its op message.
async fn decisions_recorded(addr: &str, n: i64) {
    use ferromq_remoting::headers::offset::{GetMaxOffsetRequestHeader, OffsetResponseHeader};
    use ferromq_remoting::{RemotingCommand, RequestCode};
    let client = ferromq_net::Client::connect(addr, ferromq_net::ClientConfig::default())
        .await
        .expect("connect broker");
    ferromq_testkit::eventually(
        ferromq_testkit::DEFAULT_DEADLINE,
        &format!("{n} ended transactions recorded"),
        || async {
            let cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET).with_header(
                &GetMaxOffsetRequestHeader {
                    topic: "RMQ_SYS_TRANS_OP_HALF_TOPIC".into(),
                    queue_id: 0,
                    committed: true,
                },
            );
            let resp = client.request(cmd, Duration::from_secs(5)).await.ok()?;
            let h: OffsetResponseHeader = resp.decode_header().ok()?;
            (h.offset >= n).then_some(())
        },
    )
    .await;
}

/// A child broker process, killed with SIGKILL at the latest when dropped (a failing test must not
/// leave it running).
struct ChildBroker(std::process::Child);

impl ChildBroker {
    fn sigkill(&mut self) {
        // `Child::kill` is SIGKILL on Unix: no shutdown code runs in the child.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Open transactions, committed ones, rolled-back ones; then the broker goes away (`kill`: SIGKILL
/// of a child process, else a clean shutdown) and comes back on the same folder; a producer of the
/// same group resolves the open ones through checks.
async fn restart_mid_transaction(kill: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ns");
    let ns = NameServer::start(NameServerConfig::default(), listener).expect("ns starts");
    let namesrv = ns.local_addr().to_string();

    let mut child: Option<ChildBroker> = None;
    let mut child_addr: Option<String> = None;
    let mut first = None;
    if kill {
        let mut c = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "transactions::tx_broker_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_ENV, dir.path())
            .env(CHILD_NAMESRV_ENV, &namesrv)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child broker");
        let stdout = c.stdout.take().expect("child stdout");
        let ready = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                // libtest prints the test name on the same line first.
                .find_map(|l| Some(l.split_once("READY ")?.1.trim().to_owned()))
        })
        .await
        .expect("reader");
        child_addr = Some(ready.expect("child broker did not start"));
        child = Some(ChildBroker(c));
    } else {
        let config = BrokerConfig {
            transaction_check_interval_ms: 3_600_000,
            ..broker_config(dir.path(), &namesrv)
        };
        first = Some(start_broker(config).await);
    }

    let checks: Checks = Arc::default();
    let producer = tx_producer(&namesrv, &checks).await;
    use LocalTransactionState::{Commit, Rollback, Unknown};
    for i in 0..4 {
        send(&producer, &format!("commit-{i}"), Commit).await;
    }
    for i in 0..3 {
        send(&producer, &format!("pending-{i}"), Unknown).await;
    }
    send(&producer, "rollback-0", Rollback).await;
    let puller = PullConsumer::start(ferromq_client::consumer::PullConsumerConfig {
        namesrv_addrs: vec![namesrv.clone()],
        group: "tx-reader".into(),
        ..Default::default()
    })
    .await
    .expect("puller");
    // The commits have been applied before the crash.
    await_exactly(
        &puller,
        TOPIC,
        &["commit-0", "commit-1", "commit-2", "commit-3"],
    )
    .await;
    puller.shutdown().await;
    // Producers end transactions oneway: before the kill, wait until the broker has recorded all
    // five decisions (four commits, one rollback), so only the three unknown ones are open.
    let addr = child_addr.or_else(|| first.as_ref().map(|b| b.local_addr().to_string()));
    decisions_recorded(&addr.expect("broker address"), 5).await;
    producer.shutdown().await;

    if let Some(mut c) = child {
        c.sigkill();
    }
    if let Some(b) = first {
        b.shutdown().await;
    }

    let mut config = broker_config(dir.path(), &namesrv);
    fast_checks(&mut config);
    let broker = start_broker(config).await;
    let producer = tx_producer(&namesrv, &checks).await;
    // A send teaches the new producer the broker, so its heartbeats (and the checks) reach it.
    send(&producer, "commit-after", Commit).await;
    let puller = PullConsumer::start(ferromq_client::consumer::PullConsumerConfig {
        namesrv_addrs: vec![namesrv.clone()],
        group: "tx-reader-2".into(),
        ..Default::default()
    })
    .await
    .expect("puller");
    await_exactly(
        &puller,
        TOPIC,
        &[
            "commit-0",
            "commit-1",
            "commit-2",
            "commit-3",
            "commit-after",
            "pending-0",
            "pending-1",
            "pending-2",
        ],
    )
    .await;
    let checks = checks.lock().clone();
    for i in 0..3 {
        let n = checks.get(&format!("pending-{i}")).copied().unwrap_or(0);
        assert!(
            (1..=MAX_CHECKS).contains(&n),
            "pending-{i} checked {n} times"
        );
    }
    assert!(
        checks.keys().all(|b| b.starts_with("pending")),
        "{checks:?}"
    );
    puller.shutdown().await;
    producer.shutdown().await;
    broker.shutdown().await;
    ns.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_mid_transaction_keeps_every_commit_once() {
    restart_mid_transaction(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_transaction_keeps_every_commit_once() {
    restart_mid_transaction(true).await;
}
