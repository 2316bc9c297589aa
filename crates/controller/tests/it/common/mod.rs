//! Test harness: controllers in-process on 127.0.0.1:0 with temporary data directories, and
//! simulated brokers that heartbeat through a real `ControllerClient`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_controller::client::ClientOptions;
use ferromq_controller::protocol::{read_replica_info, HeartbeatRequest, RegisterRequest};
use ferromq_controller::{
    Controller, ControllerClient, ControllerConfig, ControllerHandle, Peer, ReplicaInfo,
};
use ferromq_net::{ConnectionConfig, Handler, RequestContext, ServerHandle};
use ferromq_remoting::{RemotingCommand, RequestCode};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const GROUP: &str = "broker-a";
pub const CLUSTER: &str = "DefaultCluster";

/// Polls `cond` until it holds; panics with `what` after `deadline`.
pub async fn wait_until(what: &str, deadline: Duration, cond: impl FnMut() -> bool) {
    ferromq_testkit::eventually_holds(deadline, what, cond).await;
}

/// Raft timings short enough for tests; the master timeout and check interval are the production
/// defaults, so the failover times the tests print are what a deployment sees.
pub fn test_config() -> ControllerConfig {
    ControllerConfig {
        master_timeout: Duration::from_secs(3),
        check_interval: Duration::from_millis(500),
        raft_heartbeat_interval: Duration::from_millis(50),
        raft_election_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(1500),
        ..ControllerConfig::default()
    }
}

/// A group of controllers; slots of stopped ones are `None`.
pub struct Cluster {
    pub dirs: Vec<tempfile::TempDir>,
    pub addrs: Vec<SocketAddr>,
    pub peers: Vec<Peer>,
    pub nodes: Vec<Option<ControllerHandle>>,
    pub base: ControllerConfig,
    pub brokers: FakeBrokers,
}

impl Cluster {
    /// Starts `n` controllers with ids 1..=n.
    pub async fn start(n: usize, base: ControllerConfig) -> Self {
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
        }
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect();
        let peers: Vec<Peer> = addrs
            .iter()
            .zip(1u64..)
            .map(|(a, id)| Peer {
                id,
                addr: a.to_string(),
            })
            .collect();
        let dirs: Vec<tempfile::TempDir> =
            (0..n).map(|_| tempfile::tempdir().expect("dir")).collect();
        let mut cluster = Self {
            dirs,
            addrs,
            peers,
            nodes: Vec::new(),
            base,
            brokers: FakeBrokers::start(8).await,
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            let handle = Controller::start(cluster.config(i), listener)
                .await
                .expect("start controller");
            cluster.nodes.push(Some(handle));
        }
        cluster
    }

    fn config(&self, i: usize) -> ControllerConfig {
        ControllerConfig {
            node_id: self.peers[i].id,
            controller_peers: self.peers.clone(),
            data_dir: self.dirs[i].path().to_owned(),
            ..self.base.clone()
        }
    }

    pub fn addr_strings(&self) -> Vec<String> {
        self.addrs.iter().map(ToString::to_string).collect()
    }

    pub fn node(&self, i: usize) -> &ControllerHandle {
        self.nodes[i].as_ref().expect("controller running")
    }

    /// Index of the leader all running controllers agree on, waiting for one.
    pub async fn leader(&self) -> usize {
        let mut found = None;
        wait_until("a controller leader", Duration::from_secs(10), || {
            let running: Vec<&ControllerHandle> = self.nodes.iter().flatten().collect();
            let leader = running.iter().find(|n| n.is_leader()).map(|n| n.node_id());
            found = leader.filter(|l| running.iter().all(|n| n.leader() == Some(*l)));
            found.is_some()
        })
        .await;
        let id = found.expect("leader");
        self.peers
            .iter()
            .position(|p| p.id == id)
            .expect("leader index")
    }

    pub async fn stop(&mut self, i: usize) {
        if let Some(h) = self.nodes[i].take() {
            h.shutdown().await;
        }
    }

    /// Restarts controller `i` on its old address from its data directory.
    pub async fn restart(&mut self, i: usize) {
        let listener = TcpListener::bind(self.addrs[i]).await.expect("rebind");
        let handle = Controller::start(self.config(i), listener)
            .await
            .expect("restart controller");
        self.nodes[i] = Some(handle);
    }

    pub async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i).await;
        }
        self.brokers.shutdown().await;
    }

    /// Registration of broker `id` (0..8) with its fake remoting address.
    pub fn register_request(&self, id: u64) -> RegisterRequest {
        self.brokers.request(id)
    }

    pub fn client(&self) -> ControllerClient {
        ControllerClient::with_options(
            self.addr_strings(),
            ClientOptions {
                request_timeout: Duration::from_secs(2),
                rounds: 20,
                round_pause: Duration::from_millis(100),
                ..ClientOptions::default()
            },
        )
    }
}

/// Stand-ins for the brokers' remoting ports: they record the role-change notifications the
/// controller pushes, so registered addresses are real listeners of this test.
pub struct FakeBrokers {
    servers: Vec<ServerHandle>,
    addrs: Vec<String>,
    seen: Vec<Arc<Mutex<Vec<ReplicaInfo>>>>,
}

#[derive(Debug)]
struct RecordRoleChanges(Arc<Mutex<Vec<ReplicaInfo>>>);

#[async_trait::async_trait]
impl Handler for RecordRoleChanges {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        assert_eq!(req.request_code(), RequestCode::NOTIFY_BROKER_ROLE_CHANGED);
        assert!(req.is_oneway(), "role changes are oneway");
        let info = read_replica_info(&req).expect("role change carries replica info");
        self.0.lock().push(info);
        None
    }
}

impl FakeBrokers {
    /// Brokers 0..n.
    pub async fn start(n: u64) -> Self {
        let mut brokers = Self {
            servers: Vec::new(),
            addrs: Vec::new(),
            seen: Vec::new(),
        };
        for _ in 0..n {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let seen = Arc::new(Mutex::new(Vec::new()));
            let server = ferromq_net::serve(
                listener,
                Arc::new(RecordRoleChanges(seen.clone())),
                ConnectionConfig::default(),
            )
            .expect("serve");
            brokers.addrs.push(server.local_addr().to_string());
            brokers.servers.push(server);
            brokers.seen.push(seen);
        }
        brokers
    }

    pub fn request(&self, id: u64) -> RegisterRequest {
        let addr = self.addrs[usize::try_from(id).expect("small")].clone();
        RegisterRequest {
            cluster: CLUSTER.into(),
            group: GROUP.into(),
            broker_id: id,
            // The HA port is not used by the controller, only handed out.
            ha_addr: format!("{addr}-ha"),
            addr,
        }
    }

    /// The role changes broker `id` was told about, in order.
    pub fn notifications(&self, id: u64) -> Vec<ReplicaInfo> {
        self.seen[usize::try_from(id).expect("small")]
            .lock()
            .clone()
    }

    pub async fn shutdown(self) {
        for server in self.servers {
            server.shutdown().await;
        }
    }
}

/// A broker that heartbeats every 200 ms until stopped, reporting `offset`.
pub struct BrokerSim {
    pub id: u64,
    pub offset: Arc<AtomicU64>,
    pub epoch: Arc<AtomicU64>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl BrokerSim {
    pub fn start(addrs: Vec<String>, id: u64, offset: u64) -> Self {
        let offset = Arc::new(AtomicU64::new(offset));
        let epoch = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let client = ControllerClient::with_options(
            addrs,
            ClientOptions {
                request_timeout: Duration::from_millis(500),
                rounds: 1,
                round_pause: Duration::from_millis(50),
                ..ClientOptions::default()
            },
        );
        let task = tokio::spawn({
            let (offset, epoch, stop) = (offset.clone(), epoch.clone(), stop.clone());
            async move {
                loop {
                    let hb = HeartbeatRequest {
                        cluster: CLUSTER.into(),
                        group: GROUP.into(),
                        broker_id: id,
                        addr: format!("broker-{id}"),
                        epoch: epoch.load(Ordering::Relaxed),
                        max_offset: offset.load(Ordering::Relaxed),
                    };
                    if let Ok(info) = client.heartbeat(&hb).await {
                        epoch.store(info.master_epoch, Ordering::Relaxed);
                    }
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
                client.shutdown().await;
            }
        });
        Self {
            id,
            offset,
            epoch,
            stop,
            task,
        }
    }

    /// Stops heartbeating (the broker "dies") and waits for the task.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("heartbeat task");
    }
}

pub fn set(ids: &[u64]) -> BTreeSet<u64> {
    ids.iter().copied().collect()
}
