//! The options of `bench produce`, `bench consume` and `bench e2e`: one set, each mode reading the
//! ones that concern it.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::access::AccessArgs;
use crate::args::{parse_body_size, parse_seconds, OutputFormat};

/// `ferromq bench produce|consume|e2e`.
#[derive(Debug, Clone, Args)]
pub struct NetBenchArgs {
    /// Name servers, `;`-separated.
    #[arg(
        long = "namesrv",
        short = 'n',
        value_name = "ADDRS",
        default_value = "127.0.0.1:9876"
    )]
    pub namesrv: String,
    /// Wire protocol of the sends and receipts: RocketMQ remoting (v4 clients), or the v5 gRPC
    /// protocol (SendMessage; ReceiveMessage + AckMessage as a SimpleConsumer) on --grpc. The
    /// topic is looked up and created over remoting either way.
    #[arg(long, value_enum, default_value_t = Protocol::Remoting)]
    pub protocol: Protocol,
    /// The v5 gRPC endpoint of `--protocol grpc` (plaintext).
    #[arg(long = "grpc", value_name = "ADDR", default_value = "127.0.0.1:8081")]
    pub grpc_addr: String,
    /// Topic to send to / consume from; created with --queues queues when it does not exist.
    #[arg(long, short = 't', default_value = "BenchTopic")]
    pub topic: String,
    /// Message body size. Accepts K/KiB and M/MiB suffixes.
    #[arg(long, value_name = "BYTES", value_parser = parse_body_size, default_value = "1024")]
    pub size: usize,
    /// Concurrent sending tasks.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub producers: u32,
    /// Producer client instances (one connection per broker each) the sending tasks share,
    /// round-robin [default: min(producers, 4)].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub clients: Option<u32>,
    /// Consumer instances in the group; the topic's queues are rebalanced across them.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub consumers: u32,
    /// Consumer group [default: `ferromq_bench` for consume; for e2e a new group per run, starting
    /// at the queues' end, so no earlier backlog is read].
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Queue count of the topic when the bench creates it.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub queues: u32,
    /// Target send rate in messages per second over all producers, paced evenly [default: as fast
    /// as possible].
    #[arg(long, value_name = "MSGS_PER_S", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// How long to send (consume mode: to receive) [default: 10 unless --messages].
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub seconds: Option<f64>,
    /// Stop after this many messages (sent; consume mode: received).
    #[arg(long, value_name = "N", conflicts_with = "seconds",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub messages: Option<u64>,
    /// How each producer task sends.
    #[arg(long, value_enum, default_value_t = SendMode::Async)]
    pub mode: SendMode,
    /// Messages per SEND_BATCH_MESSAGE in `--mode batch`.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,
    /// Sends each task keeps outstanding in `--mode async`.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub inflight: u32,
    /// Consume mode: start a group that has no committed offset at the queues' first message
    /// instead of their end.
    #[arg(long)]
    pub from_first: bool,
    /// e2e: after the last send, how long to wait for the missing messages before calling them
    /// lost. consume with --messages: stop when nothing arrived for this long.
    #[arg(long, value_name = "S", default_value_t = 10.0, value_parser = parse_seconds)]
    pub drain_seconds: f64,
    /// Summary format on stdout (the progress lines go to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Print no progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// The broker's HTTP listener (`/metrics`; `ferromq dev` prints it as `http=`; an
    /// `https://` address is scraped over TLS, trusted as --tls trusts the brokers): scraped
    /// before and after the run, so the summary adds the broker's CPU per message and how far its
    /// message counters of the topic moved.
    #[arg(long = "metrics", value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Credentials and TLS, for a secured cluster.
    #[command(flatten)]
    pub access: AccessArgs,
}

/// The protocol the network benches speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// RocketMQ remoting, through ferromq's own client (push consumers for receipts).
    Remoting,
    /// RocketMQ 5 gRPC (`apache.rocketmq.v2`): producers and simple consumers.
    Grpc,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Remoting => "remoting",
            Protocol::Grpc => "grpc",
        }
    }
}

/// How a producer task sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SendMode {
    /// One send at a time, waiting for the broker's answer.
    Sync,
    /// Up to --inflight sends outstanding per task.
    Async,
    /// Fire and forget: no answer, no retry; latency is the hand-off to the connection.
    Oneway,
    /// --batch messages per request, one request at a time.
    Batch,
}

impl SendMode {
    pub fn name(self) -> &'static str {
        match self {
            SendMode::Sync => "sync",
            SendMode::Async => "async",
            SendMode::Oneway => "oneway",
            SendMode::Batch => "batch",
        }
    }
}

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Duration(Duration),
    Messages(u64),
}

impl NetBenchArgs {
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.namesrv
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn limit(&self) -> Limit {
        match (self.messages, self.seconds) {
            (Some(n), _) => Limit::Messages(n),
            (None, Some(s)) => Limit::Duration(Duration::from_secs_f64(s)),
            (None, None) => Limit::Duration(Duration::from_secs(10)),
        }
    }

    pub fn client_count(&self) -> u32 {
        self.clients.unwrap_or(self.producers.min(4))
    }

    /// Messages one request carries.
    pub fn per_request(&self) -> u32 {
        match self.mode {
            SendMode::Batch => self.batch,
            _ => 1,
        }
    }

    /// Outstanding requests per task.
    pub fn window(&self) -> u32 {
        match self.mode {
            SendMode::Async => self.inflight,
            _ => 1,
        }
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a positive number of messages per second"
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::args::{BenchCommand, Cli, Command};

    use super::*;

    fn parse(args: &[&str]) -> Result<NetBenchArgs, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Bench(
                BenchCommand::Produce(a) | BenchCommand::Consume(a) | BenchCommand::E2e(a),
            ) => Ok(a),
            other => panic!("a network bench expected, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let a = parse(&[
            "ferromq",
            "bench",
            "produce",
            "-n",
            "127.0.0.1:9876",
            "-t",
            "BenchTopic",
            "--size",
            "1024",
            "--producers",
            "64",
            "--seconds",
            "10",
            "--output",
            "json",
        ])
        .expect("parses");
        assert_eq!(a.namesrv_addrs(), vec!["127.0.0.1:9876"]);
        assert_eq!(a.size, 1024);
        assert_eq!(a.producers, 64);
        assert_eq!(a.client_count(), 4);
        assert_eq!(a.limit(), Limit::Duration(Duration::from_secs(10)));
        assert_eq!(a.output, OutputFormat::Json);
        assert_eq!(a.mode, SendMode::Async);
        assert_eq!(a.window(), 16);
    }

    #[test]
    fn defaults_and_modes() {
        let a = parse(&["ferromq", "bench", "e2e"]).expect("defaults");
        assert_eq!(a.limit(), Limit::Duration(Duration::from_secs(10)));
        assert_eq!(a.client_count(), 4);
        assert_eq!(a.queues, 8);
        assert!(a.rate.is_none());
        let a = parse(&[
            "ferromq",
            "bench",
            "produce",
            "--mode",
            "batch",
            "--batch",
            "32",
            "--messages",
            "100",
            "--producers",
            "2",
        ])
        .expect("batch");
        assert_eq!(a.per_request(), 32);
        assert_eq!(a.window(), 1);
        assert_eq!(a.client_count(), 2);
        assert_eq!(a.limit(), Limit::Messages(100));
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["ferromq", "bench", "produce", "--producers", "0"][..],
            &["ferromq", "bench", "produce", "--rate", "0"],
            &["ferromq", "bench", "produce", "--rate", "fast"],
            &["ferromq", "bench", "produce", "--mode", "maybe"],
            &["ferromq", "bench", "produce", "--messages", "0"],
            &[
                "ferromq",
                "bench",
                "e2e",
                "--messages",
                "5",
                "--seconds",
                "3",
            ],
            &["ferromq", "bench", "consume", "--size", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
