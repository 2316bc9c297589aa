//! An in-process broker group under a failover controller: one name server, one controller and the
//! brokers of one group in controller mode, on 127.0.0.1 ephemeral ports behind logging proxies,
//! with their data in a temporary folder.
//!
//! The proxies follow [`crate::cluster`]: clients get the name server's proxy, and each broker
//! advertises `127.0.0.2:<its port>` where a proxy forwards to `127.0.0.1:<its port>`. A broker
//! also advertises its HA port on 127.0.0.2 (the controller hands that address to the replicas),
//! so a plain byte forwarder listens there too; HA traffic is not remoting frames and is not logged.
//!
//! Each broker runs under [`Broker::run`], which restarts it in place (same port, same folder) when
//! it must cut its log to follow a new master; the HA forwarder follows such a restart, since the
//! HA port is picked anew at every start.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context as _;
use ferromq_broker::{Broker, BrokerConfig, BrokerError};
use ferromq_controller::{Controller, ControllerConfig, ControllerHandle, ReplicaInfo};
use ferromq_namesrv::NameServerHandle;
use ferromq_remoting::body::lists::KvTable;
use ferromq_remoting::body::register::TopicConfigSerializeWrapper;
use ferromq_remoting::body::route::TopicRouteData;
use ferromq_remoting::body::JsonBody as _;
use ferromq_remoting::headers::offset::GetMaxOffsetRequestHeader;
use ferromq_remoting::headers::route::GetRouteInfoRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::proxy::{Proxy, WireLog};

/// Where the brokers advertise themselves: proxies listen there.
const ADVERTISED_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// How to start a [`ControlledGroup`].
#[derive(Debug, Clone)]
pub struct ControlledOptions {
    /// Every broker's settings; `broker_id`, `namesrv_addrs`, `listen`, `advertised_ip`,
    /// `store_root_dir`, `enable_controller_mode`, `controller_addrs` and `ha_listen_port` are
    /// overwritten per broker.
    pub broker: BrokerConfig,
    /// The controller's settings; `node_id`, `controller_peers` and `data_dir` are overwritten
    /// (a group of one).
    pub controller: ControllerConfig,
}

/// A running name server, controller and the brokers started so far. Call
/// [`ControlledGroup::shutdown`]; dropping it only aborts the tasks with the runtime.
#[derive(Debug)]
pub struct ControlledGroup {
    namesrv: Option<NameServerHandle>,
    namesrv_proxy: Option<Proxy>,
    namesrv_addr: SocketAddr,
    controller: Option<ControllerHandle>,
    broker_template: BrokerConfig,
    brokers: BTreeMap<i64, Member>,
    wire: WireLog,
    temp: tempfile::TempDir,
}

/// One broker id of the group: its port is kept across stops so it comes back where it was.
#[derive(Debug)]
struct Member {
    listen: SocketAddr,
    running: Option<Running>,
}

/// A broker under [`Broker::run`] and the proxies in front of it.
#[derive(Debug)]
struct Running {
    stop: oneshot::Sender<()>,
    runner: JoinHandle<Result<(), BrokerError>>,
    proxy: Proxy,
    /// Keeps the HA forwarder in step with the broker's (re)starts.
    ha: JoinHandle<()>,
}

impl ControlledGroup {
    /// Starts the name server (behind its proxy) and the controller; no broker yet.
    ///
    /// # Errors
    /// When a listener cannot be bound or a service refuses to start.
    pub async fn start(options: ControlledOptions) -> anyhow::Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("ferromq-compat-controlled-")
            .tempdir()
            .context("temp dir")?;
        let wire = WireLog::default();
        let namesrv = crate::cluster::start_namesrv().await?;
        let namesrv_proxy = Proxy::start("namesrv", namesrv.local_addr(), wire.clone()).await?;
        let controller_listener = TcpListener::bind("127.0.0.1:0").await?;
        let controller = Controller::start(
            ControllerConfig {
                node_id: 1,
                controller_peers: Vec::new(),
                data_dir: temp.path().join("controller"),
                ..options.controller
            },
            controller_listener,
        )
        .await
        .context("start the controller")?;
        let mut broker_template = options.broker;
        broker_template.namesrv_addrs = vec![namesrv.local_addr().to_string()];
        broker_template.enable_controller_mode = true;
        broker_template.controller_addrs = vec![controller.local_addr().to_string()];
        broker_template.advertised_ip = Some(ADVERTISED_IP);
        // Any member may become master and serve the others.
        broker_template.ha_listen_port = Some(0);
        Ok(Self {
            namesrv_addr: namesrv_proxy.local_addr(),
            namesrv: Some(namesrv),
            namesrv_proxy: Some(namesrv_proxy),
            controller: Some(controller),
            broker_template,
            brokers: BTreeMap::new(),
            wire,
            temp,
        })
    }

    /// The settings broker `id` runs with.
    #[must_use]
    pub fn broker_config(&self, id: i64) -> BrokerConfig {
        let mut c = self.broker_template.clone();
        c.broker_id = id;
        c.store_root_dir = self.temp.path().join(format!("broker-{id}"));
        if let Some(m) = self.brokers.get(&id) {
            c.listen = m.listen;
        }
        c
    }

    /// Starts broker `id` on its folder (its former port when it ran before) under
    /// [`Broker::run`], and returns once it serves and its proxies forward.
    ///
    /// # Errors
    /// When the broker is running already, a port cannot be bound or the broker refuses to start.
    pub async fn start_broker(&mut self, id: i64) -> anyhow::Result<()> {
        let listen = self
            .brokers
            .get(&id)
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |m| m.listen);
        anyhow::ensure!(
            self.brokers.get(&id).is_none_or(|m| m.running.is_none()),
            "broker {id} runs already"
        );
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("bind broker {id} on {listen}"))?;
        let listen = listener.local_addr()?;
        // The proxy listens before the broker advertises it.
        let proxy_listener = TcpListener::bind(SocketAddr::new(ADVERTISED_IP, listen.port()))
            .await
            .with_context(|| format!("bind broker {id}'s proxy on 127.0.0.2"))?;
        let proxy = Proxy::start_on(proxy_name(id), proxy_listener, listen, self.wire.clone())?;
        self.brokers.insert(
            id,
            Member {
                listen,
                running: None,
            },
        );
        let config = self.broker_config(id);
        // Each (re)start reports its HA port; the forwarder task rebinds 127.0.0.2 on it.
        let (starts_tx, starts) = mpsc::unbounded_channel::<Option<SocketAddr>>();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let runner = tokio::spawn(Broker::run(
            config,
            listener,
            async {
                let _ = stop_rx.await;
            },
            move |h| {
                let _ = starts_tx.send(h.ha_addr());
            },
        ));
        let (forwarding_tx, mut forwarding) = mpsc::unbounded_channel();
        let ha = tokio::spawn(follow_ha_port(starts, forwarding_tx));
        let mut running = Running {
            stop,
            runner,
            proxy,
            ha,
        };
        let started = tokio::select! {
            ready = forwarding.recv() => {
                ready.unwrap_or_else(|| Err(anyhow::anyhow!("the HA forwarder stopped")))
            }
            ended = &mut running.runner => {
                running.ha.abort();
                running.proxy.shutdown().await;
                return match ended {
                    Ok(Err(e)) => Err(e).with_context(|| format!("start broker {id}")),
                    _ => Err(anyhow::anyhow!("broker {id} stopped while starting")),
                };
            }
        };
        if let Err(e) = started {
            // Not reachable by its replicas: stop it rather than leave it half set up.
            let _ = running.stop().await;
            return Err(e).with_context(|| format!("broker {id}'s HA forwarder"));
        }
        if let Some(m) = self.brokers.get_mut(&id) {
            m.running = Some(running);
        }
        Ok(())
    }

    /// Stops broker `id` (its handle's shutdown: listener and connections close, the store is
    /// flushed) and its proxies, as if the process had ended.
    ///
    /// # Errors
    /// When the broker was not running or reported an error while running.
    pub async fn stop_broker(&mut self, id: i64) -> anyhow::Result<()> {
        let running = self
            .brokers
            .get_mut(&id)
            .and_then(|m| m.running.take())
            .with_context(|| format!("broker {id} is not running"))?;
        running.stop().await.with_context(|| format!("broker {id}"))
    }

    /// The controller's view of the group (`None` before its first broker registered).
    #[must_use]
    pub fn replica_info(&self) -> Option<ReplicaInfo> {
        self.controller
            .as_ref()
            .and_then(|c| c.replica_info(&self.broker_template.broker_name))
    }

    /// The broker ids in the controller's sync-state set.
    #[must_use]
    pub fn sync_state_set(&self) -> BTreeSet<u64> {
        self.replica_info()
            .map(|i| i.sync_state_set)
            .unwrap_or_default()
    }

    /// The elected master's broker id, if any.
    #[must_use]
    pub fn master(&self) -> Option<u64> {
        self.replica_info().and_then(|i| i.master)
    }

    /// One entry of broker `id`'s `GET_BROKER_RUNTIME_INFO` table (`brokerRole`, `masterEpoch`,
    /// ...), asked directly (not through the proxy).
    ///
    /// # Errors
    /// An unknown broker, a transport error or a refusal.
    pub async fn runtime_info(&self, id: i64, key: &str) -> anyhow::Result<Option<String>> {
        let addr = self.broker_listen(id)?;
        let resp = crate::raw::request(
            addr,
            RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO),
        )
        .await?;
        anyhow::ensure!(
            resp.response_code() == ResponseCode::SUCCESS,
            "GET_BROKER_RUNTIME_INFO answered {} {:?}",
            resp.code,
            resp.remark
        );
        let body = resp.body.context("runtime info without a body")?;
        let table = KvTable::from_json(&body).context("runtime info body")?;
        Ok(table.table.get(key).cloned())
    }

    /// Whether broker `id`'s topic table has `topic` (a replica mirrors its master's).
    ///
    /// # Errors
    /// An unknown broker, a transport error or a refusal.
    pub async fn has_topic(&self, id: i64, topic: &str) -> anyhow::Result<bool> {
        let resp = crate::raw::request(
            self.broker_listen(id)?,
            RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
        )
        .await?;
        anyhow::ensure!(
            resp.response_code() == ResponseCode::SUCCESS,
            "GET_ALL_TOPIC_CONFIG answered {} {:?}",
            resp.code,
            resp.remark
        );
        let body = resp.body.context("topic table without a body")?;
        let wrapper = TopicConfigSerializeWrapper::from_json(&body).context("topic table body")?;
        Ok(wrapper.topic_config_table.contains_key(topic))
    }

    /// `GET_MAX_OFFSET` of one queue on broker `id`: how many messages it holds.
    ///
    /// # Errors
    /// An unknown broker, a transport error, a refusal or an answer without an offset.
    pub async fn max_offset(&self, id: i64, topic: &str, queue_id: i32) -> anyhow::Result<i64> {
        let resp = crate::raw::request(
            self.broker_listen(id)?,
            RemotingCommand::request(RequestCode::GET_MAX_OFFSET).with_header(
                &GetMaxOffsetRequestHeader {
                    topic: topic.to_owned(),
                    queue_id,
                    committed: true,
                },
            ),
        )
        .await?;
        anyhow::ensure!(
            resp.response_code() == ResponseCode::SUCCESS,
            "GET_MAX_OFFSET {topic}/{queue_id} answered {} {:?}",
            resp.code,
            resp.remark
        );
        let offset = resp
            .ext_fields
            .get("offset")
            .context("GET_MAX_OFFSET answer without an offset")?;
        offset
            .parse()
            .with_context(|| format!("GET_MAX_OFFSET offset {offset:?}"))
    }

    /// The address the name server gives as the group's brokerId 0 (its master) in `topic`'s route,
    /// asked directly, so the proxy's log holds only what clients asked.
    ///
    /// # Errors
    /// A stopped name server, a transport error or an undecodable route; a topic without a
    /// route is `Ok(None)`.
    pub async fn routed_master(&self, topic: &str) -> anyhow::Result<Option<String>> {
        let namesrv = self.namesrv.as_ref().context("name server stopped")?;
        let resp = crate::raw::request(
            namesrv.local_addr(),
            RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
                &GetRouteInfoRequestHeader {
                    topic: topic.to_owned(),
                    accept_standard_json_only: None,
                },
            ),
        )
        .await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Ok(None);
        }
        let body = resp.body.context("route without a body")?;
        let route = TopicRouteData::from_json(&body).context("route body")?;
        Ok(route
            .broker_datas
            .into_iter()
            .find(|b| b.broker_name == self.broker_template.broker_name)
            .and_then(|mut b| b.broker_addrs.remove(&0)))
    }

    /// Where broker `id` really listens.
    ///
    /// # Errors
    /// When broker `id` never started.
    pub fn broker_listen(&self, id: i64) -> anyhow::Result<SocketAddr> {
        self.brokers
            .get(&id)
            .map(|m| m.listen)
            .with_context(|| format!("broker {id} never started"))
    }

    /// The address broker `id` advertises (its proxy's), as clients see it in routes and
    /// offset message ids.
    ///
    /// # Errors
    /// When broker `id` never started.
    pub fn broker_addr(&self, id: i64) -> anyhow::Result<SocketAddr> {
        Ok(SocketAddr::new(
            ADVERTISED_IP,
            self.broker_listen(id)?.port(),
        ))
    }

    /// The name server address to give clients (its proxy's).
    #[must_use]
    pub fn namesrv_addr(&self) -> String {
        self.namesrv_addr.to_string()
    }

    /// Every frame the proxies saw.
    #[must_use]
    pub fn wire(&self) -> &WireLog {
        &self.wire
    }

    /// Stops the brokers, the controller, the name server and the proxies.
    pub async fn shutdown(mut self) {
        for (id, member) in &mut self.brokers {
            if let Some(r) = member.running.take() {
                if let Err(e) = r.stop().await {
                    tracing::warn!(broker = id, error = %e, "broker stopped with an error");
                }
            }
        }
        if let Some(c) = self.controller.take() {
            c.shutdown().await;
        }
        if let Some(n) = self.namesrv.take() {
            n.shutdown().await;
        }
        if let Some(p) = self.namesrv_proxy.take() {
            p.shutdown().await;
        }
    }
}

impl Running {
    async fn stop(self) -> anyhow::Result<()> {
        // The runner awaits this to shut the broker down; an error means it ended already.
        let _ = self.stop.send(());
        let result = self.runner.await;
        self.ha.abort();
        let _ = self.ha.await;
        self.proxy.shutdown().await;
        result.context("broker task")?.context("broker run")
    }
}

/// The proxy's label in the wire log.
fn proxy_name(id: i64) -> &'static str {
    match id {
        1 => "broker-1",
        2 => "broker-2",
        3 => "broker-3",
        _ => "broker",
    }
}

/// For each broker (re)start, forwards 127.0.0.2:<HA port> to 127.0.0.1:<HA port> (dropping the
/// previous forwarder) and reports once it listens.
async fn follow_ha_port(
    mut starts: mpsc::UnboundedReceiver<Option<SocketAddr>>,
    forwarding: mpsc::UnboundedSender<anyhow::Result<()>>,
) {
    let mut current: Option<JoinSet<()>> = None;
    while let Some(ha) = starts.recv().await {
        // Aborts the previous forwarder and its connections.
        current = None;
        let bound = match ha {
            Some(advertised) => {
                let upstream = SocketAddr::from(([127, 0, 0, 1], advertised.port()));
                match TcpListener::bind(advertised).await {
                    Ok(l) => {
                        current = Some(forward(l, upstream));
                        Ok(())
                    }
                    Err(e) => Err(anyhow::Error::new(e).context(format!("bind {advertised}"))),
                }
            }
            None => Ok(()),
        };
        let _ = forwarding.send(bound);
    }
    drop(current);
}

/// Copies bytes both ways between every connection accepted on `listener` and `upstream`;
/// dropping the set closes the listener and every connection.
fn forward(listener: TcpListener, upstream: SocketAddr) -> JoinSet<()> {
    let mut set = JoinSet::new();
    set.spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut inbound, _)) = accepted else { continue };
                    conns.spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ = inbound.set_nodelay(true);
                            let _ = outbound.set_nodelay(true);
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    set
}

/// The broker that stored a message, from its offset message id (`SendResult.offsetMsgId`): 4
/// bytes IPv4 and 4 bytes port of the broker's advertised address, then 8 bytes of commit-log
/// offset, in hex. `None` for anything else (an IPv6 id is 40 hex digits).
#[must_use]
pub fn store_host(offset_msg_id: &str) -> Option<SocketAddr> {
    if offset_msg_id.len() != 32 {
        return None;
    }
    let ip = u32::from_str_radix(offset_msg_id.get(0..8)?, 16).ok()?;
    let port = u32::from_str_radix(offset_msg_id.get(8..16)?, 16).ok()?;
    Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::from(ip)),
        u16::try_from(port).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::store_host;

    #[test]
    fn store_host_reads_the_address_in_an_offset_message_id() {
        // 127.0.0.2:37893 at commit-log offset 0x2D26.
        assert_eq!(
            store_host("7F000002000094050000000000002D26"),
            Some("127.0.0.2:37893".parse().expect("addr"))
        );
        assert_eq!(store_host("7F00000200009405"), None);
        assert_eq!(store_host("7F0000020001FFFF0000000000002D26"), None);
        assert_eq!(store_host("zz000002000094050000000000002D26"), None);
    }
}
