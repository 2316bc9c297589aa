//! Client registration with brokers: `HEART_BEAT` (34) and `UNREGISTER_CLIENT` (35).
//!
//! Java clients heartbeat every 30 s: to masters only when the process has no consumer, to every
//! broker address of their routes otherwise (§8.1); and unregister once per group at shutdown.

use std::time::Duration;

use ferromq_remoting::body::heartbeat::{HeartbeatData, ProducerData};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::heartbeat::UnregisterClientRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode};
use tracing::debug;

use crate::error::ClientError;
use crate::remote::Remote;
use crate::routes::Routes;

/// The producer group every Java client process registers besides its own.
pub const CLIENT_INNER_PRODUCER: &str = "CLIENT_INNER_PRODUCER";

/// Heartbeat interval of Java clients (`heartbeatBrokerInterval`).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// The producer part of a heartbeat for `group`.
pub(crate) fn producer_data(group: &str) -> Vec<ProducerData> {
    vec![
        ProducerData {
            group_name: CLIENT_INNER_PRODUCER.to_owned(),
        },
        ProducerData {
            group_name: group.to_owned(),
        },
    ]
}

/// Sends `data` to every known broker (masters only when `masters_only`). Failures are logged,
/// not returned: the next tick tries again, and one unreachable broker must not stop the others.
/// Returns how many brokers accepted it.
pub(crate) async fn send_to_brokers(
    remote: &Remote,
    routes: &Routes,
    data: &HeartbeatData,
    masters_only: bool,
    timeout: Duration,
) -> usize {
    let body = data.to_json();
    let mut accepted = 0;
    for addr in routes.broker_addrs(masters_only) {
        let cmd = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.clone());
        match remote.call_ok(&addr, cmd, timeout).await {
            Ok(_) => accepted += 1,
            Err(e) => debug!(broker = %addr, error = %e, "heartbeat failed"),
        }
    }
    accepted
}

/// Unregisters `client_id` from a producer or consumer group on every known broker.
pub(crate) async fn unregister(
    remote: &Remote,
    routes: &Routes,
    header: &UnregisterClientRequestHeader,
    timeout: Duration,
) {
    for addr in routes.broker_addrs(false) {
        let cmd = RemotingCommand::request(RequestCode::UNREGISTER_CLIENT).with_header(header);
        if let Err(e) = remote.call_ok(&addr, cmd, timeout).await {
            log_unregister_failure(&addr, &e);
        }
    }
}

fn log_unregister_failure(addr: &str, e: &ClientError) {
    debug!(broker = %addr, error = %e, "unregister failed");
}
