//! [`TestCluster`]: name servers and brokers in-process on 127.0.0.1:0, all their data in one
//! temporary folder that the cluster owns.
//!
//! Stopping: [`TestCluster::shutdown`] is the clean path (each broker unregisters, flushes and
//! writes its metadata, then the name servers stop). The server handles have no `Drop` of their
//! own that stops their tasks, so a cluster that is only dropped (a failing test) closes each
//! broker's store as its handle drops, then removes the folder; the servers' tokio tasks end with
//! the test's runtime.

use std::path::Path;

use ferromq_broker::{BrokerConfig, BrokerHandle};
use ferromq_namesrv::NameServerHandle;
use ferromq_net::{Client, ClientConfig};

use crate::servers::{broker_config, start_broker, start_name_server};

type Tweak<'a> = Box<dyn FnMut(&mut BrokerConfig) + Send + 'a>;

/// Name servers and brokers; every broker is registered with every name server.
#[derive(Debug)]
pub struct TestCluster {
    // Fields drop in order: brokers (closing their stores) before the folder they write to.
    brokers: Vec<Member>,
    name_servers: Vec<NameServerHandle>,
    dir: tempfile::TempDir,
}

/// A broker and the configuration it was started with (to start it again on the same folder).
#[derive(Debug)]
struct Member {
    config: BrokerConfig,
    handle: BrokerHandle,
}

/// How many name servers, which brokers and how they are configured.
pub struct TestClusterBuilder<'a> {
    name_servers: usize,
    broker_names: Vec<String>,
    tweak: Tweak<'a>,
}

impl std::fmt::Debug for TestClusterBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClusterBuilder")
            .field("name_servers", &self.name_servers)
            .field("broker_names", &self.broker_names)
            .finish_non_exhaustive()
    }
}

impl Default for TestClusterBuilder<'_> {
    fn default() -> Self {
        Self {
            name_servers: 1,
            broker_names: Vec::new(),
            tweak: Box::new(|_| {}),
        }
    }
}

impl<'a> TestClusterBuilder<'a> {
    /// How many name servers (default 1).
    #[must_use]
    pub fn name_servers(mut self, n: usize) -> Self {
        assert!(n > 0, "a cluster needs a name server");
        self.name_servers = n;
        self
    }

    /// One broker group per name, each a master (default: one broker named as
    /// [`BrokerConfig::default`] names it).
    #[must_use]
    pub fn brokers<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.broker_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Changes every broker's configuration after the test defaults ([`broker_config`]) are set.
    #[must_use]
    pub fn broker_config(mut self, tweak: impl FnMut(&mut BrokerConfig) + Send + 'a) -> Self {
        self.tweak = Box::new(tweak);
        self
    }

    /// Starts the name servers, then each broker; returns once every broker is registered with
    /// every name server.
    ///
    /// # Panics
    /// When a server cannot start or a broker is not registered in time.
    pub async fn start(self) -> TestCluster {
        let TestClusterBuilder {
            name_servers,
            broker_names,
            mut tweak,
        } = self;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cluster = TestCluster {
            brokers: Vec::new(),
            name_servers: Vec::new(),
            dir,
        };
        for _ in 0..name_servers {
            cluster.name_servers.push(start_name_server().await);
        }
        let names = if broker_names.is_empty() {
            vec![BrokerConfig::default().broker_name]
        } else {
            broker_names
        };
        for name in names {
            cluster.add_broker(&name, &mut tweak).await;
        }
        cluster
    }
}

impl TestCluster {
    #[must_use]
    pub fn builder<'a>() -> TestClusterBuilder<'a> {
        TestClusterBuilder::default()
    }

    /// One name server and one broker with the test defaults.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// One name server and one broker whose configuration `tweak` changes.
    pub async fn start_with(tweak: impl FnMut(&mut BrokerConfig) + Send) -> Self {
        Self::builder().broker_config(tweak).start().await
    }

    /// Starts one more broker group, `name`, in its own folder, registered with every name server;
    /// returns its index.
    pub async fn add_broker(
        &mut self,
        name: &str,
        mut tweak: impl FnMut(&mut BrokerConfig),
    ) -> usize {
        let mut config = broker_config(&self.dir.path().join(name), &self.namesrv_addrs());
        config.broker_name = name.to_owned();
        tweak(&mut config);
        let handle = start_broker(config.clone()).await;
        self.brokers.push(Member { config, handle });
        self.brokers.len() - 1
    }

    /// The folder that holds everything of this cluster (tests may put more brokers under it).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every name server's address, in start order.
    #[must_use]
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.name_servers
            .iter()
            .map(|n| n.local_addr().to_string())
            .collect()
    }

    /// The first name server's address.
    #[must_use]
    pub fn namesrv(&self) -> String {
        self.name_servers[0].local_addr().to_string()
    }

    #[must_use]
    pub fn name_servers(&self) -> &[NameServerHandle] {
        &self.name_servers
    }

    /// The first name server.
    #[must_use]
    pub fn ns(&self) -> &NameServerHandle {
        &self.name_servers[0]
    }

    /// The first broker.
    #[must_use]
    pub fn broker(&self) -> &BrokerHandle {
        self.broker_at(0)
    }

    /// The `i`th broker, in start order.
    #[must_use]
    pub fn broker_at(&self, i: usize) -> &BrokerHandle {
        &self.brokers[i].handle
    }

    /// The `i`th broker's configuration as it was started.
    #[must_use]
    pub fn broker_config(&self, i: usize) -> &BrokerConfig {
        &self.brokers[i].config
    }

    #[must_use]
    pub fn broker_count(&self) -> usize {
        self.brokers.len()
    }

    /// The first broker's listening address.
    #[must_use]
    pub fn broker_addr(&self) -> String {
        self.broker().local_addr().to_string()
    }

    /// A raw-protocol client connected to the first broker.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn broker_client(&self) -> Client {
        Client::connect(self.broker_addr(), ClientConfig::default())
            .await
            .expect("connect broker")
    }

    /// A raw-protocol client connected to the first name server.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn ns_client(&self) -> Client {
        Client::connect(self.namesrv(), ClientConfig::default())
            .await
            .expect("connect ns")
    }

    /// Stops the `i`th broker cleanly and starts it again with the same configuration on the same
    /// folder (on a new port); returns once it is registered again.
    pub async fn restart_broker(&mut self, i: usize) {
        let Member { config, handle } = self.brokers.remove(i);
        handle.shutdown().await;
        let handle = start_broker(config.clone()).await;
        self.brokers.insert(i, Member { config, handle });
    }

    /// Stops every broker, then every name server.
    pub async fn shutdown(self) {
        let TestCluster {
            brokers,
            name_servers,
            dir,
        } = self;
        for b in brokers {
            b.handle.shutdown().await;
        }
        for n in name_servers {
            n.shutdown().await;
        }
        drop(dir);
    }
}
