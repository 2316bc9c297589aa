//! `rocketmq_rpc_latency`: how long the broker took to answer each remoting request, by request
//! and response code, as a histogram of milliseconds. Measured around the whole remoting adapter
//! (`handlers::timed`), so the handlers themselves know nothing of it; a held long-poll pull counts
//! its hold time, as it does in Apache RocketMQ. The v5 (gRPC) endpoint's unary calls have their
//! own histograms, by method name and answer ([`GrpcLatency`]), timed by the gRPC adapter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// Upper bounds (milliseconds, inclusive) of the latency buckets, then `+Inf`.
pub const LATENCY_BUCKETS_MS: [u64; 11] = [1, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 3000];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    sum_us: AtomicU64,
}

/// One (request code, response code) pair's histogram as read by a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcCounts {
    pub request_code: i32,
    pub response_code: i32,
    /// Per bucket of [`LATENCY_BUCKETS_MS`] then `+Inf`, not cumulative.
    pub buckets: Vec<u64>,
    pub sum_us: u64,
}

/// Latency histograms of every (request code, response code) answered.
#[derive(Debug, Default)]
pub struct RpcLatency {
    series: RwLock<HashMap<(i32, i32), Arc<Histogram>>>,
}

impl RpcLatency {
    pub fn record(&self, request_code: i32, response_code: i32, micros: u64) {
        let key = (request_code, response_code);
        let found = self.series.read().get(&key).cloned();
        let h = found.unwrap_or_else(|| self.series.write().entry(key).or_default().clone());
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&le| micros <= le * 1000)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        h.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        h.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// Every pair's histogram, sorted by request then response code.
    #[must_use]
    pub fn counts(&self) -> Vec<RpcCounts> {
        let mut out: Vec<RpcCounts> = self
            .series
            .read()
            .iter()
            .map(|(&(request_code, response_code), h)| RpcCounts {
                request_code,
                response_code,
                buckets: h
                    .buckets
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect(),
                sum_us: h.sum_us.load(Ordering::Relaxed),
            })
            .collect();
        out.sort_by_key(|c| (c.request_code, c.response_code));
        out
    }
}

/// How a v5 (gRPC) call was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrpcAnswer {
    /// A response carrying this v5 `Code` in its status (`OK` is 20000).
    Code(i32),
    /// No response: a gRPC status with this code (the transport's, not RocketMQ's).
    Transport(i32),
}

/// One (method, answer) pair's histogram as read by a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcCounts {
    /// The RPC's name, as in the v5 service definition (`SendMessage`).
    pub method: &'static str,
    pub answer: GrpcAnswer,
    /// Per bucket of [`LATENCY_BUCKETS_MS`] then `+Inf`, not cumulative.
    pub buckets: Vec<u64>,
    pub sum_us: u64,
}

/// Latency histograms of the v5 endpoint's unary calls, by method and answer. Keys are static
/// method names: recording allocates only the first time a pair is seen.
#[derive(Debug, Default)]
pub struct GrpcLatency {
    series: RwLock<HashMap<(&'static str, GrpcAnswer), Arc<Histogram>>>,
}

impl GrpcLatency {
    pub fn record(&self, method: &'static str, answer: GrpcAnswer, micros: u64) {
        let key = (method, answer);
        let found = self.series.read().get(&key).cloned();
        let h = found.unwrap_or_else(|| self.series.write().entry(key).or_default().clone());
        h.observe(micros);
    }

    /// Every pair's histogram, sorted by method then answer.
    #[must_use]
    pub fn counts(&self) -> Vec<GrpcCounts> {
        let mut out: Vec<GrpcCounts> = self
            .series
            .read()
            .iter()
            .map(|(&(method, answer), h)| GrpcCounts {
                method,
                answer,
                buckets: h.buckets(),
                sum_us: h.sum_us.load(Ordering::Relaxed),
            })
            .collect();
        out.sort_by_key(|c| (c.method, c.answer));
        out
    }
}

impl Histogram {
    fn observe(&self, micros: u64) {
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&le| micros <= le * 1000)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    fn buckets(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_by_milliseconds() {
        let r = RpcLatency::default();
        r.record(10, 0, 500);
        r.record(10, 0, 1000);
        r.record(10, 0, 2500);
        r.record(10, 1, 5_000_000);
        let c = r.counts();
        assert_eq!(c.len(), 2);
        assert_eq!(&c[0].buckets[..3], &[2, 1, 0]);
        assert_eq!(c[0].sum_us, 4000);
        assert_eq!(c[1].buckets[LATENCY_BUCKETS_MS.len()], 1);
    }
}
