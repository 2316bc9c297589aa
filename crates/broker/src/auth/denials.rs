//! Logging refused requests without letting a misconfigured or hostile client flood the log: at
//! most [`PER_WINDOW`] lines a [`WINDOW`], then one line counting what was left out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferromq_auth::AuthError;
use parking_lot::Mutex;
use tracing::warn;

const WINDOW: Duration = Duration::from_secs(10);
const PER_WINDOW: u32 = 20;

#[derive(Debug)]
pub(super) struct Denials {
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for Denials {
    fn default() -> Self {
        Self {
            state: Mutex::new(Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            }),
        }
    }
}

impl Denials {
    /// `request` names what was refused: a remoting request code or a gRPC RPC.
    pub(super) fn record(&self, peer: SocketAddr, request: &dyn std::fmt::Display, e: &AuthError) {
        let (log, suppressed_before) = {
            let mut w = self.state.lock();
            let mut earlier = 0;
            if w.started.elapsed() >= WINDOW {
                earlier = w.suppressed;
                *w = Window {
                    started: Instant::now(),
                    logged: 0,
                    suppressed: 0,
                };
            }
            if w.logged < PER_WINDOW {
                w.logged += 1;
                (true, earlier)
            } else {
                w.suppressed += 1;
                (false, earlier)
            }
        };
        if suppressed_before > 0 {
            warn!(
                count = suppressed_before,
                "more requests refused in the last window, not logged one by one"
            );
        }
        if log {
            let kind = if e.is_authentication() {
                "authentication"
            } else {
                "authorization"
            };
            warn!(%peer, %request, check = kind, reason = %e, "request refused");
        }
    }
}
