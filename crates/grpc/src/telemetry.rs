//! Telemetry, the client's session stream. A client opens it at start-up, sends its settings and
//! waits for the server's (its start fails without them): producers need the body size limit and
//! the retry policy, consumers their group's FIFO flag, batch size, long-polling time and retry
//! policy. The stream then carries commands to the client (transaction checks) until either side
//! ends it.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ferromq_broker::BrokerService;
use ferromq_proto::v2::{
    retry_policy::Strategy, settings::PubSub, telemetry_command::Command, CustomizedBackoff,
    ExponentialBackoff, Metric, Publishing, RetryPolicy, Settings, Subscription, TelemetryCommand,
};
use ferromq_proto::Status;
use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::access::{self, Caller, Rpc};
use crate::current::CurrentBroker;
use crate::sessions::{CommandSink, Sessions};

/// What the server sends down a telemetry stream.
pub type TelemetryStream =
    Pin<Box<dyn Stream<Item = Result<TelemetryCommand, tonic::Status>> + Send + 'static>>;

/// Commands queued for one client before it reads them.
const COMMAND_QUEUE: usize = 32;

/// RocketMQ's proxy defaults for what a consumer's group settings do not say.
const RECEIVE_BATCH_SIZE: i32 = 32;
const LONG_POLLING_TIMEOUT: Duration = Duration::from_secs(20);
/// A producer retries a failed send twice, backing off from 10 ms to at most 1 s.
const PRODUCER_MAX_ATTEMPTS: i32 = 3;
/// RocketMQ's default redelivery delays (its 18 delay levels from `1s` to `2h`), a consumer's
/// backoff between attempts.
const REDELIVERY_DELAYS_SECS: [i64; 18] = [
    1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
];

/// The backoff after delivery `attempt` (1 for the first) failed: what the subscription's
/// published policy tells the client, so a nack by the endpoint matches a nack by the client.
pub(crate) fn redelivery_delay(attempt: u32) -> Duration {
    let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
    let secs = REDELIVERY_DELAYS_SECS[i.min(REDELIVERY_DELAYS_SECS.len() - 1)];
    Duration::from_secs(secs.unsigned_abs())
}

/// The server's side of the shared state a stream needs.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub broker: CurrentBroker,
    pub sessions: Arc<Sessions>,
    pub token: CancellationToken,
    pub tracker: TaskTracker,
}

/// Serves one telemetry stream of `client_id`.
pub(crate) fn open(
    ctx: &Context,
    client_id: String,
    caller: Caller,
    mut inbound: tonic::Streaming<TelemetryCommand>,
) -> TelemetryStream {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let stream = ctx.sessions.stream_id();
    let ctx = ctx.clone();
    let token = ctx.token.clone();
    let caller = caller.continued();
    ctx.tracker.clone().spawn(async move {
        loop {
            let next = tokio::select! {
                () = ctx.token.cancelled() => break,
                next = inbound.message() => next,
            };
            let command = match next {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    debug!(client = %client_id, error = %e, "telemetry stream failed");
                    break;
                }
            };
            // Settings name what the client publishes or subscribes to: authorized before use.
            if let Err(e) =
                caller.check(&ctx.broker.get(), TelemetryCommand::NAME, &command.names())
            {
                let _ = tx.send(Err(access::stream_refusal(&e))).await;
                break;
            }
            let Some(Command::Settings(settings)) = command.command else {
                // Answers to server commands (stack traces, message verification): none are
                // sent, so nothing waits for them.
                continue;
            };
            match merged(&ctx.broker.get(), &settings) {
                Ok(ours) => {
                    let sink = CommandSink {
                        stream,
                        tx: tx.clone(),
                    };
                    ctx.sessions
                        .attach(&client_id, settings, sink, caller.peer());
                    let reply = TelemetryCommand {
                        status: Some(Status::ok()),
                        command: Some(Command::Settings(ours)),
                    };
                    if tx.send(Ok(reply)).await.is_err() {
                        break;
                    }
                }
                Err(reason) => {
                    let _ = tx.send(Err(tonic::Status::invalid_argument(reason))).await;
                    break;
                }
            }
        }
        ctx.sessions.detach(&client_id, stream);
    });
    Box::pin(ReceiverStream::new(rx).take_until(token.cancelled_owned()))
}

/// The client's settings completed with the server's. `Err`: why they are unusable.
fn merged(broker: &BrokerService, settings: &Settings) -> Result<Settings, String> {
    let mut ours = settings.clone();
    ours.metric = Some(Metric {
        on: false,
        endpoints: None,
    });
    match &settings.pub_sub {
        None => return Err("the settings carry neither publishing nor subscription".into()),
        Some(PubSub::Publishing(p)) => {
            if let Some(t) = p.topics.iter().find(|t| t.name.is_empty()) {
                return Err(format!("publishing names an empty topic ({t:?})"));
            }
            ours.backoff_policy = Some(RetryPolicy {
                max_attempts: PRODUCER_MAX_ATTEMPTS,
                strategy: Some(Strategy::ExponentialBackoff(ExponentialBackoff {
                    initial: Some(duration(Duration::from_millis(10))),
                    max: Some(duration(Duration::from_secs(1))),
                    multiplier: 2.0,
                })),
            });
            ours.pub_sub = Some(PubSub::Publishing(Publishing {
                topics: p.topics.clone(),
                max_body_size: i32::try_from(broker.max_message_size()).unwrap_or(i32::MAX),
                validate_message_type: true,
            }));
        }
        Some(PubSub::Subscription(s)) => {
            let Some(group) = s.group.as_ref().filter(|g| !g.name.is_empty()) else {
                return Err("subscription names no consumer group".into());
            };
            // A group nobody created yet has the default settings (the broker creates it on
            // first use, as it does for remoting consumers).
            let config = broker
                .group(&group.qualified_name())
                .unwrap_or_else(|_| SubscriptionGroupConfig::default());
            ours.backoff_policy = Some(RetryPolicy {
                max_attempts: config.retry_max_times.max(0).saturating_add(1),
                strategy: Some(Strategy::CustomizedBackoff(CustomizedBackoff {
                    next: REDELIVERY_DELAYS_SECS
                        .iter()
                        .map(|s| prost_types::Duration {
                            seconds: *s,
                            nanos: 0,
                        })
                        .collect(),
                })),
            });
            ours.pub_sub = Some(PubSub::Subscription(Subscription {
                fifo: Some(config.consume_message_orderly),
                receive_batch_size: Some(RECEIVE_BATCH_SIZE),
                long_polling_timeout: Some(duration(LONG_POLLING_TIMEOUT)),
                ..s.clone()
            }));
        }
    }
    Ok(ours)
}

fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}
