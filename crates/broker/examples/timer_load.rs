//! Timer load figures: memory with many pending timers, and delivery lateness under a steady rate.
//!
//! ```sh
//! cargo run --release -p ferromq-broker --example timer_load -- [PENDING] [RATE] [SECONDS]
//! ```
//!
//! 1. Starts a broker in a temporary folder (default settings: 1 s slots, 2-day wheel), sends
//!    `PENDING` timers (default 1,000,000) due in an hour, waits until the timer has taken all of
//!    them in (its log holds one 40-byte entry each), and prints the process's anonymous resident
//!    memory (`RssAnon`) before and after.
//! 2. Restarts the broker on the same folder and prints how long the start took (the wheel's slot
//!    heads are rebuilt by scanning the timer log) and the memory after it.
//! 3. With those timers still pending, sends `RATE` timers per second (default 10,000) for `SECONDS` (default 10), each due 2 s after
//!    its send, so `RATE` timers per second fall due while more arrive; a consumer pulls them from
//!    the real topic and the lateness of each (its stored time in the real topic minus its delivery
//!    time) is summarised as p50/p99/max, with the count delivered early (must be 0).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferromq_broker::{Broker, BrokerConfig};
use ferromq_model::properties;
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::records;
use ferromq_remoting::headers::pull::{
    sys_flag, PullMessageRequestHeader, PullMessageResponseHeader,
};
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const T: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rss_anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn send_cmd(topic: &str, id: u64, timer: (&str, &str)) -> RemotingCommand {
    let uniq = format!("T{id}");
    let props = properties::encode([("UNIQ_KEY", uniq.as_str()), timer]);
    let h = SendMessageRequestHeader {
        producer_group: "pg".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 1,
        queue_id: 0,
        born_timestamp: now_ms(),
        properties: Some(props),
        ..SendMessageRequestHeader::default()
    };
    RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&SendMessageRequestHeaderV2(h))
        .with_body(Bytes::from(id.to_string()))
}

async fn send_checked(c: &Client, cmd: RemotingCommand) {
    match c.request(cmd, T).await {
        Ok(r) if r.response_code() == ResponseCode::SUCCESS => {}
        Ok(r) => panic!("send refused: {r:?}"),
        Err(e) => panic!("send failed: {e}"),
    }
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric arguments"))
        .collect();
    let pending = args.first().copied().unwrap_or(1_000_000);
    let rate = args.get(1).copied().unwrap_or(10_000);
    let seconds = args.get(2).copied().unwrap_or(10);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = BrokerConfig {
        store_root_dir: dir.path().join("store"),
        ..BrokerConfig::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let broker = Broker::start(config.clone(), listener)
        .await
        .expect("broker");
    let addr = broker.local_addr().to_string();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Arc::new(
            Client::connect(&addr, ClientConfig::default())
                .await
                .expect("connect"),
        ));
    }

    // Phase 1: memory with `pending` timers parked an hour ahead.
    let before = rss_anon_kib();
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for w in 0..64 {
        let (c, next) = (clients[w % clients.len()].clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= pending {
                    return;
                }
                send_checked(&c, send_cmd("Parked", id, ("TIMER_DELAY_SEC", "3600"))).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let sent_in = started.elapsed();
    let log_dir = dir.path().join("store/timer/log");
    let want = pending * 40;
    let deadline = Instant::now() + Duration::from_secs(300);
    while dir_bytes(&log_dir) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = rss_anon_kib();
    println!(
        "pending timers: {pending} sent in {:.1} s; timer log {:.1} MiB; RssAnon {:.1} MiB before, {:.1} MiB after (+{:.1} MiB, {:.1} bytes/timer)",
        sent_in.as_secs_f64(),
        dir_bytes(&log_dir) as f64 / 1_048_576.0,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0,
        after.saturating_sub(before) as f64 * 1024.0 / pending.max(1) as f64
    );

    // Restart: the slot heads are rebuilt by scanning the timer log.
    drop(clients);
    broker.shutdown().await;
    let restarting = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let broker = Broker::start(config.clone(), listener)
        .await
        .expect("broker restarts");
    println!(
        "restart with {pending} pending timers: broker started in {:.2} s; RssAnon {:.1} MiB",
        restarting.elapsed().as_secs_f64(),
        rss_anon_kib() as f64 / 1024.0
    );
    let addr = broker.local_addr().to_string();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Arc::new(
            Client::connect(&addr, ClientConfig::default())
                .await
                .expect("connect"),
        ));
    }

    // Phase 2: lateness at `rate` timers/s falling due.
    let total = rate * seconds;
    let puller = {
        let c = Client::connect(&addr, ClientConfig::default())
            .await
            .expect("connect");
        tokio::spawn(async move { collect(&c, total).await })
    };
    let tick = Duration::from_millis(10);
    let per_tick = (rate / 100).max(1);
    let mut interval = tokio::time::interval(tick);
    let mut id = 0;
    let sending = Instant::now();
    while id < total {
        interval.tick().await;
        let mut batch = JoinSet::new();
        for _ in 0..per_tick.min(total - id) {
            let c = clients[usize::try_from(id).unwrap_or(0) % clients.len()].clone();
            let cmd = send_cmd("Due", id, ("TIMER_DELAY_MS", "2000"));
            batch.spawn(async move { send_checked(&c, cmd).await });
            id += 1;
        }
        while batch.join_next().await.is_some() {}
    }
    let send_secs = sending.elapsed().as_secs_f64();
    let mut late = puller.await.expect("puller");
    late.sort_unstable();
    let early = late.iter().filter(|&&l| l < 0).count();
    let pct = |p: f64| late[((late.len() as f64 * p) as usize).min(late.len() - 1)];
    println!(
        "lateness: {total} timers sent over {send_secs:.1} s ({:.0}/s, each due 2 s later): {} delivered, p50 {} ms, p99 {} ms, max {} ms, early {early}",
        total as f64 / send_secs,
        late.len(),
        pct(0.50),
        pct(0.99),
        late.last().copied().unwrap_or(0)
    );
    broker.shutdown().await;
}

/// Pulls `Due` queue 0 until `total` messages arrived; returns each one's lateness in ms.
async fn collect(c: &Client, total: u64) -> Vec<i64> {
    let mut late = Vec::new();
    let mut offset = 0;
    let deadline = Instant::now() + Duration::from_secs(total / 1000 + 120);
    while (late.len() as u64) < total && Instant::now() < deadline {
        let req = RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(
            &PullMessageRequestHeader {
                consumer_group: "cg".into(),
                topic: "Due".into(),
                queue_id: 0,
                queue_offset: offset,
                max_msg_nums: 1024,
                sys_flag: sys_flag::SUBSCRIPTION | sys_flag::SUSPEND,
                suspend_timeout_millis: 1_000,
                subscription: Some("*".into()),
                expression_type: Some("TAG".into()),
                ..PullMessageRequestHeader::default()
            },
        );
        let Ok(resp) = c.request(req, T).await else {
            continue;
        };
        if let Ok(h) = resp.decode_header::<PullMessageResponseHeader>() {
            if resp.response_code() == ResponseCode::SUCCESS {
                let body = resp.body.as_deref().unwrap_or_default();
                for r in records::decode(body, false).expect("records") {
                    let out: i64 = properties::get(r.properties, "TIMER_OUT_MS")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(r.store_timestamp);
                    late.push(r.store_timestamp - out);
                }
            }
            offset = h.next_begin_offset;
        }
    }
    late
}
