//! SIGKILL crash test: a child process appends under SYNC_FLUSH from several threads and prints every
//! acknowledged message; the parent kills it with SIGKILL at a random moment, recovers the store, and
//! checks that every acknowledged message is there with its body, in dense queue order. Repeated over
//! many rounds on the same folder, so recovery also runs on logs that earlier recoveries cut.
//!
//! The child is this same test binary re-executed with an environment variable naming the folder.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry, RecordDraft};
use ferromq_store::{FlushMode, QueueRead, StoreConfig, StoreHandle, TagFilter};

const CHILD_ENV: &str = "FERROMQ_CRASH_CHILD_DIR";
const WRITERS: u64 = 4;
const QUEUES: u32 = 4;

fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        flush_mode: FlushMode::SyncFlush,
        commit_log_segment_bytes: 256 * 1024,
        max_message_bytes: 64 * 1024,
        consume_queue_entries_per_file: 64,
        index_hash_slots: 1024,
        index_max_entries: 4096,
        checkpoint_interval_ms: 50,
        ..StoreConfig::new(dir)
    }
}

/// Deterministic body for message `id`: its size and bytes both depend on the id.
fn body_of(id: u64) -> Vec<u8> {
    let len = (id.wrapping_mul(2_654_435_761) % 3000) as usize + 1;
    (0..len)
        .map(|i| (id as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

fn host() -> SocketAddr {
    "127.0.0.1:10911".parse().expect("addr")
}

/// The child: writes until killed. Ids are `round * 1e9 + writer * 1e8 + n`, unique across rounds.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: u64 = std::env::var("FERROMQ_CRASH_ROUND")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let handle = StoreHandle::open(config(Path::new(&dir))).expect("open store in child");
    let store = Arc::new(handle.store().clone());
    println!("READY");
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0.. {
                    let id = round * 1_000_000_000 + w * 100_000_000 + n;
                    let body = body_of(id);
                    let uniq = format!("{id:016X}");
                    let props = properties::encode([(keys::UNIQ_KEY, uniq.as_str())]);
                    let draft = RecordDraft {
                        topic: "CrashTopic",
                        queue_id: (id % u64::from(QUEUES)) as u32,
                        flag: 0,
                        sys_flag: 0,
                        born_timestamp: 1,
                        born_host: host(),
                        store_host: host(),
                        reconsume_times: 0,
                        prepared_transaction_offset: 0,
                        body: &body,
                        properties: &props,
                    };
                    let put = store.put(&draft).expect("put");
                    put.durable.wait().expect("durable");
                    let r = &put.records[0];
                    println!("ACK {id} {} {}", r.queue_offset, r.physical_offset);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Small xorshift: the test needs varied kill points, not cryptographic randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_during_sync_flush_appends_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary path");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = Rng(seed | 1);
    println!("seed {seed}");
    // id -> (queue id, queue offset, physical offset) of every acknowledged message, all rounds.
    let mut acked: HashMap<u64, (u32, u64, u64)> = HashMap::new();
    let rounds = 30;
    for round in 1..=rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_kill9::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env("FERROMQ_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        // Kill after a random number of acknowledgements (sometimes right after start, during recovery).
        let kill_after = match rng.next() % 4 {
            0 => 0,
            _ => rng.next() % 1500 + 1,
        };
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        while seen < kill_after {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("ACK ") {
                let f: Vec<u64> = rest
                    .split(' ')
                    .map(|x| x.parse().expect("number"))
                    .collect();
                acked.insert(f[0], ((f[0] % u64::from(QUEUES)) as u32, f[1], f[2]));
                seen += 1;
            }
        }
        child.kill().expect("SIGKILL child");
        // Acks printed before the kill landed count too: read what is left in the pipe.
        for line in lines.map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let f: Vec<u64> = rest
                    .split(' ')
                    .map(|x| x.parse().expect("number"))
                    .collect();
                acked.insert(f[0], ((f[0] % u64::from(QUEUES)) as u32, f[1], f[2]));
            }
        }
        let _ = child.wait();
        verify(dir.path(), &acked, round);
    }
    assert!(
        acked.len() > 100,
        "the child acknowledged too little to prove anything: {}",
        acked.len()
    );
}

/// Recovers the store and checks every acknowledged message and the queues' density.
fn verify(dir: &Path, acked: &HashMap<u64, (u32, u64, u64)>, round: u64) {
    let handle = StoreHandle::open(config(dir)).expect("recover");
    let store = handle.store();
    let mut found: HashMap<u64, (u32, u64, u64)> = HashMap::new();
    for q in 0..QUEUES {
        let (min, max) = (
            store.min_queue_offset("CrashTopic", q),
            store.max_queue_offset("CrashTopic", q),
        );
        assert_eq!(
            min, 0,
            "round {round}: nothing was deleted, queue {q} must start at 0"
        );
        let mut next = min;
        let filter = TagFilter::All;
        while next < max {
            let r = store
                .get_messages(&QueueRead {
                    topic: "CrashTopic",
                    queue_id: q,
                    from: next,
                    max_msgs: 64,
                    max_bytes: 1 << 22,
                    filter: &filter,
                })
                .expect("read queue");
            assert!(
                !r.messages.is_empty(),
                "round {round}: queue {q} has a hole at {next}"
            );
            for (bytes, qo) in r.messages.iter().zip(&r.queue_offsets) {
                assert_eq!(*qo, next, "round {round}: queue {q} offsets not dense");
                let Ok(Entry::Message(rec)) = record::read(bytes, true) else {
                    panic!("round {round}: bad record")
                };
                assert_eq!(rec.queue_offset, next);
                assert_eq!(rec.queue_id, q);
                let uniq = properties::get(rec.properties, keys::UNIQ_KEY).expect("uniq key");
                let id = u64::from_str_radix(uniq, 16).expect("hex id");
                assert_eq!(
                    rec.body,
                    body_of(id).as_slice(),
                    "round {round}: body of {id} differs"
                );
                found.insert(id, (q, next, rec.physical_offset));
                next += 1;
            }
        }
    }
    let mut missing: BTreeMap<u64, (u32, u64, u64)> = BTreeMap::new();
    for (id, at) in acked {
        match found.get(id) {
            Some(f) => assert_eq!(f, at, "round {round}: message {id} moved"),
            None => {
                missing.insert(*id, *at);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "round {round}: acknowledged messages lost: {missing:?}"
    );
    // Lookups by unique key work after recovery.
    for id in acked.keys().take(20) {
        let hits = store
            .query_by_key("CrashTopic", &format!("{id:016X}"), 4, 0, i64::MAX)
            .expect("query");
        assert_eq!(hits.len(), 1, "round {round}: key of {id}");
    }
    handle.shutdown().expect("clean shutdown");
}
