//! The console's JSON API under `/api/`: reads and changes the broker only through
//! [`BrokerService`]. Reads are open; state-changing calls (POST, PUT, DELETE) pass
//! [`BrokerService::console_authorize`] first, with the caller's HTTP Basic credentials
//! (access key : secret key).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine as _;
use ferromq_broker::service::{ConsoleAction, ConsoleCredentials, ResetTarget};
use ferromq_broker::BrokerService;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api_error::ApiError;
use crate::charts::Charts;
use crate::routes::{AppState, Shared};
use crate::Target;

type ApiResult = Result<Response, ApiError>;

/// The API's routes, nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cluster", get(cluster))
        .route("/topics", get(topics).post(create_topic))
        .route("/topics/{topic}", put(update_topic).delete(delete_topic))
        .route("/groups", get(groups))
        .route("/groups/{group}", get(group))
        .route("/groups/{group}/reset", post(reset_offsets))
        .route("/messages/by-key", get(by_key))
        .route("/messages/by-id", get(by_id))
        .route("/messages/by-time", get(by_time))
        .route("/trace/{msg_id}", get(trace))
        .route("/dlq/{group}", get(dead_letters))
        .route("/dlq/{group}/resend", post(resend))
        .route("/stuck", get(stuck))
        .route("/charts", get(charts))
        .fallback(|| async { ApiError::not_found("no such API path") })
}

fn json(value: &impl Serialize) -> ApiResult {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The broker this listener serves.
fn broker(shared: &Shared) -> Result<BrokerService, ApiError> {
    match &*shared.read() {
        Target::Broker(s) => Ok(s.clone()),
        Target::Process => Err(ApiError::not_found(
            "this process is not a broker: the console API serves brokers only",
        )),
    }
}

/// Runs a call that reads the store off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("request failed: {e}")))?
}

/// Percent-decoded query parameters (last one wins).
fn query(raw: Option<String>) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    for pair in raw
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k)?, percent_decode(v)?);
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request(format!("malformed query string near {s:?}"));
    let raw = s.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn required<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    q.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("query parameter {name} is required")))
}

fn number<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    q.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("{name} is not a valid number: {v:?}")))
        })
        .transpose()
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

/// HTTP Basic credentials, when the request has any.
fn credentials(headers: &HeaderMap) -> Result<Option<ConsoleCredentials>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || ApiError {
        status: axum::http::StatusCode::UNAUTHORIZED,
        message: "malformed Authorization header: expected Basic base64(accessKey:secretKey)"
            .into(),
    };
    let value = value.to_str().map_err(|_| bad())?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(bad)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (access_key, secret_key) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some(ConsoleCredentials {
        access_key: access_key.to_owned(),
        secret_key: secret_key.to_owned(),
    }))
}

/// Admits a state-changing call or refuses it with 401/403.
fn authorize(
    service: &BrokerService,
    headers: &HeaderMap,
    peer: SocketAddr,
    action: &ConsoleAction,
) -> Result<(), ApiError> {
    let caller = credentials(headers)?;
    Ok(service.console_authorize(action, caller.as_ref(), peer.ip())?)
}

async fn cluster(State(shared): State<Shared>, State(charts): State<Arc<Charts>>) -> ApiResult {
    let service = broker(&shared)?;
    let overview = service.console_broker();
    let latest = charts.latest();
    // The other brokers as they describe themselves; the page still shows this one when the name
    // servers cannot be asked.
    let (peers, peers_error) = match service.console_peers().await {
        Ok(p) => (p, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    json(&serde_json::json!({
        "brokers": [{
            "broker": overview,
            "tpsIn": latest.map_or(0.0, |p| p.tps_in),
            "tpsOut": latest.map_or(0.0, |p| p.tps_out),
        }],
        "peers": peers,
        "peersError": peers_error,
        "authRequired": service.console_auth_required(),
    }))
}

async fn topics(
    State(shared): State<Shared>,
    State(charts): State<Arc<Charts>>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let service = broker(&shared)?;
    let q = query(raw)?;
    let with_system = q.get("system").is_some_and(|v| v == "true");
    let list = blocking(move || Ok(service.console_topics())).await?;
    let rates = charts.topic_rates();
    let out: Vec<serde_json::Value> = list
        .into_iter()
        .filter(|t| with_system || !t.system)
        .map(|t| {
            let r = rates.get(&t.topic).copied().unwrap_or_default();
            let mut v = serde_json::to_value(&t).unwrap_or_default();
            v["tpsIn"] = r.tps_in.into();
            v["tpsOut"] = r.tps_out.into();
            v
        })
        .collect();
    json(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewTopic {
    topic: String,
    #[serde(default = "default_queues")]
    queues: i32,
    #[serde(default = "default_type")]
    message_type: String,
}

fn default_queues() -> i32 {
    4
}

fn default_type() -> String {
    "NORMAL".into()
}

async fn create_topic(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    let service = broker(&shared)?;
    let t: NewTopic = body(&raw)?;
    authorize(
        &service,
        &headers,
        peer,
        &ConsoleAction::UpdateTopic {
            topic: t.topic.clone(),
        },
    )?;
    service.console_create_topic(&t.topic, t.queues, &t.message_type)?;
    json(&serde_json::json!({ "created": t.topic }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueCount {
    queues: i32,
}

async fn update_topic(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    let service = broker(&shared)?;
    let c: QueueCount = body(&raw)?;
    authorize(
        &service,
        &headers,
        peer,
        &ConsoleAction::UpdateTopic {
            topic: topic.clone(),
        },
    )?;
    service.console_set_queue_count(&topic, c.queues)?;
    json(&serde_json::json!({ "updated": topic, "queues": c.queues }))
}

async fn delete_topic(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(topic): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let service = broker(&shared)?;
    authorize(
        &service,
        &headers,
        peer,
        &ConsoleAction::DeleteTopic {
            topic: topic.clone(),
        },
    )?;
    // Checked first: deleting a topic that is not there would quietly succeed.
    service.topic(&topic)?;
    let t = topic.clone();
    blocking(move || Ok(service.delete_topic(&t)?)).await?;
    json(&serde_json::json!({ "deleted": topic }))
}

async fn groups(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let service = broker(&shared)?;
    let with_system = query(raw)?.get("system").is_some_and(|v| v == "true");
    json(&blocking(move || Ok(service.console_groups(with_system))).await?)
}

async fn group(State(shared): State<Shared>, Path(group): Path<String>) -> ApiResult {
    let service = broker(&shared)?;
    json(&blocking(move || Ok(service.console_group(&group)?)).await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Reset {
    topic: String,
    /// Ms since the epoch; absent with `to_end`.
    timestamp: Option<i64>,
    #[serde(default)]
    to_end: bool,
}

async fn reset_offsets(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(group): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    let service = broker(&shared)?;
    let r: Reset = body(&raw)?;
    let target = match (r.timestamp, r.to_end) {
        (None, true) => ResetTarget::End,
        (Some(t), false) => ResetTarget::Time(t),
        _ => {
            return Err(ApiError::bad_request(
                "give either a timestamp (ms since the epoch) or toEnd: true",
            ))
        }
    };
    authorize(
        &service,
        &headers,
        peer,
        &ConsoleAction::ResetOffset {
            group: group.clone(),
            topic: r.topic.clone(),
        },
    )?;
    let moved = service
        .console_reset_offsets(&group, &r.topic, target)
        .await?;
    json(&serde_json::json!({ "group": group, "topic": r.topic, "offsets": moved }))
}

async fn by_key(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let service = broker(&shared)?;
    let q = query(raw)?;
    let topic = required(&q, "topic")?.to_owned();
    let key = required(&q, "key")?.to_owned();
    json(&blocking(move || Ok(service.console_by_key(&topic, &key)?)).await?)
}

async fn by_id(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let service = broker(&shared)?;
    let q = query(raw)?;
    let id = required(&q, "id")?.to_owned();
    let topic = q.get("topic").filter(|t| !t.is_empty()).cloned();
    json(&blocking(move || Ok(service.console_by_id(&id, topic.as_deref())?)).await?)
}

async fn by_time(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let service = broker(&shared)?;
    let q = query(raw)?;
    let topic = required(&q, "topic")?.to_owned();
    let queue: i32 = number(&q, "queue")?
        .ok_or_else(|| ApiError::bad_request("query parameter queue is required"))?;
    let begin: i64 = number(&q, "begin")?
        .ok_or_else(|| ApiError::bad_request("query parameter begin is required"))?;
    let end: i64 = number(&q, "end")?
        .ok_or_else(|| ApiError::bad_request("query parameter end is required"))?;
    let max: usize = number(&q, "max")?.unwrap_or(32);
    json(&blocking(move || Ok(service.console_by_time(&topic, queue, begin, end, max)?)).await?)
}

async fn trace(State(shared): State<Shared>, Path(msg_id): Path<String>) -> ApiResult {
    let service = broker(&shared)?;
    json(&blocking(move || Ok(service.console_trace(&msg_id)?)).await?)
}

async fn dead_letters(
    State(shared): State<Shared>,
    Path(group): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let service = broker(&shared)?;
    let from: Option<u64> = number(&query(raw)?, "from")?;
    json(&blocking(move || Ok(service.console_dead_letters(&group, from)?)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resend {
    /// Queue offset in the dead-letter queue; absent: all.
    offset: Option<u64>,
}

async fn resend(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(group): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult {
    let service = broker(&shared)?;
    let r: Resend = if raw.is_empty() {
        Resend { offset: None }
    } else {
        body(&raw)?
    };
    authorize(
        &service,
        &headers,
        peer,
        &ConsoleAction::ResendDeadLetters {
            group: group.clone(),
        },
    )?;
    let done = service
        .console_resend_dead_letters(&group, r.offset)
        .await?;
    json(&done)
}

async fn stuck(State(shared): State<Shared>) -> ApiResult {
    let service = broker(&shared)?;
    json(&blocking(move || Ok(service.console_stuck_queues())).await?)
}

async fn charts(State(shared): State<Shared>, State(charts): State<Arc<Charts>>) -> ApiResult {
    broker(&shared)?;
    json(&serde_json::json!({
        "intervalMs": u64::try_from(crate::charts::INTERVAL.as_millis()).unwrap_or(u64::MAX),
        "points": charts.points(),
    }))
}

impl FromRef<AppState> for Arc<Charts> {
    fn from_ref(s: &AppState) -> Self {
        s.charts.clone()
    }
}
