//! The final summary of `bench produce|consume|e2e`: text for people, JSON (`--output json`) for
//! scripts. MB is 10^6 bytes of message body.

use std::time::Duration;

use anyhow::Result;
use hdrhistogram::Histogram;
use serde::Serialize;

use super::broker_stats::BrokerDelta;
use super::meter::format_latency;
use super::net_args::NetBenchArgs;
use super::rounded;

/// Latency percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    #[serde(serialize_with = "rounded")]
    pub p50_us: f64,
    #[serde(serialize_with = "rounded")]
    pub p99_us: f64,
    #[serde(serialize_with = "rounded")]
    pub p999_us: f64,
    #[serde(serialize_with = "rounded")]
    pub max_us: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let us = |ns: u64| ns as f64 / 1e3;
        Latency {
            p50_us: us(h.value_at_quantile(0.5)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        }
    }

    fn text(&self) -> String {
        let f = |us: f64| format_latency((us * 1e3) as u64);
        format!(
            "p50 {}  p99 {}  p99.9 {}  max {}",
            f(self.p50_us),
            f(self.p99_us),
            f(self.p999_us),
            f(self.max_us)
        )
    }
}

/// What a run measured; its JSON form is the `--output json` schema (see docs/bench.md).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `produce`, `consume` or `e2e`.
    pub bench: &'static str,
    /// `remoting` or `grpc`.
    pub protocol: &'static str,
    pub topic: String,
    pub size: usize,
    /// `sync`, `async`, `oneway` or `batch` (absent for `consume`).
    pub mode: Option<&'static str>,
    pub producers: u32,
    pub clients: u32,
    pub consumers: u32,
    /// The `--rate` asked for, if any.
    pub target_rate: Option<f64>,
    #[serde(serialize_with = "rounded")]
    pub elapsed_s: f64,
    /// Messages the broker acknowledged (oneway: handed to the connection).
    pub sent: u64,
    /// Distinct messages of this run received (consume: all messages received).
    pub received: u64,
    /// Failed sends or, for `consume`, nothing.
    pub errors: u64,
    /// e2e: acknowledged messages never received within the drain time.
    pub lost: u64,
    /// e2e and consume: stamped messages received more than once.
    pub duplicates: u64,
    /// e2e: messages of other runs (or without a stamp) the consumers received and skipped.
    pub foreign: u64,
    /// Throughput of the bench's subject: sends for `produce`, receipts for `consume` and `e2e`.
    #[serde(serialize_with = "rounded")]
    pub msgs_per_s: f64,
    #[serde(serialize_with = "rounded")]
    pub mb_per_s: f64,
    /// `produce`: send latency from the intended send time to the answer; `consume` and `e2e`:
    /// from the intended send time in the body to the receipt.
    #[serde(flatten)]
    pub latency: Latency,
    /// e2e only: the send latency, as `produce` measures it.
    pub send_latency: Option<Latency>,
    /// e2e over gRPC: messages acknowledged with AckMessage (duplicates included), their rate
    /// over the run, and the latency from a message's receipt to its ack's answer.
    pub acked: Option<u64>,
    #[serde(serialize_with = "rounded_option")]
    pub acked_per_s: Option<f64>,
    pub ack_latency: Option<Latency>,
    /// User + system CPU time of this bench process over the run.
    #[serde(serialize_with = "rounded")]
    pub cpu_s: f64,
    /// `cpu_s` per 100 000 messages (sent for `produce` and `e2e`, received for `consume`).
    #[serde(serialize_with = "rounded")]
    pub cpu_s_per_100k: f64,
    /// `cpu_s` per message, in microseconds.
    #[serde(serialize_with = "rounded")]
    pub cpu_us_per_msg: f64,
    /// With `--metrics`: the broker's side of the run, from its `/metrics` before and after.
    pub broker: Option<BrokerReport>,
    /// The messages the CPU figures are divided by.
    #[serde(skip)]
    cpu_msgs: u64,
}

/// The broker's side of a run (`--metrics`), from its own process stats and counters.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BrokerReport {
    /// Broker process CPU (user + system) over the run, topic creation and client start included.
    #[serde(serialize_with = "rounded")]
    pub cpu_s: f64,
    /// `cpu_s` per message the bench counts (as `cpu_us_per_msg`), in microseconds.
    #[serde(serialize_with = "rounded")]
    pub cpu_us_per_msg: f64,
    /// How far `rocketmq_messages_in_total` of the topic moved.
    pub messages_in: u64,
    /// How far `rocketmq_messages_out_total` of the topic moved (all groups).
    pub messages_out: u64,
}

impl Summary {
    /// A summary with the run's settings filled in and every figure zero.
    pub fn new(bench: &'static str, args: &NetBenchArgs) -> Summary {
        let produces = bench != "consume";
        Summary {
            bench,
            protocol: args.protocol.name(),
            topic: args.topic.clone(),
            size: args.size,
            mode: produces.then(|| args.mode.name()),
            producers: if produces { args.producers } else { 0 },
            clients: if produces { args.client_count() } else { 0 },
            consumers: if bench == "produce" {
                0
            } else {
                args.consumers
            },
            target_rate: if produces { args.rate } else { None },
            elapsed_s: 0.0,
            sent: 0,
            received: 0,
            errors: 0,
            lost: 0,
            duplicates: 0,
            foreign: 0,
            msgs_per_s: 0.0,
            mb_per_s: 0.0,
            latency: Latency::default(),
            send_latency: None,
            acked: None,
            acked_per_s: None,
            ack_latency: None,
            cpu_s: 0.0,
            cpu_s_per_100k: 0.0,
            cpu_us_per_msg: 0.0,
            broker: None,
            cpu_msgs: 0,
        }
    }

    /// Fills the rates from a message count over `elapsed`, and the CPU cost per 100k of `cpu_msgs`.
    pub fn set_rates(
        &mut self,
        msgs: u64,
        bytes: u64,
        elapsed: Duration,
        cpu: Duration,
        cpu_msgs: u64,
    ) {
        let secs = elapsed.as_secs_f64();
        self.elapsed_s = secs;
        if secs > 0.0 {
            self.msgs_per_s = msgs as f64 / secs;
            self.mb_per_s = bytes as f64 / secs / 1e6;
        }
        self.cpu_s = cpu.as_secs_f64();
        self.cpu_msgs = cpu_msgs;
        if cpu_msgs > 0 {
            self.cpu_s_per_100k = self.cpu_s / (cpu_msgs as f64 / 100_000.0);
            self.cpu_us_per_msg = self.cpu_s * 1e6 / cpu_msgs as f64;
        }
    }

    /// Adds the broker's side, per message as the bench's own CPU is counted.
    pub fn set_broker(&mut self, delta: BrokerDelta) {
        let per_msg = if self.cpu_msgs > 0 {
            delta.cpu_seconds * 1e6 / self.cpu_msgs as f64
        } else {
            0.0
        };
        self.broker = Some(BrokerReport {
            cpu_s: delta.cpu_seconds,
            cpu_us_per_msg: per_msg,
            messages_in: delta.messages_in,
            messages_out: delta.messages_out,
        });
    }

    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    pub fn to_text(&self) -> String {
        let mut lines = vec![format!(
            "ferromq bench {}: topic {}, {} B bodies{}",
            self.bench,
            self.topic,
            self.size,
            match self.mode {
                Some(mode) => format!(
                    ", {mode} sends from {} tasks on {} clients{}",
                    self.producers,
                    self.clients,
                    self.target_rate
                        .map_or(String::new(), |r| format!(", target {r:.0} msgs/s"))
                ),
                None => String::new(),
            }
        )];
        if self.protocol != "remoting" {
            lines.push(format!("protocol: {}", self.protocol));
        }
        if self.consumers > 0 {
            lines.push(format!("consumers: {}", self.consumers));
        }
        lines.push(format!(
            "elapsed {:.2} s: {:.0} msgs/s, {:.1} MB/s",
            self.elapsed_s, self.msgs_per_s, self.mb_per_s
        ));
        let what = if self.bench == "produce" {
            "send latency (from intended send time)"
        } else {
            "send → receipt latency"
        };
        lines.push(format!("{what}: {}", self.latency.text()));
        if let Some(send) = &self.send_latency {
            lines.push(format!(
                "send latency (from intended send time): {}",
                send.text()
            ));
        }
        if let (Some(acked), Some(rate), Some(ack)) =
            (self.acked, self.acked_per_s, &self.ack_latency)
        {
            lines.push(format!(
                "acked {acked} ({rate:.0} msgs/s); receipt → ack latency: {}",
                ack.text()
            ));
        }
        let mut counts = Vec::new();
        if self.bench != "consume" {
            counts.push(format!("sent {}", self.sent));
        }
        if self.bench != "produce" {
            counts.push(format!("received {}", self.received));
        }
        counts.push(format!("errors {}", self.errors));
        if self.bench == "e2e" {
            counts.push(format!("lost {}", self.lost));
        }
        if self.bench != "produce" {
            counts.push(format!("duplicates {}", self.duplicates));
        }
        lines.push(counts.join(", "));
        lines.push(format!(
            "cpu: {:.3} core-seconds per 100k msgs ({:.2} core-seconds in all), {:.1} µs per message",
            self.cpu_s_per_100k, self.cpu_s, self.cpu_us_per_msg
        ));
        if let Some(b) = &self.broker {
            lines.push(format!(
                "broker cpu: {:.1} µs per message ({:.2} core-seconds in all); topic counters moved: in {}, out {}",
                b.cpu_us_per_msg, b.cpu_s, b.messages_in, b.messages_out
            ));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

#[allow(clippy::ref_option)] // serde's `serialize_with` passes a reference
fn rounded_option<S: serde::Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => super::rounded(v, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{BenchCommand, Cli, Command};

    fn args() -> NetBenchArgs {
        let cli =
            Cli::try_parse_from(["ferromq", "bench", "e2e", "--size", "128"]).expect("parses");
        match cli.command {
            Command::Bench(BenchCommand::E2e(a)) => a,
            other => panic!("e2e expected, got {other:?}"),
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut s = Summary::new("e2e", &args());
        s.sent = 200_000;
        s.received = 200_000;
        s.set_rates(
            200_000,
            25_600_000,
            Duration::from_secs(2),
            Duration::from_millis(1500),
            200_000,
        );
        let json: serde_json::Value =
            serde_json::from_str(&s.to_json().expect("json")).expect("valid");
        for field in [
            "msgs_per_s",
            "mb_per_s",
            "p50_us",
            "p99_us",
            "p999_us",
            "errors",
            "cpu_s_per_100k",
            "sent",
            "received",
            "lost",
            "duplicates",
        ] {
            assert!(json.get(field).is_some(), "summary lacks {field}: {json}");
        }
        assert_eq!(json["msgs_per_s"], 100_000.0);
        assert_eq!(json["mb_per_s"], 12.8);
        assert_eq!(json["cpu_s_per_100k"], 0.75);
        assert_eq!(json["mode"], "async");
        assert!(
            s.to_text()
                .contains("cpu: 0.750 core-seconds per 100k msgs"),
            "{}",
            s.to_text()
        );
    }

    #[test]
    fn latency_of_an_empty_histogram_is_zero() {
        let l = Latency::of(&super::super::meter::new_histogram());
        assert!(l.p50_us == 0.0 && l.max_us == 0.0);
    }
}
