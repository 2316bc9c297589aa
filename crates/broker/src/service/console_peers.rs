//! The console's view of the other brokers of this broker's cluster: the name servers say who
//! they are (GET_BROKER_CLUSTER_INFO), each one says how it is (GET_BROKER_RUNTIME_INFO), as
//! Apache's dashboard asks them. Works with any broker that answers those requests, ferromq's or
//! Apache's; one that does not answer is listed with the error.

use std::time::Duration;

use ferromq_net::{ClientConfig, ClientPool};
use ferromq_remoting::body::lists::KvTable;
use ferromq_remoting::body::route::ClusterInfo;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use serde::Serialize;

use super::BrokerService;

/// How long one name server or broker gets to answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(3);

/// Another broker of the cluster.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerBroker {
    pub cluster: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub addr: String,
    /// `ASYNC_MASTER`, `SYNC_MASTER`, `SLAVE`, as the broker reports it; empty when unreachable.
    pub role: String,
    pub epoch: u64,
    pub log_bytes: u64,
    /// Messages stored and delivered per second, as the broker reports them.
    pub tps_in: f64,
    pub tps_out: f64,
    pub version: String,
    pub started_ms: i64,
    pub topics: u64,
    /// Why the broker could not be asked; `None` when it answered.
    pub error: Option<String>,
}

/// Why the cluster could not be listed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no name server answered GET_BROKER_CLUSTER_INFO: {0}")]
pub struct PeersUnavailable(pub String);

impl BrokerService {
    /// The other brokers of this broker's cluster, each with its runtime info (in name, id order).
    ///
    /// # Errors
    /// No name server gave the cluster's members.
    pub async fn console_peers(&self) -> Result<Vec<PeerBroker>, PeersUnavailable> {
        let s = &*self.state;
        let pool = ClientPool::new(ClientConfig {
            tls: s.outgoing_tls.clone(),
            ..ClientConfig::default()
        });
        let result = self.peers_with(&pool).await;
        pool.shutdown().await;
        result
    }

    async fn peers_with(&self, pool: &ClientPool) -> Result<Vec<PeerBroker>, PeersUnavailable> {
        let s = &*self.state;
        let info = self.cluster_info(pool).await?;
        let me = s.advertised.to_string();
        let cluster = &s.config.cluster_name;
        let members: Vec<(String, i64, String)> = info
            .cluster_addr_table
            .get(cluster)
            .into_iter()
            .flatten()
            .filter_map(|name| info.broker_addr_table.get(name))
            .flat_map(|b| {
                b.broker_addrs
                    .iter()
                    .map(|(id, addr)| (b.broker_name.clone(), *id, addr.clone()))
            })
            .filter(|(_, _, addr)| *addr != me)
            .collect();
        let asks = members.into_iter().map(|(name, id, addr)| async move {
            let mut peer = PeerBroker {
                cluster: cluster.clone(),
                broker_name: name,
                broker_id: id,
                addr,
                ..PeerBroker::default()
            };
            match self.runtime_info(pool, &peer.addr).await {
                Ok(table) => fill(&mut peer, &table),
                Err(e) => peer.error = Some(e),
            }
            peer
        });
        let mut peers = futures_util::future::join_all(asks).await;
        peers.sort_by(|a, b| (&a.broker_name, a.broker_id).cmp(&(&b.broker_name, b.broker_id)));
        Ok(peers)
    }

    /// The first name server's answer to GET_BROKER_CLUSTER_INFO.
    async fn cluster_info(&self, pool: &ClientPool) -> Result<ClusterInfo, PeersUnavailable> {
        let s = &*self.state;
        let mut last = String::from("no name server configured");
        for ns in &s.config.namesrv_addrs {
            let req = crate::auth::sign_inner(
                &s.config,
                RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
            );
            match pool.request(ns, req, PEER_TIMEOUT).await {
                Ok(resp) if resp.response_code() == ResponseCode::SUCCESS => {
                    match resp.body.as_deref().map(ClusterInfo::from_json) {
                        Some(Ok(info)) => return Ok(info),
                        Some(Err(e)) => last = format!("{ns}: unreadable cluster info: {e}"),
                        None => last = format!("{ns}: empty answer"),
                    }
                }
                Ok(resp) => last = format!("{ns}: code {} {:?}", resp.code, resp.remark),
                Err(e) => last = format!("{ns}: {e}"),
            }
        }
        Err(PeersUnavailable(last))
    }

    async fn runtime_info(&self, pool: &ClientPool, addr: &str) -> Result<KvTable, String> {
        let req = crate::auth::sign_inner(
            &self.state.config,
            RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO),
        );
        let resp = pool
            .request(addr, req, PEER_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(format!(
                "code {}: {}",
                resp.code,
                resp.remark.unwrap_or_default()
            ));
        }
        KvTable::from_json(resp.body.as_deref().unwrap_or_default())
            .map_err(|e| format!("unreadable runtime info: {e}"))
    }
}

/// Copies what the console shows from a broker's runtime info table.
fn fill(peer: &mut PeerBroker, table: &KvTable) {
    let get = |k: &str| table.table.get(k).map(String::as_str).unwrap_or_default();
    let int = |k: &str| get(k).trim().parse::<i64>().unwrap_or(0);
    // `putTps` is "<10 s> <60 s> <600 s>": the first is the recent rate.
    let rate = |k: &str| {
        get(k)
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    peer.role = get("brokerRole").to_owned();
    peer.epoch = u64::try_from(int("masterEpoch")).unwrap_or(0);
    peer.log_bytes =
        u64::try_from(int("commitLogMaxOffset") - int("commitLogMinOffset")).unwrap_or(0);
    peer.tps_in = rate("putTps");
    peer.tps_out = rate("getTransferredTps");
    peer.version = get("brokerVersionDesc").to_owned();
    peer.started_ms = int("bootTimestamp");
    peer.topics = u64::try_from(int("topicCount")).unwrap_or(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_info_fills_what_the_console_shows_and_tolerates_missing_or_odd_values() {
        let table = KvTable::from_json(
            br#"{"table":{"brokerRole":"SLAVE","masterEpoch":"3","commitLogMaxOffset":"5000",
            "commitLogMinOffset":"1000","putTps":"12.5 10.0 8.0","getTransferredTps":"x",
            "brokerVersionDesc":"V5_3_3","bootTimestamp":"1700000000000","topicCount":"7"}}"#,
        )
        .expect("table");
        let mut p = PeerBroker::default();
        fill(&mut p, &table);
        assert_eq!(p.role, "SLAVE");
        assert_eq!(p.epoch, 3);
        assert_eq!(p.log_bytes, 4000);
        assert!((p.tps_in - 12.5).abs() < f64::EPSILON);
        assert!(p.tps_out.abs() < f64::EPSILON);
        assert_eq!(p.version, "V5_3_3");
        assert_eq!(p.started_ms, 1_700_000_000_000);
        assert_eq!(p.topics, 7);
        let mut q = p.clone();
        fill(&mut q, &KvTable::default());
        assert_eq!((q.role.as_str(), q.log_bytes, q.topics), ("", 0, 0));
    }
}
