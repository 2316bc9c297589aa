//! `ferromq dev --cluster N`: one name server, one failover controller and N broker groups of two
//! brokers each (ids 1 and 2, SYNC_MASTER or with `--master-role async` ASYNC_MASTER) in controller
//! mode, in one process on loopback, for trying replication, failover decisions and scale-out.
//!
//! Broker 1 of each group starts first, so the controller makes it master (epoch 1); broker 2
//! follows it. The ready line lists every broker once every group's replica is in its sync-state
//! set. Each broker runs under [`Broker::run`], which starts it again in place (log cut) when the
//! controller turns a former master into a replica.
//!
//! Every broker serves the RocketMQ 5 gRPC endpoint too (ports from `--grpc-listen` as the broker
//! ports from `--broker-listen`); each registers its endpoint with the name server, so a v5 client
//! at any endpoint is routed to every group's master.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ferromq_broker::{Broker, BrokerConfig, BrokerError, BrokerRole};
use ferromq_controller::{Controller, ControllerConfig, ControllerHandle};
use ferromq_grpc::GrpcHandle;
use ferromq_namesrv::NameServerHandle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{DevArgs, MasterRole};
use crate::grpc;

/// How long the groups get to elect a master and bring their replica in sync.
const GROUPS_READY: Duration = Duration::from_secs(30);
/// RocketMQ's controller port.
const CONTROLLER_PORT: u16 = 9878;

/// The controller and the broker groups.
pub struct Cluster {
    controller: ControllerHandle,
    groups: Vec<Group>,
}

/// One broker group: broker 1 (master at start) and broker 2.
struct Group {
    name: String,
    brokers: [RunningBroker; 2],
}

/// A broker under [`Broker::run`], owned by its task and stopped through its token, and its gRPC
/// endpoint (moved to the new broker when it restarts in place).
struct RunningBroker {
    addr: SocketAddr,
    grpc_addr: SocketAddr,
    token: CancellationToken,
    task: JoinHandle<Result<(), BrokerError>>,
    /// Set by the first start; taken at shutdown.
    endpoint: Arc<Mutex<Option<GrpcHandle>>>,
}

impl RunningBroker {
    /// Binds `addr` and `grpc_addr`, starts the broker and its gRPC endpoint and waits for its
    /// first start to complete.
    async fn start(
        config: BrokerConfig,
        addr: SocketAddr,
        grpc_addr: SocketAddr,
    ) -> anyhow::Result<RunningBroker> {
        let listener = ferromq_net::listen::bind(addr)
            .with_context(|| format!("binding a broker to {addr}"))?;
        let addr = listener.local_addr().context("broker address")?;
        let mut grpc_listener = Some(grpc::bind(grpc_addr)?);
        let tls = grpc::tls_files(&config);
        let endpoint: Arc<Mutex<Option<GrpcHandle>>> = Arc::default();
        let token = CancellationToken::new();
        let (started, mut first) = mpsc::unbounded_channel();
        let serving = endpoint.clone();
        let mut task = tokio::spawn(Broker::run(
            config,
            listener,
            token.clone().cancelled_owned(),
            move |broker| {
                let mut serving = lock(&serving);
                if let Some(g) = serving.as_ref() {
                    g.serve_broker(broker.service());
                } else if let Some(l) = grpc_listener.take() {
                    // Only the first start can fail here: later ones move the endpoint.
                    match grpc::serve(l, tls.clone(), broker) {
                        Ok(g) => *serving = Some(g),
                        Err(e) => {
                            let _ = started.send(Err(e));
                            return;
                        }
                    }
                }
                let _ = started.send(Ok(()));
            },
        ));
        let failed = tokio::select! {
            Some(result) = first.recv() => result.err(),
            ended = &mut task => return match ended {
                Ok(Ok(())) => bail!("the broker on {addr} stopped at once"),
                Ok(Err(e)) => Err(e).context("starting a broker"),
                Err(e) => Err(e).context("the broker task failed"),
            },
        };
        let grpc_addr = match failed {
            None => lock(&endpoint)
                .as_ref()
                .map(GrpcHandle::local_addr)
                .context("no gRPC endpoint started"),
            Some(e) => Err(e),
        };
        match grpc_addr {
            Ok(grpc_addr) => Ok(RunningBroker {
                addr,
                grpc_addr,
                token,
                task,
                endpoint,
            }),
            Err(e) => {
                token.cancel();
                let _ = task.await;
                Err(e)
            }
        }
    }

    async fn shutdown(self) {
        self.token.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(addr = %self.addr, error = %e, "broker stopped with an error")
            }
            Err(e) => tracing::warn!(addr = %self.addr, error = %e, "broker task failed"),
        }
        let endpoint = lock(&self.endpoint).take();
        if let Some(g) = endpoint {
            g.shutdown().await;
        }
    }
}

/// The endpoint slot; a panic elsewhere leaves it usable (it holds no invariant across calls).
fn lock(slot: &Mutex<Option<GrpcHandle>>) -> MutexGuard<'_, Option<GrpcHandle>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The address of broker `index` (0, 1, 2...): the base port plus 10 per broker, or a free port.
fn broker_addr(base: SocketAddr, index: u16) -> anyhow::Result<SocketAddr> {
    if base.port() == 0 {
        return Ok(base);
    }
    let port = base
        .port()
        .checked_add(index * 10)
        .context("broker ports run past 65535: pick a lower --broker-listen port")?;
    Ok(SocketAddr::new(base.ip(), port))
}

/// The gRPC endpoint of broker `index`: `--grpc-listen`'s port plus 10 per broker, or (either
/// `--grpc-listen` or `--broker-listen` with port 0) a free port.
fn grpc_addr(args: &DevArgs, index: u16) -> anyhow::Result<SocketAddr> {
    if args.broker_listen.port() == 0 {
        return Ok(SocketAddr::new(args.grpc_listen.ip(), 0));
    }
    broker_addr(args.grpc_listen, index)
        .context("gRPC ports run past 65535: pick a lower --grpc-listen port")
}

/// `--controller-listen`, else 9878 next to the name server, else (broker port 0) a free port.
fn controller_addr(args: &DevArgs) -> SocketAddr {
    args.controller_listen.unwrap_or_else(|| {
        let port = if args.broker_listen.port() == 0 {
            0
        } else {
            CONTROLLER_PORT
        };
        SocketAddr::new(args.namesrv_listen.ip(), port)
    })
}

/// Starts the controller and the groups against the running name server `ns`.
pub async fn start(
    args: &DevArgs,
    template: &BrokerConfig,
    ns: &NameServerHandle,
    groups: u8,
) -> anyhow::Result<Cluster> {
    let addr = controller_addr(args);
    let listener = ferromq_net::listen::bind(addr)
        .with_context(|| format!("binding the controller to {addr}"))?;
    let controller = Controller::start(
        ControllerConfig {
            data_dir: args.data_dir.join("controller"),
            // The controller's port in the cluster's TLS mode, as the name server's: brokers reach
            // it with their outgoing TLS settings.
            tls: template.tls.clone(),
            tls_client: template.tls_client.clone(),
            ..ControllerConfig::default()
        },
        listener,
    )
    .await
    .context("starting the controller")?;
    let mut cluster = Cluster {
        controller,
        groups: Vec::new(),
    };
    for g in 0..groups {
        match start_group(args, template, ns, &cluster.controller, g).await {
            Ok(group) => cluster.groups.push(group),
            Err(e) => {
                shutdown(cluster).await;
                return Err(e);
            }
        }
    }
    // Ready means usable: the controller has each group's replica in sync, and the name server
    // routes to each group's master (it registers as master only after the controller told it).
    let deadline = Instant::now() + GROUPS_READY;
    while !cluster.groups.iter().all(|g| {
        cluster
            .controller
            .replica_info(&g.name)
            .is_some_and(|i| i.master == Some(1) && i.sync_state_set.contains(&2))
            && ns
                .cluster_info()
                .broker_addr_table
                .get(&g.name)
                .and_then(|b| b.master_addr().map(str::to_owned))
                .is_some_and(|m| m == g.brokers[0].addr.to_string())
    }) {
        if Instant::now() > deadline {
            shutdown(cluster).await;
            bail!(
                "the replicas did not catch up with their masters, or the masters did not \
                 register with the name server, within {GROUPS_READY:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(cluster)
}

/// Starts group `g`: broker 1, and broker 2 once the controller made broker 1 master.
async fn start_group(
    args: &DevArgs,
    template: &BrokerConfig,
    ns: &NameServerHandle,
    controller: &ControllerHandle,
    g: u8,
) -> anyhow::Result<Group> {
    let name = format!("broker-{}", char::from(b'a' + g));
    let config = |id: i64| {
        let mut c = template.clone();
        c.broker_name.clone_from(&name);
        c.broker_id = id;
        c.namesrv_addrs = vec![ns.local_addr().to_string()];
        c.store_root_dir = args.data_dir.join(format!("{name}-{id}"));
        c.enable_controller_mode = true;
        c.controller_addrs = vec![controller.local_addr().to_string()];
        c.broker_role = match args.master_role {
            MasterRole::Sync => BrokerRole::SyncMaster,
            MasterRole::Async => BrokerRole::AsyncMaster,
        };
        c.ha_listen_port = Some(0);
        c
    };
    let index = u16::from(g) * 2;
    let first = RunningBroker::start(
        config(1),
        broker_addr(args.broker_listen, index)?,
        grpc_addr(args, index)?,
    )
    .await
    .with_context(|| format!("starting broker 1 of {name}"))?;
    let deadline = Instant::now() + GROUPS_READY;
    while controller.replica_info(&name).and_then(|i| i.master) != Some(1) {
        if Instant::now() > deadline {
            first.shutdown().await;
            bail!("the controller did not make broker 1 of {name} master within {GROUPS_READY:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = match RunningBroker::start(
        config(2),
        broker_addr(args.broker_listen, index + 1)?,
        grpc_addr(args, index + 1)?,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            first.shutdown().await;
            return Err(e).with_context(|| format!("starting broker 2 of {name}"));
        }
    };
    Ok(Group {
        name,
        brokers: [first, second],
    })
}

/// Prints the ready line:
/// `ferromq dev ready: namesrv=... controller=... broker-a=MASTER/REPLICA ... data=...
/// grpc=... broker-a-grpc=MASTER/REPLICA ...` (the roles as at start; the controller may change
/// them later). `grpc=` is broker-a's master endpoint: any endpoint routes to every group, and
/// scripts written for the single-broker `dev` read that field.
pub fn print_ready(
    ns: &NameServerHandle,
    cluster: &Cluster,
    args: &DevArgs,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "ferromq dev ready: namesrv={} controller={}",
        ns.local_addr(),
        cluster.controller.local_addr()
    )?;
    for g in &cluster.groups {
        let [first, second] = &g.brokers;
        write!(out, " {}={}/{}", g.name, first.addr, second.addr)?;
    }
    write!(out, " data={}", args.data_dir.display())?;
    if let Some(g) = cluster.groups.first() {
        write!(out, " grpc={}", g.brokers[0].grpc_addr)?;
    }
    for g in &cluster.groups {
        let [first, second] = &g.brokers;
        write!(
            out,
            " {}-grpc={}/{}",
            g.name, first.grpc_addr, second.grpc_addr
        )?;
    }
    writeln!(out)?;
    out.flush()
}

/// Broker 2 of each group first (the replica, unless the controller moved the master), so no
/// replica follows a master that is going away; then broker 1; the controller last, since brokers
/// that lose it stop taking writes once their lease runs out.
pub async fn shutdown(cluster: Cluster) {
    let mut firsts = Vec::new();
    for g in cluster.groups {
        let [first, second] = g.brokers;
        second.shutdown().await;
        firsts.push(first);
    }
    for b in firsts {
        b.shutdown().await;
    }
    cluster.controller.shutdown().await;
}
