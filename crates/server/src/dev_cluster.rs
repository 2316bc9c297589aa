//! `ferromq dev --cluster N`: one name server and N broker groups, each a master (SYNC_MASTER, or
//! ASYNC_MASTER with `--master-role async`) with one replica, in one process on loopback, for trying
//! replication and scale-out. The ready line lists every broker once every replica follows its master.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ferromq_broker::{Broker, BrokerConfig, BrokerHandle, BrokerRole};
use ferromq_namesrv::NameServerHandle;
use tokio::net::TcpListener;

use crate::cli::{DevArgs, MasterRole};

/// How long the replicas get to connect before the start is called failed.
const REPLICAS_READY: Duration = Duration::from_secs(30);

/// One broker group: its master and its replica.
pub struct Group {
    pub name: String,
    pub master: BrokerHandle,
    pub replica: BrokerHandle,
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

/// Starts the groups against the running name server `ns`.
pub async fn start(
    args: &DevArgs,
    template: &BrokerConfig,
    ns: &NameServerHandle,
    groups: u8,
) -> anyhow::Result<Vec<Group>> {
    let mut out: Vec<Group> = Vec::new();
    for g in 0..groups {
        let name = format!("broker-{}", char::from(b'a' + g));
        let start_one = |id: i64, ha: Option<String>| {
            let mut c = template.clone();
            c.broker_name.clone_from(&name);
            c.broker_id = id;
            c.namesrv_addrs = vec![ns.local_addr().to_string()];
            c.store_root_dir = args.data_dir.join(format!("{name}-{id}"));
            if id == 0 {
                c.broker_role = match args.master_role {
                    MasterRole::Sync => BrokerRole::SyncMaster,
                    MasterRole::Async => BrokerRole::AsyncMaster,
                };
                c.ha_listen_port = Some(0);
            } else {
                c.broker_role = BrokerRole::Slave;
                c.ha_master_address = ha;
            }
            c
        };
        let index = u16::from(g) * 2;
        let master = start_broker(start_one(0, None), broker_addr(args.broker_listen, index)?)
            .await
            .with_context(|| format!("starting the master of {name}"))?;
        let ha = master.ha_addr().map(|a| a.to_string());
        let replica = match start_broker(
            start_one(1, ha),
            broker_addr(args.broker_listen, index + 1)?,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                master.shutdown().await;
                shutdown(out).await;
                return Err(e).with_context(|| format!("starting the replica of {name}"));
            }
        };
        out.push(Group {
            name,
            master,
            replica,
        });
    }
    let deadline = Instant::now() + REPLICAS_READY;
    while out.iter().any(|g| g.master.replicas().is_empty()) {
        if Instant::now() > deadline {
            shutdown(out).await;
            bail!("replicas did not connect to their masters within {REPLICAS_READY:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(out)
}

async fn start_broker(config: BrokerConfig, addr: SocketAddr) -> anyhow::Result<BrokerHandle> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding a broker to {addr}"))?;
    Ok(Broker::start(config, listener).await?)
}

/// Prints the ready line: `ferromq dev ready: namesrv=... broker-a=MASTER/REPLICA ... data=...`.
pub fn print_ready(ns: &NameServerHandle, groups: &[Group], args: &DevArgs) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    write!(out, "ferromq dev ready: namesrv={}", ns.local_addr())?;
    for g in groups {
        write!(
            out,
            " {}={}/{}",
            g.name,
            g.master.local_addr(),
            g.replica.local_addr()
        )?;
    }
    writeln!(out, " data={}", args.data_dir.display())?;
    out.flush()
}

/// Replicas first, so none reconnects to a master that is going away.
pub async fn shutdown(groups: Vec<Group>) {
    for g in groups {
        g.replica.shutdown().await;
        g.master.shutdown().await;
    }
}
