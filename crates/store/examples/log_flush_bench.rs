//! Quick measurement of the commit-log write path (the full benchmark is `ferromq bench store`).
//!
//! `cargo run --release -p ferromq-store --example log_flush_bench [dir]`
//!
//! Prints: the raw 4 KiB pwrite + fdatasync rate; SYNC_FLUSH appends per second with 1 and 64 writers;
//! ASYNC_FLUSH append throughput; each for pwrite and mmap segments. `BENCH_INTERLEAVE=1` alternates
//! the raw rate with the single-writer SYNC_FLUSH rate instead, for a fair ratio on a noisy disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferromq_model::record::RecordDraft;
use ferromq_store::clock::SystemClock;
use ferromq_store::commit_log::CommitLog;
use ferromq_store::config::{FlushMode, IoMode, StoreConfig};
use ferromq_store::flush::Flusher;
use ferromq_store::io::{FileKind, FileLayer};
use ferromq_store::segment::DiskLayer;

/// Length of each measurement (`BENCH_SECS`, default 3).
fn run() -> Duration {
    Duration::from_secs_f64(
        std::env::var("BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    )
}

/// 4 KiB pwrite + fdatasync on a file made by the disk layer (fallocated), optionally overwritten with
/// zeros first (so no extent conversion happens at write time).
fn raw_fdatasync_rate(dir: &Path, prefill: bool) -> f64 {
    let path = dir.join(if prefill {
        "raw-filled"
    } else {
        "raw-fallocated"
    });
    let len = 256u64 << 20;
    let f = DiskLayer::new(IoMode::Pwrite)
        .create(&path, len, FileKind::CommitLog)
        .expect("create");
    if prefill {
        let zeros = vec![0u8; 1 << 20];
        for i in 0..256 {
            f.write_at(i << 20, &zeros).expect("fill");
        }
        f.sync().expect("sync");
    }
    let page = vec![7u8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < run() {
        f.write_at((n * 4096) % len, &page).expect("write");
        f.sync().expect("fdatasync");
        n += 1;
    }
    std::fs::remove_file(path).expect("rm");
    n as f64 / start.elapsed().as_secs_f64()
}

fn config(dir: PathBuf, io: IoMode, flush: FlushMode) -> StoreConfig {
    StoreConfig {
        io_mode: io,
        flush_mode: flush,
        commit_log_segment_bytes: 1 << 30,
        ..StoreConfig::new(dir)
    }
}

fn open(cfg: &StoreConfig) -> Arc<CommitLog> {
    let log = CommitLog::open(
        cfg,
        Arc::new(DiskLayer::new(cfg.io_mode)),
        Arc::new(SystemClock),
    )
    .expect("open");
    log.recover(0, &mut |_, _| {}).expect("recover");
    Arc::new(log)
}

fn draft(body: &[u8]) -> RecordDraft<'_> {
    let host = "127.0.0.1:10911".parse().expect("addr");
    RecordDraft {
        topic: "BenchTopic",
        queue_id: 0,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 0,
        born_host: host,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body,
        properties: "",
    }
}

/// Appends (waiting for durability when the flusher is SYNC) from `writers` threads for `RUN`.
fn appends_per_sec(cfg: &StoreConfig, writers: usize, body_len: usize) -> f64 {
    let log = open(cfg);
    let flusher = Arc::new(Flusher::start(log.clone(), cfg, Arc::new(|_| {})));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let (log, flusher, stop, count) =
                (log.clone(), flusher.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                let body = vec![1u8; body_len];
                let d = [draft(&body)];
                while !stop.load(Ordering::Relaxed) {
                    let out = log.append(&d).expect("append");
                    flusher.durable(out.end_offset, 1).wait().expect("durable");
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(run());
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("writer");
    }
    let rate = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    Arc::try_unwrap(flusher)
        .expect("owner")
        .shutdown()
        .expect("shutdown");
    rate
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    if std::env::var("BENCH_INTERLEAVE").is_ok() {
        // The disk's sync latency drifts (shared machine): alternate raw and log runs to compare them.
        let cfg = config(dir.path().join("lat"), IoMode::Pwrite, FlushMode::SyncFlush);
        let log = open(&cfg);
        let flusher = Flusher::start(log.clone(), &cfg, Arc::new(|_| {}));
        let body = vec![1u8; 1024];
        let mut lat: Vec<Duration> = (0..20_000)
            .map(|_| {
                let t = Instant::now();
                let out = log.append(&[draft(&body)]).expect("append");
                flusher.durable(out.end_offset, 1).wait().expect("durable");
                t.elapsed()
            })
            .collect();
        lat.sort_unstable();
        println!(
            "SYNC 1 writer append+durable latency: p50 {:?} p90 {:?} p99 {:?}",
            lat[10_000], lat[18_000], lat[19_800]
        );
        drop(flusher);
        for round in 0..5 {
            let raw = raw_fdatasync_rate(dir.path(), false);
            for io in [IoMode::Pwrite, IoMode::Mmap] {
                let cfg = config(
                    dir.path().join(format!("i{round}{io:?}")),
                    io,
                    FlushMode::SyncFlush,
                );
                let one = appends_per_sec(&cfg, 1, 1024);
                println!(
                    "raw {raw:>7.0}/s  {io:?} SYNC 1 writer {one:>7.0}/s = {:>3.0}%",
                    100.0 * one / raw
                );
            }
        }
        return;
    }
    println!(
        "raw 4 KiB pwrite+fdatasync, fallocated file:  {:>9.0}/s",
        raw_fdatasync_rate(dir.path(), false)
    );
    println!(
        "raw 4 KiB pwrite+fdatasync, zero-filled file: {:>9.0}/s",
        raw_fdatasync_rate(dir.path(), true)
    );
    let mut run = 0;
    for io in [IoMode::Pwrite, IoMode::Mmap] {
        for (flush, writers, body) in [
            (FlushMode::SyncFlush, 1, 1024),
            (FlushMode::SyncFlush, 64, 1024),
            (FlushMode::AsyncFlush, 1, 1024),
            (FlushMode::AsyncFlush, 4, 1024),
            (FlushMode::AsyncFlush, 1, 64 * 1024),
        ] {
            run += 1;
            let cfg = config(dir.path().join(format!("run{run}")), io, flush);
            let rate = appends_per_sec(&cfg, writers, body);
            println!("{io:?} {flush:?} writers={writers:<3} body={body:<6} {rate:>10.0} appends/s  ({:.0} MB/s)", rate * body as f64 / 1e6);
        }
    }
}
