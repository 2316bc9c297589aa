//! One broker group in controller mode, ready for traffic: a name server, the controllers, broker 1
//! elected master, broker 2 following it in the sync-state set, and a topic both know.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::headers::admin::TopicRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use super::{runtime_info, wait_for, Broker, BrokerSpec, Controllers, NameServer, CLUSTER, GROUP};

/// Generous bounds for things that take well under a second when all is well.
pub const SETTLE: Duration = Duration::from_secs(20);

pub struct Group {
    pub namesrv: NameServer,
    pub controllers: Controllers,
    /// Broker ids 1 and 2, in that order.
    pub brokers: Vec<Broker>,
}

impl Group {
    /// Starts everything: the name server and controllers on `ip`, broker `specs[0]` first (it
    /// becomes master, epoch 1), then `specs[1]`; creates `topic` with 4 queues and waits until
    /// the second broker is in sync and knows the topic.
    pub async fn start(
        dir: &Path,
        ip: IpAddr,
        controllers: u64,
        specs: [BrokerSpec; 2],
        topic: &str,
    ) -> Group {
        let namesrv = NameServer::start(dir, ip);
        let controllers = Controllers::start(dir, ip, controllers);
        let [first, second] = specs;
        let (first_id, second_id) = (first.id, second.id);
        let b1 = Broker::start(dir, first, &namesrv.addr, &controllers.addrs());
        let mut group = Group {
            namesrv,
            controllers,
            brokers: vec![b1],
        };
        group.wait_master(first_id).await;
        let b2 = Broker::start(dir, second, &group.namesrv.addr, &group.controllers.addrs());
        group.brokers.push(b2);
        create_topic(&group.namesrv.addr, topic).await;
        group.wait_in_sync(second_id).await;
        let replica = group.broker(second_id).addr.clone();
        wait_for("the replica knows the topic", SETTLE, || {
            knows_topic(&replica, topic)
        })
        .await;
        group
    }

    pub fn broker(&self, id: u64) -> &Broker {
        self.brokers
            .iter()
            .find(|b| b.spec.id == id)
            .expect("broker id")
    }

    pub fn broker_mut(&mut self, id: u64) -> &mut Broker {
        self.brokers
            .iter_mut()
            .find(|b| b.spec.id == id)
            .expect("broker id")
    }

    /// Waits until the controllers name broker `id` master; returns the master epoch.
    pub async fn wait_master(&self, id: u64) -> u64 {
        let ctl = &self.controllers;
        wait_for(&format!("broker {id} elected master"), SETTLE, || async {
            ctl.replica_info(GROUP)
                .await
                .filter(|i| i.master == Some(id))
                .map(|i| i.master_epoch)
        })
        .await
    }

    /// Waits until broker `id` is in the sync-state set.
    pub async fn wait_in_sync(&self, id: u64) {
        let ctl = &self.controllers;
        wait_for(
            &format!("broker {id} in the sync-state set"),
            SETTLE,
            || async {
                ctl.replica_info(GROUP)
                    .await
                    .filter(|i| i.sync_state_set.contains(&id))
                    .map(|_| ())
            },
        )
        .await;
    }

    /// Waits until broker `id` reports `role` (SYNC_MASTER, ASYNC_MASTER, SLAVE) in its runtime
    /// info; returns how long that took.
    pub async fn wait_role(&self, id: u64, role: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        let addr = self.broker(id).addr.clone();
        let ns = self.namesrv.addr.clone();
        wait_for(&format!("broker {id} reports {role}"), limit, || async {
            runtime_info(&addr, &ns)
                .await
                .filter(|t| t.get("brokerRole").map(String::as_str) == Some(role))
                .map(|_| ())
        })
        .await;
        start.elapsed()
    }

    /// Waits until the name server routes the group's writes to broker `master` (as broker id 0)
    /// and lists broker `replica` under its own id.
    pub async fn wait_route(&self, master: u64, replica: u64) {
        let want = (
            self.broker(master).addr.clone(),
            self.broker(replica).addr.clone(),
        );
        let ns = self.namesrv.addr.clone();
        let what = format!("the route: broker {master} as id 0, broker {replica} as id {replica}");
        wait_for(&what, SETTLE, || async {
            let admin = Admin::start(AdminConfig {
                namesrv_addrs: vec![ns.clone()],
                timeout: Duration::from_secs(1),
                tls: None,
            })
            .await
            .ok()?;
            let info = admin.cluster_info().await.ok();
            admin.shutdown().await;
            let addrs = info?.broker_addr_table.remove(GROUP)?.broker_addrs;
            let id = i64::try_from(replica).ok()?;
            (addrs.get(&0) == Some(&want.0) && addrs.get(&id) == Some(&want.1)).then_some(())
        })
        .await;
    }

    /// Waits until both brokers report the same, non-zero commit-log end; returns it.
    pub async fn wait_converged(&self) -> u64 {
        let ns = self.namesrv.addr.clone();
        let addrs: Vec<String> = self.brokers.iter().map(|b| b.addr.clone()).collect();
        wait_for("both brokers hold the same commit log", SETTLE, || async {
            let mut ends = Vec::new();
            for a in &addrs {
                let t = runtime_info(a, &ns).await?;
                ends.push(t.get("commitLogMaxOffset")?.parse::<u64>().ok()?);
            }
            (ends[0] > 0 && ends.iter().all(|e| *e == ends[0])).then_some(ends[0])
        })
        .await
    }

    /// Stops both brokers cleanly and asserts their commit logs are byte for byte the same up to
    /// `end`.
    pub fn stop_and_compare(&mut self, end: u64) {
        for b in &mut self.brokers {
            b.stop();
        }
        let logs: Vec<Vec<u8>> = self
            .brokers
            .iter()
            .map(|b| b.commit_log_bytes(end))
            .collect();
        if let Some(at) = logs[0].iter().zip(&logs[1]).position(|(a, b)| a != b) {
            panic!("the commit logs differ first at byte {at} of {end}");
        }
        eprintln!("failover: commit logs byte-equal over [0, {end})");
    }
}

/// Creates `topic` (4 queues) on the cluster's master, once the name server lists one.
pub async fn create_topic(namesrv: &str, topic: &str) {
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        timeout: Duration::from_secs(2),
        tls: None,
    })
    .await
    .expect("admin");
    let mut spec = TopicSpec::new(topic);
    spec.read_queue_nums = 4;
    spec.write_queue_nums = 4;
    let admin = &admin;
    let spec = &spec;
    wait_for("a master to create the topic on", SETTLE, || async move {
        admin
            .create_topic(CLUSTER, spec)
            .await
            .ok()
            .filter(|written| !written.is_empty())
    })
    .await;
}

/// Whether the broker at `addr` has `topic` in its topic table.
pub async fn knows_topic(addr: &str, topic: &str) -> Option<()> {
    let client = Client::new(addr, ClientConfig::default());
    let resp = client
        .request(
            RemotingCommand::request(RequestCode::GET_TOPIC_CONFIG).with_header(
                &TopicRequestHeader {
                    topic: topic.to_owned(),
                },
            ),
            Duration::from_secs(1),
        )
        .await;
    client.shutdown().await;
    (resp.ok()?.response_code() == ResponseCode::SUCCESS).then_some(())
}
