//! An in-process ferromq cluster (one name server, one broker) on 127.0.0.1 ephemeral ports, with
//! its data in a temporary folder, optionally behind logging proxies.
//!
//! With proxies on, the client talks to the name server through a proxy, and the broker advertises
//! `127.0.0.2:<its port>` where a second proxy listens and forwards to `127.0.0.1:<its port>`: the
//! broker config has an advertised IP but no advertised port, and all of 127.0.0.0/8 is loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use ferromq_broker::{Broker, BrokerConfig, BrokerHandle};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use tokio::net::TcpListener;

use crate::proxy::{Proxy, WireLog};

/// How to start a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Put logging proxies in front of the name server and the broker.
    pub proxies: bool,
    /// The broker's settings; `namesrv_addrs`, `listen`, `advertised_ip` and `store_root_dir` are
    /// overwritten.
    pub broker: BrokerConfig,
    /// Where the data goes; `None` makes a temporary folder removed with the cluster.
    pub data_dir: Option<PathBuf>,
    /// A topic created with a raw UPDATE_AND_CREATE_TOPIC right after the broker starts, before
    /// waiting for its registration. The workaround for finding F1 (fixed since: a first full
    /// registration carrying exactly one topic, `TBW102`, was refused by the name server as
    /// Java's is); off by default so every test starts from a fresh broker.
    pub seed_topic: Option<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            proxies: true,
            broker: BrokerConfig {
                // Small segments: tests write little, and a 1 GiB preallocation per test is wasteful.
                commit_log_file_size: 64 * 1024 * 1024,
                // Register quickly so a restarted broker is routable again soon.
                register_name_server_period_ms: 1_000,
                ..BrokerConfig::default()
            },
            data_dir: None,
            seed_topic: None,
        }
    }
}

/// A running name server and broker. Call [`Cluster::shutdown`]; dropping it only aborts the
/// tasks with the runtime.
#[derive(Debug)]
pub struct Cluster {
    namesrv: Option<NameServerHandle>,
    broker: Option<BrokerHandle>,
    namesrv_proxy: Option<Proxy>,
    broker_proxy: Option<Proxy>,
    /// The name server address clients are given (the proxy's when there is one).
    namesrv_addr: SocketAddr,
    /// Where the broker listens (not what it advertises).
    broker_listen: SocketAddr,
    broker_config: BrokerConfig,
    seed_topic: Option<String>,
    wire: WireLog,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Cluster {
    /// Starts the name server, then the broker, and waits until the broker is registered.
    ///
    /// # Errors
    /// When a listener cannot be bound or a service refuses to start.
    pub async fn start(options: ClusterOptions) -> anyhow::Result<Self> {
        let (temp, data_dir) = match options.data_dir {
            Some(dir) => (None, dir),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("ferromq-compat-")
                    .tempdir()
                    .context("temp dir")?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let wire = WireLog::default();
        let namesrv = start_namesrv().await?;
        let (namesrv_addr, namesrv_proxy) = if options.proxies {
            let p = Proxy::start("namesrv", namesrv.local_addr(), wire.clone()).await?;
            (p.local_addr(), Some(p))
        } else {
            (namesrv.local_addr(), None)
        };
        let broker_listener = TcpListener::bind("127.0.0.1:0").await?;
        let broker_listen = broker_listener.local_addr()?;
        let mut broker_config = options.broker;
        // The broker registers with the real name server, not through the proxy.
        broker_config.namesrv_addrs = vec![namesrv.local_addr().to_string()];
        broker_config.listen = broker_listen;
        broker_config.store_root_dir = data_dir.join("broker");
        let broker_proxy = if options.proxies {
            let advertised = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
            let l = TcpListener::bind(SocketAddr::new(advertised, broker_listen.port()))
                .await
                .context("bind the broker proxy on 127.0.0.2")?;
            broker_config.advertised_ip = Some(advertised);
            Some(Proxy::start_on("broker", l, broker_listen, wire.clone())?)
        } else {
            broker_config.advertised_ip = None;
            None
        };
        let mut cluster = Self {
            namesrv: Some(namesrv),
            broker: None,
            namesrv_proxy,
            broker_proxy,
            namesrv_addr,
            broker_listen,
            broker_config,
            seed_topic: options.seed_topic,
            wire,
            data_dir,
            _temp: temp,
        };
        cluster.start_broker(broker_listener).await?;
        Ok(cluster)
    }

    async fn start_broker(&mut self, listener: TcpListener) -> anyhow::Result<()> {
        let mut changes = self
            .namesrv
            .as_ref()
            .context("name server stopped")?
            .route_changes();
        let seen = *changes.borrow_and_update();
        let broker = Broker::start(self.broker_config.clone(), listener)
            .await
            .context("start the broker")?;
        self.broker = Some(broker);
        if let Some(topic) = &self.seed_topic {
            crate::raw::create_topic(self.broker_listen, topic, 1)
                .await
                .context("create the seed topic")?;
        }
        // Registration bumps the name server's route counter.
        tokio::time::timeout(Duration::from_secs(10), async {
            while *changes.borrow_and_update() == seen {
                if changes.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
        .context("the broker did not register with the name server within 10 s")?;
        Ok(())
    }

    /// Stops the broker and starts a new one on the same port and data folder.
    ///
    /// # Errors
    /// When the port cannot be bound again or the broker refuses to start.
    pub async fn restart_broker(&mut self) -> anyhow::Result<()> {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        let listener = TcpListener::bind(self.broker_listen)
            .await
            .with_context(|| format!("rebind {}", self.broker_listen))?;
        self.start_broker(listener).await
    }

    /// The name server address to give clients.
    #[must_use]
    pub fn namesrv_addr(&self) -> String {
        self.namesrv_addr.to_string()
    }

    /// The address the broker advertises (the broker proxy's when there is one).
    #[must_use]
    pub fn broker_addr(&self) -> SocketAddr {
        self.broker_config.advertised_addr(self.broker_listen)
    }

    /// Where the broker really listens.
    #[must_use]
    pub fn broker_listen_addr(&self) -> SocketAddr {
        self.broker_listen
    }

    #[must_use]
    pub fn broker_config(&self) -> &BrokerConfig {
        &self.broker_config
    }

    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Every frame the proxies saw.
    #[must_use]
    pub fn wire(&self) -> &WireLog {
        &self.wire
    }

    /// Stops the broker, the name server and the proxies.
    pub async fn shutdown(mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        if let Some(n) = self.namesrv.take() {
            n.shutdown().await;
        }
        if let Some(p) = self.broker_proxy.take() {
            p.shutdown().await;
        }
        if let Some(p) = self.namesrv_proxy.take() {
            p.shutdown().await;
        }
    }
}

/// A name server on a free loopback port.
pub(crate) async fn start_namesrv() -> anyhow::Result<NameServerHandle> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    NameServer::start(
        NameServerConfig {
            listen: listener.local_addr()?,
            ..NameServerConfig::default()
        },
        listener,
    )
    .context("start the name server")
}
