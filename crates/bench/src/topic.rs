//! The bench topic: used as it is when the name servers know it, otherwise created on every
//! master of every cluster with the asked queue count, the way `mqadmin updateTopic -c` does.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::ClientError;
use ferromq_remoting::body::route::TopicRouteData;
use ferromq_remoting::ResponseCode;
use tracing::{info, warn};

use crate::access::Access;

/// How long the new topic may take to appear in the name servers' routes (brokers re-register
/// as soon as their topic table changes, so this is normally milliseconds).
const ROUTE_WAIT: Duration = Duration::from_secs(15);
const ROUTE_POLL: Duration = Duration::from_millis(20);

/// Makes sure `topic` exists; returns its readable queue count over all brokers.
pub async fn ensure(
    namesrv_addrs: &[String],
    access: &Access,
    topic: &str,
    queues: u32,
) -> Result<u32> {
    let admin = Admin::start_signed(
        AdminConfig {
            namesrv_addrs: namesrv_addrs.to_vec(),
            tls: access.tls.clone(),
            ..AdminConfig::default()
        },
        access.credentials.clone(),
    )
    .await?;
    let result = ensure_with(&admin, topic, queues).await;
    admin.shutdown().await;
    match result {
        Err(e) if access.credentials.is_none() && refused(&e) => Err(e.context(
            "the broker refused an unsigned request: it has authentication on; pass \
             --access-key and --secret-key",
        )),
        other => other,
    }
}

/// Whether a broker answered NO_PERMISSION somewhere in `error`'s chain.
fn refused(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<ClientError>()
            .is_some_and(|e| e.code() == Some(ResponseCode::NO_PERMISSION))
    })
}

async fn ensure_with(admin: &Admin, topic: &str, queues: u32) -> Result<u32> {
    match admin.topic_route(topic).await {
        Ok(route) => {
            let existing = read_queues(&route);
            if existing != queues {
                warn!(
                    topic,
                    existing,
                    asked = queues,
                    "the topic exists; using its queues as they are"
                );
            }
            return Ok(existing);
        }
        Err(e) if e.code() == Some(ResponseCode::TOPIC_NOT_EXIST) => {}
        Err(e) => return Err(e).with_context(|| format!("looking up the route of {topic}")),
    }
    let info = admin
        .cluster_info()
        .await
        .context("listing the clusters to create the topic on")?;
    if info.cluster_addr_table.is_empty() {
        bail!("the name servers know no broker to create {topic} on");
    }
    let spec = TopicSpec {
        read_queue_nums: queues,
        write_queue_nums: queues,
        ..TopicSpec::new(topic)
    };
    let mut brokers = 0;
    for cluster in info.cluster_addr_table.keys() {
        let written = admin
            .create_topic(cluster, &spec)
            .await
            .with_context(|| format!("creating {topic} in cluster {cluster}"))?;
        brokers += written.len();
    }
    info!(topic, queues, brokers, "created the topic");
    let deadline = tokio::time::Instant::now() + ROUTE_WAIT;
    loop {
        if let Ok(route) = admin.topic_route(topic).await {
            let readable = read_queues(&route);
            if readable > 0 {
                return Ok(readable);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{topic} was created but has no route after {ROUTE_WAIT:?}");
        }
        tokio::time::sleep(ROUTE_POLL).await;
    }
}

fn read_queues(route: &TopicRouteData) -> u32 {
    route
        .queue_datas
        .iter()
        .map(|q| u32::try_from(q.read_queue_nums).unwrap_or(0))
        .sum()
}
