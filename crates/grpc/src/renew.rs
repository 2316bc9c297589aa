//! Invisible-time renewal for push consumers (`auto_renew`): a push client receives a message and
//! hands it to its listener, which may run for longer than any fixed invisible time. As Apache's
//! proxy does, the endpoint keeps the receipt handles of such deliveries and extends their
//! invisible time shortly before it ends, for as long as the client lives, up to a maximum.
//!
//! - Renewal stops when the client acks the message, changes its invisible time, forwards it to the
//!   DLQ (each through the handle it received: the endpoint answers for the handle a renewal
//!   replaced), says goodbye (NotifyClientTermination: its messages become visible again at once),
//!   or its session is gone (no telemetry stream and no heartbeat for the session expiry).
//! - Past the maximum renewal time the endpoint gives up on the delivery as the client would on a
//!   failure (Apache's proxy does the same): its invisible time becomes the group's backoff for
//!   that attempt, after which it is delivered again, to this client or another one of the group.
//!
//! A renewal changes the broker's handle, so the map is keyed by the handle the client holds.
//! Renewals run under the map's lock, so an ack never races a renewal of the same message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferromq_broker::BrokerService;
use parking_lot::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::current::CurrentBroker;
use crate::sessions::Sessions;
use crate::telemetry::redelivery_delay;

/// How push consumers' invisible time is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewConfig {
    /// The invisible time of a push delivery, and of each renewal (Apache's `renewSliceTimeMillis`).
    pub slice: Duration,
    /// A delivery is renewed once less than this is left of its invisible time.
    pub ahead: Duration,
    /// How often deliveries are looked at.
    pub period: Duration,
    /// No renewal past this time since the message was received (Apache's `renewMaxTimeMillis`).
    pub max: Duration,
}

impl Default for RenewConfig {
    /// Apache's proxy defaults.
    fn default() -> Self {
        RenewConfig {
            slice: Duration::from_secs(60),
            ahead: Duration::from_secs(10),
            period: Duration::from_secs(1),
            max: Duration::from_secs(3 * 60 * 60),
        }
    }
}

/// A push delivery being kept invisible.
#[derive(Debug)]
struct Held {
    client: String,
    group: String,
    topic: String,
    /// The broker's handle now (the client holds the one it received, the map's key).
    current: String,
    /// The delivery attempt (1 for the first), for the backoff past the maximum.
    attempt: u32,
    invisible_until: Instant,
    received: Instant,
}

/// The push deliveries of every client.
#[derive(Debug)]
pub(crate) struct Renewals {
    config: RenewConfig,
    held: Mutex<HashMap<String, Held>>,
}

impl Renewals {
    pub(crate) fn new(config: RenewConfig) -> Self {
        Renewals {
            config,
            held: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn config(&self) -> RenewConfig {
        self.config
    }

    /// Keeps a push delivery (received just now with `slice` as its invisible time) invisible.
    pub(crate) fn hold(&self, client: &str, group: &str, topic: &str, handle: &str, attempt: u32) {
        let now = Instant::now();
        self.held.lock().insert(
            handle.to_owned(),
            Held {
                client: client.to_owned(),
                group: group.to_owned(),
                topic: topic.to_owned(),
                current: handle.to_owned(),
                attempt,
                invisible_until: now + self.config.slice,
                received: now,
            },
        );
    }

    /// Stops renewing the delivery the client knows as `handle`, and calls `f` with the broker's
    /// handle for it now (the same when it was never renewed) while no renewal can change it.
    pub(crate) fn settle<T>(&self, handle: &str, f: impl FnOnce(&str) -> T) -> T {
        let mut held = self.held.lock();
        match held.remove(handle) {
            Some(h) => f(&h.current),
            None => f(handle),
        }
    }

    /// A client said goodbye: its deliveries become visible again at once (its listener will not
    /// finish them), so another consumer of the group gets them.
    pub(crate) fn release_client(&self, broker: &BrokerService, client: &str) {
        let mut held = self.held.lock();
        let gone: Vec<String> = held
            .iter()
            .filter(|(_, h)| h.client == client)
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            if let Some(h) = held.remove(&key) {
                if let Err(e) = broker.change_invisible(
                    &h.group,
                    &h.topic,
                    &h.current,
                    Duration::from_millis(1),
                ) {
                    tracing::debug!(error = %e, client, "released delivery already settled");
                }
            }
        }
    }

    /// One pass: renews what ends within `ahead`, backs off and forgets what is past `max`, forgets
    /// what belongs to a client whose session is gone and what the broker no longer knows (acked
    /// through another path, expired).
    fn renew_due(&self, broker: &BrokerService, sessions: &Sessions) {
        let now = Instant::now();
        let mut held = self.held.lock();
        held.retain(|_, h| {
            if !sessions.is_alive(&h.client) {
                tracing::debug!(client = %h.client, "push client gone; renewal stops");
                return false;
            }
            if h.invisible_until.saturating_duration_since(now) > self.config.ahead {
                return true;
            }
            if now.duration_since(h.received) >= self.config.max {
                let backoff = redelivery_delay(h.attempt);
                tracing::info!(client = %h.client, group = %h.group, ?backoff, "maximum renewal time reached; the message will be delivered again after its backoff");
                if let Err(e) = broker.change_invisible(&h.group, &h.topic, &h.current, backoff) {
                    tracing::debug!(error = %e, "backoff refused; the delivery was settled meanwhile");
                }
                return false;
            }
            match broker.change_invisible(&h.group, &h.topic, &h.current, self.config.slice) {
                Ok(renewed) => {
                    h.current = renewed;
                    h.invisible_until = now + self.config.slice;
                    true
                }
                Err(e) => {
                    tracing::debug!(error = %e, "renewal refused; the delivery is no longer held");
                    false
                }
            }
        });
    }

    /// Renews every `period` until `token` is cancelled.
    pub(crate) async fn run(
        self: Arc<Self>,
        broker: CurrentBroker,
        sessions: Arc<Sessions>,
        token: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.config.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => self.renew_due(&broker.get(), &sessions),
            }
        }
    }
}
