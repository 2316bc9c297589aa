//! Registration with the name servers: REGISTER_BROKER with the whole topic table to every
//! configured name server at start, every `registerNameServerPeriod`, and whenever the topic table
//! changes; UNREGISTER_BROKER to all of them when the broker stops.

use std::sync::Arc;
use std::time::Duration;

use ferromq_net::ClientPool;
use ferromq_remoting::body::register::RegisterBrokerBody;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::route::{
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use ferromq_remoting::headers::CustomHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::config::BrokerRole;
use crate::state::State;

/// A registration whose JSON is larger than this (a quarter of the default frame limit, about
/// 25,000 topics) goes compressed, so that no topic count breaks registration.
const COMPRESS_ABOVE_BYTES: usize = ferromq_remoting::frame::DEFAULT_MAX_FRAME_LEN / 4;

/// How long one name server may take to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest pause between two registrations caused by topic changes (see [`run`]).
const MAX_CHANGE_PAUSE: Duration = Duration::from_secs(1);

/// Re-registers periodically and on topic changes until `token` is cancelled, then unregisters.
///
/// After a registration, the next one waits as long as that one took (at most
/// [`MAX_CHANGE_PAUSE`]): with a small table that is a millisecond, so a new topic is routed at
/// once; during a burst of thousands of creations the whole table is sent at most half the time,
/// instead of back to back, and the changes meanwhile go in the next one.
pub(crate) async fn run(state: Arc<State>, pool: ClientPool, token: CancellationToken) {
    let mut changes = state.topics.subscribe();
    let mut grpc = state.grpc_endpoint.subscribe();
    // The registration at start went before any gRPC endpoint could be announced: one announced
    // since then is news.
    if grpc.borrow().is_some() {
        grpc.mark_changed();
    }
    let period = Duration::from_millis(state.config.register_name_server_period_ms);
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            () = tokio::time::sleep(period) => {}
            changed = changes.changed() => if changed.is_err() { break },
            // The sender lives in `state`, held here: it cannot close.
            _ = grpc.changed() => {}
        }
        let started = tokio::time::Instant::now();
        register_all(&state, &pool).await;
        let pause = started.elapsed().min(MAX_CHANGE_PAUSE);
        tokio::select! {
            () = token.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    unregister_all(&state, &pool).await;
    pool.shutdown().await;
}

fn register_request(state: &State) -> RemotingCommand {
    let mut topics = state.topics.wrapper();
    if state.role.is_controlled() {
        // As RocketMQ 5: the state version is the master epoch, so that a name server keeps the
        // newest master's registration when an old master's is still alive.
        topics.data_version.state_version = i64::try_from(state.role.epoch()).unwrap_or(i64::MAX);
    }
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: topics,
    };
    let json = body.to_json();
    let compressed = state.config.compressed_register || json.len() > COMPRESS_ABOVE_BYTES;
    let body = if compressed {
        bytes::Bytes::from(body.to_compressed())
    } else {
        json
    };
    let crc = crc32_java(&body);
    let addr = state.advertised;
    RemotingCommand::request(RequestCode::REGISTER_BROKER)
        .with_header(&RegisterBrokerRequestHeader {
            broker_name: state.config.broker_name.clone(),
            broker_addr: addr.to_string(),
            cluster_name: state.config.cluster_name.clone(),
            // Without an HA listener the address is only informative (nobody can follow us).
            ha_server_addr: state.replication.advertised.map_or_else(
                || format!("{}:{}", addr.ip(), addr.port().wrapping_add(1)),
                |a| a.to_string(),
            ),
            broker_id: state.role.namesrv_id(),
            heartbeat_timeout_millis: None,
            enable_acting_master: Some(false),
            compressed,
            body_crc32: crc,
            grpc_addr: state.grpc_endpoint.borrow().map(|a| a.to_string()),
        })
        .with_body(body)
}

/// `UtilAll.crc32`: CRC-32 with the sign bit cleared.
fn crc32_java(bytes: &[u8]) -> i32 {
    let crc = ferromq_model::record::body_crc(bytes);
    i32::try_from(crc).unwrap_or(0)
}

/// Registers with every name server; failures are logged and retried at the next period.
pub(crate) async fn register_all(state: &State, pool: &ClientPool) {
    let mut accepted = 0;
    for addr in &state.config.namesrv_addrs {
        let req = crate::auth::sign_inner(&state.config, register_request(state));
        match pool.request(addr, req, REQUEST_TIMEOUT).await {
            Ok(resp) if resp.response_code() == ResponseCode::SUCCESS => {
                debug!(namesrv = %addr, "registered");
                accepted += 1;
                learn_master(state, &resp);
            }
            Ok(resp) => {
                warn!(namesrv = %addr, code = resp.code, remark = ?resp.remark, "registration refused");
            }
            Err(e) => warn!(namesrv = %addr, error = %e, "registration failed"),
        }
    }
    // Readiness (`/readyz`) wants every name server to know this broker.
    if accepted == state.config.namesrv_addrs.len() {
        let now = u64::try_from(crate::topics::now_ms()).unwrap_or(0);
        state
            .stats
            .registered_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A SLAVE learns its master's broker address (for mirroring topics and offsets) from the name
/// server's answer, and, without `haMasterAddress`, the HA address to follow too.
fn learn_master(state: &State, resp: &RemotingCommand) {
    // Under a controller the master comes from the controllers (`crate::tasks::controller_agent`).
    if state.role.is_controlled() || state.config.broker_role != BrokerRole::Slave {
        return;
    }
    let Ok(h) = RegisterBrokerResponseHeader::from_ext_fields(&resp.ext_fields) else {
        return;
    };
    if let Some(addr) = h.master_addr.filter(|a| !a.is_empty()) {
        *state.replication.master_broker.write() = Some(addr);
    }
    if state.config.ha_master_address.is_some() {
        return;
    }
    let Some(ha) = h.ha_server_addr.filter(|a| !a.is_empty()) else {
        return;
    };
    let mut master = state.replication.master.write();
    if master.as_deref() != Some(ha.as_str()) {
        tracing::info!(master_ha = %ha, "following the master the name server named");
        *master = Some(ha);
    }
}

async fn unregister_all(state: &State, pool: &ClientPool) {
    for addr in &state.config.namesrv_addrs {
        let req = RemotingCommand::request(RequestCode::UNREGISTER_BROKER).with_header(
            &UnregisterBrokerRequestHeader {
                broker_name: state.config.broker_name.clone(),
                broker_addr: state.advertised.to_string(),
                cluster_name: state.config.cluster_name.clone(),
                broker_id: state.role.namesrv_id(),
            },
        );
        // Name servers that authenticate brokers refuse an unsigned unregistration.
        let req = crate::auth::sign_inner(&state.config, req);
        if let Err(e) = pool.request(addr, req, REQUEST_TIMEOUT).await {
            warn!(namesrv = %addr, error = %e, "unregistration failed");
        }
    }
}
