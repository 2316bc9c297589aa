//! A replica mirrors its master's topic table, consumer offsets, delay-level progress and message
//! request modes (RocketMQ's slave synchronisation), so consumers can pull from it with the
//! master's topics and resume from the offsets they committed on the master, and, promoted, it
//! delivers delayed messages from where the master was and assigns queues in the same modes.
//! With `innerClientAuthenticationCredentials` set it also mirrors the master's users and ACLs
//! (`crate::auth::mirror`), so it enforces the same users, before and after a promotion.

use std::sync::Arc;
use std::time::Duration;

use ferromq_net::{ClientConfig, ClientPool};
use ferromq_remoting::body::register::TopicConfigSerializeWrapper;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::auth::{mirror::GET_AUTH_METADATA, Guard};
use crate::state::State;

/// How often the replica asks (RocketMQ: every 10 s; two small requests, so more often is cheap).
const PERIOD: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Mirrors the master named by the name servers until `token` is cancelled.
pub(crate) async fn mirror(state: Arc<State>, guard: Arc<Guard>, token: CancellationToken) {
    let pool = ClientPool::new(ClientConfig {
        tls: state.outgoing_tls.clone(),
        ..ClientConfig::default()
    });
    loop {
        let master = state.replication.master_broker.read().clone();
        if let Some(addr) = master {
            if let Err(e) = mirror_once(&state, &pool, &addr).await {
                warn!(master = %addr, error = %e, "mirroring the master's topics and offsets failed");
            }
            if let Err(e) = mirror_auth(&state, &guard, &pool, &addr).await {
                warn!(master = %addr, error = %e, "mirroring the master's users and ACLs failed");
            }
        }
        tokio::select! {
            () = token.cancelled() => break,
            () = tokio::time::sleep(PERIOD) => {}
        }
    }
    pool.shutdown().await;
}

async fn fetch(
    state: &State,
    pool: &ClientPool,
    addr: &str,
    code: RequestCode,
) -> Result<Vec<u8>, String> {
    let req = crate::auth::sign_inner(&state.config, RemotingCommand::request(code));
    let resp = pool
        .request(addr, req, REQUEST_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if resp.response_code() != ResponseCode::SUCCESS {
        return Err(format!(
            "{code:?} answered {}: {:?}",
            resp.code, resp.remark
        ));
    }
    Ok(resp.body.map(|b| b.to_vec()).unwrap_or_default())
}

async fn mirror_once(state: &State, pool: &ClientPool, addr: &str) -> Result<(), String> {
    let topics = fetch(state, pool, addr, RequestCode::GET_ALL_TOPIC_CONFIG).await?;
    let wrapper = TopicConfigSerializeWrapper::from_json(&topics).map_err(|e| e.to_string())?;
    for (name, config) in wrapper.topic_config_table {
        if state.topics.get(&name).as_ref() != Some(&config) {
            debug!(topic = %name, "topic mirrored from the master");
            state.topics.upsert(config).map_err(|e| e.to_string())?;
        }
    }
    let offsets = fetch(state, pool, addr, RequestCode::GET_ALL_CONSUMER_OFFSET).await?;
    state
        .offsets
        .replace_from_json(&offsets)
        .map_err(|e| e.to_string())?;
    let delays = fetch(state, pool, addr, RequestCode::GET_ALL_DELAY_OFFSET).await?;
    crate::schedule::mirror_delay_offsets(&state.config, &delays).map_err(|e| e.to_string())?;
    let modes = fetch(state, pool, addr, RequestCode::GET_ALL_MESSAGE_REQUEST_MODE).await?;
    state
        .request_modes
        .replace_from_json(&modes)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Copies the master's users and ACLs. Only with inner credentials: the master answers a super
/// user's signed request alone, and a group without ACL has nothing to copy.
async fn mirror_auth(
    state: &State,
    guard: &Guard,
    pool: &ClientPool,
    addr: &str,
) -> Result<(), String> {
    if state
        .config
        .inner_client_authentication_credentials
        .is_none()
    {
        return Ok(());
    }
    let body = fetch(state, pool, addr, GET_AUTH_METADATA).await?;
    let registry = ferromq_auth::Registry::from_json(&body)?;
    let users = registry.users.len();
    if guard.replace(registry)? {
        info!(users, "users and ACLs mirrored from the master");
    }
    Ok(())
}
