//! Path → answer: the probes and metrics here, the console's pages (`crate::console`) and its
//! JSON API (`crate::api`). Anything else is a 404 (axum's fallback), a wrong method a 405.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parking_lot::RwLock;

use crate::charts::Charts;
use crate::exposition::{Exposition, Kind, CONTENT_TYPE};
use crate::process::ProcessStats;
use crate::{broker_metrics, Target};

/// What the handlers read, swappable while serving (see `HttpHandle::serve`).
pub type Shared = Arc<RwLock<Target>>;

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub target: Shared,
    pub charts: Arc<Charts>,
}

impl FromRef<AppState> for Shared {
    fn from_ref(s: &AppState) -> Self {
        s.target.clone()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::console::router())
        .nest("/api", crate::api::router())
        .fallback(not_found)
        .with_state(state)
}

async fn metrics(State(target): State<Shared>) -> Response {
    let target = target.read().clone();
    let mut e = Exposition::default();
    if let Target::Broker(service) = &target {
        // Lag reads one message per lagging queue from the store: off the async workers.
        let service = service.clone();
        match tokio::task::spawn_blocking(move || service.metrics()).await {
            Ok(snapshot) => broker_metrics::write(&mut e, &snapshot),
            Err(err) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("collecting metrics failed: {err}\n"),
                )
                    .into_response()
            }
        }
    }
    write_process(&mut e);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], e.finish()).into_response()
}

fn write_process(e: &mut Exposition) {
    let p = ProcessStats::read();
    if let Some(cpu) = p.cpu_seconds {
        e.family(
            "process_cpu_seconds_total",
            "User and system CPU time of the process, in seconds.",
            Kind::Counter,
        );
        e.sample("process_cpu_seconds_total", &[], cpu);
    }
    #[allow(clippy::cast_precision_loss)] // sizes stay far below 2^53
    if let Some(rss) = p.resident_bytes {
        e.family(
            "process_resident_memory_bytes",
            "Resident memory of the process, in bytes.",
            Kind::Gauge,
        );
        e.sample("process_resident_memory_bytes", &[], rss as f64);
    }
    #[allow(clippy::cast_precision_loss)]
    if let Some(fds) = p.open_fds {
        e.family(
            "process_open_fds",
            "Open file descriptors of the process.",
            Kind::Gauge,
        );
        e.sample("process_open_fds", &[], fds as f64);
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(target): State<Shared>) -> Response {
    let target = target.read().clone();
    match &target {
        Target::Broker(service) => match service.readiness() {
            Ok(()) => "ready\n".into_response(),
            Err(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            )
                .into_response(),
        },
        Target::Process => "ready\n".into_response(),
    }
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found: this listener serves /metrics, /healthz, /readyz, /console/ and /api/\n",
    )
}
