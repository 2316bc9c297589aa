//! One server at a time: a name server or a broker on 127.0.0.1:0, and the wait until a broker is
//! registered with a name server.

use std::path::Path;
use std::time::Duration;

use ferromq_broker::{Broker, BrokerConfig, BrokerHandle};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::json::JsonBody;
use ferromq_remoting::body::route::ClusterInfo;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::net::TcpListener;

use crate::eventually::{eventually, DEFAULT_DEADLINE};

/// A broker configuration for tests: its data under `dir/store`, registering with `namesrv_addrs`,
/// with small commit-log files so that temporary folders stay small.
#[must_use]
pub fn broker_config(dir: &Path, namesrv_addrs: &[String]) -> BrokerConfig {
    BrokerConfig {
        namesrv_addrs: namesrv_addrs.to_vec(),
        store_root_dir: dir.join("store"),
        commit_log_file_size: 8 << 20,
        ..BrokerConfig::default()
    }
}

/// A name server with the default configuration (KV config in memory) on an ephemeral port.
///
/// # Panics
/// When it cannot bind or start.
pub async fn start_name_server() -> NameServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ns");
    NameServer::start(NameServerConfig::default(), listener).expect("ns starts")
}

/// A broker with `config` on an ephemeral port, returned once every name server of its
/// configuration lists it.
///
/// # Panics
/// When it cannot bind or start, or is not registered within [`DEFAULT_DEADLINE`].
pub async fn start_broker(config: BrokerConfig) -> BrokerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind broker");
    let namesrv_addrs = config.namesrv_addrs.clone();
    let name = config.broker_name.clone();
    let broker = Broker::start(config, listener)
        .await
        .expect("broker starts");
    for ns in &namesrv_addrs {
        wait_registered(ns, &name, &broker).await;
    }
    broker
}

/// Waits until the name server at `namesrv` lists `broker` (by its advertised address) in the group
/// `broker_name`: what a client needs to find it.
///
/// # Panics
/// When that takes longer than [`DEFAULT_DEADLINE`].
pub async fn wait_registered(namesrv: &str, broker_name: &str, broker: &BrokerHandle) {
    let addr = broker.advertised_addr().to_string();
    let what = format!("{broker_name} ({addr}) registered with {namesrv}");
    eventually(DEFAULT_DEADLINE, &what, || async {
        let info = cluster_info(namesrv).await?;
        info.broker_addr_table
            .get(broker_name)?
            .broker_addrs
            .values()
            .any(|a| *a == addr)
            .then_some(())
    })
    .await;
}

/// The name server's `GET_BROKER_CLUSTER_INFO` answer; `None` while it cannot give one.
async fn cluster_info(namesrv: &str) -> Option<ClusterInfo> {
    let client = Client::connect(namesrv.to_owned(), ClientConfig::default())
        .await
        .ok()?;
    let resp = client
        .request(
            RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
            Duration::from_secs(3),
        )
        .await
        .ok()?;
    if resp.response_code() != ResponseCode::SUCCESS {
        return None;
    }
    ClusterInfo::from_json(resp.body.as_deref()?).ok()
}
