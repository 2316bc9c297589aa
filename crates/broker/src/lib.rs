//! The ferromq broker: stores messages sent by producers and serves them to consumers, speaking
//! RocketMQ's remoting protocol.
//!
//! Layout (the layers of `docs/architecture.md`, top to bottom):
//!
//! - here: [`Broker::start`] and the [`BrokerHandle`] that owns every task and the store.
//! - `handlers/`: the remoting adapter, request code → decode, call, encode.
//! - [`service`]: what clients ask for, as typed calls ([`BrokerService`]): send, send-back, end a
//!   transaction, pull with long polling, pop and ack, offsets.
//! - `tasks/`: background work over the whole state: registration with the name servers, the
//!   controller agent, replica metadata, the transaction check scan, the POP revive timer,
//!   housekeeping.
//! - `auth`: ACL 2.0 checks before dispatch, users and ACLs (`config/auth.json`) and the AUTH_*
//!   admin requests (docs/security.md).
//! - `state`: the components below, bundled for the layers above.
//! - Components, each with one concern: [`topics`] (`config/topics.json`), [`offsets`]
//!   (`config/consumerOffset.json`), [`subscriptions`] (`config/subscriptionGroup.json`),
//!   [`request_modes`] (`config/messageRequestMode.json`), [`allocate`] (queue allocation
//!   strategies), [`topic_routes`] (topic queues from the name servers), [`clients`] (heartbeats, expiry), [`locks`], [`long_poll`], [`filter`],
//!   [`live_config`], [`role`], [`schedule`] (delay levels and timers), [`transaction`] (the
//!   half-message layout), [`trace`], [`ha`] (replication of the commit log), [`pop`] (POP receipt
//!   handles, in-flight deliveries and their journal), `stats` (with [`meters`] for metrics
//!   scrapers and [`rpc_latency`], the remoting adapter's answer times), `persist`, `uniq_key`.
//! - At the bottom: [`config`] (with [`config::java`]: [`BrokerConfig`] from TOML or a Java
//!   `broker.conf`), [`names`] (naming rules), [`error`] ([`BrokerError`]) and [`responses`]
//!   (error → response code, in one place).
#![forbid(unsafe_code)]

pub mod allocate;
mod auth;
pub mod client_directory;
pub mod clients;
pub mod config;
pub mod error;
pub mod filter;
pub mod ha;
mod handlers;
pub mod live_config;
pub mod locks;
pub mod long_poll;
pub mod meters;
pub mod names;
pub mod offsets;
mod persist;
pub mod pop;
pub mod request_modes;
pub mod responses;
pub mod role;
mod rolling;
pub mod rpc_latency;
pub mod schedule;
pub mod service;
mod state;
mod stats;
pub mod subscriptions;
mod tasks;
pub mod topic_routes;
pub mod topics;
pub mod trace;
pub mod transaction;
mod uniq_key;

use std::net::SocketAddr;
use std::sync::Arc;

use ferromq_net::{
    ClientConfig, ClientPool, ClientTls, ConnectionConfig, ServerHandle, ServerTls, ServiceHandle,
};
use ferromq_store::StoreHandle;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use config::java as java_conf;
pub use config::{BrokerConfig, BrokerRole, ConfigError};
pub use error::BrokerError;
pub use service::BrokerService;

use handlers::BrokerHandler;
use offsets::ConsumerOffsets;
use state::State;
use topics::Topics;

/// The broker service.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// Opens the store under `config.store_root_dir` (recovering it if needed), serves on
    /// `listener` and registers with the configured name servers. `config.listen` is for the binary
    /// that binds the listener; the advertised address uses the listener's actual port.
    ///
    /// # Errors
    /// An invalid configuration, a store that cannot open, corrupt metadata files.
    pub async fn start(
        config: BrokerConfig,
        listener: TcpListener,
    ) -> Result<BrokerHandle, BrokerError> {
        config.validate()?;
        // Files read before anything else starts: a bad certificate fails the start at once.
        let tls = ServerTls::from_config(&config.tls)
            .map_err(ConfigError::Tls)?
            .map(Arc::new);
        let outgoing_tls = config
            .tls_client
            .as_ref()
            .map(ClientTls::from_config)
            .transpose()
            .map_err(ConfigError::Tls)?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BrokerError::io("listener", e))?;
        let advertised = config.advertised_addr(local_addr);
        let store_config = config.store_config();
        let store = tokio::task::spawn_blocking(move || StoreHandle::open(store_config))
            .await
            .map_err(|e| BrokerError::Missing(format!("store open task failed: {e}")))??;
        let ha_listener = match config.ha_listen_port {
            Some(port) => Some(
                ferromq_net::listen::bind(SocketAddr::new(config.listen.ip(), port))
                    .map_err(|e| BrokerError::io("HA listener", e))?,
            ),
            None => None,
        };
        let ha_addr = match &ha_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| BrokerError::io("HA listener", e))?,
            ),
            None => None,
        };
        let replication = ha::Replication::new(
            config.min_in_sync_replicas,
            config.ha_max_gap_not_in_sync,
            std::time::Duration::from_millis(config.ha_housekeeping_interval_ms),
            config.ha_master_address.clone(),
            ha_addr.map(|a| SocketAddr::new(advertised.ip(), a.port())),
        );
        let dir = config.config_dir();
        let topics = Topics::open(dir.join("topics.json"), &config)?;
        let offsets = ConsumerOffsets::open(dir.join("consumerOffset.json"))?;
        let journal = dir.join("popAcks.log");
        let pop = pop::Leases::new(Some(
            pop::AckJournal::open(
                journal.clone(),
                config.flush_disk_type.into(),
                |(group, topic, queue)| offsets.query(group, topic, *queue),
            )
            .map_err(|e| BrokerError::io(journal, e))?,
        ));
        let subscriptions = subscriptions::Subscriptions::open(dir.join("subscriptionGroup.json"))?;
        let request_modes = request_modes::RequestModes::open(dir.join("messageRequestMode.json"))?;
        let schedule = Arc::new(schedule::Schedule::new(&config)?);
        let epochs = ha::epochs::EpochTable::open(dir.join("epochs.json"))?;
        let role = role::Role::new(&config, store.store().clone(), epochs.last_epoch());
        let controlled = config.enable_controller_mode;
        let guard = Arc::new(auth::Guard::open(&config)?);
        let state = Arc::new(State {
            guard,
            advertised,
            store: store.store().clone(),
            topics,
            offsets,
            subscriptions,
            request_modes,
            topic_routes: topic_routes::TopicRoutes::new(outgoing_tls.clone()),
            outgoing_tls,
            grpc_endpoint: tokio::sync::watch::Sender::new(None),
            live: live_config::LiveConfig::new(&config),
            clients: clients::Clients::default(),
            locks: locks::QueueLocks::new(std::time::Duration::from_millis(
                config.rebalance_lock_max_live_ms,
            )),
            transactions: transaction::Ended::default(),
            long_poll: Arc::default(),
            pop,
            filters: filter::FilterCache::default(),
            replication,
            role,
            epochs,
            restart: tokio::sync::watch::Sender::new(None),
            // A static replica never writes; under a controller any broker may become master.
            trace: (config.broker_trace_enable
                && (controlled || config.broker_role != BrokerRole::Slave))
                .then(Arc::default),
            schedule: schedule.clone(),
            stats: stats::Stats::default(),
            tasks: TaskTracker::new(),
            started_ms: topics::now_ms(),
            check_relays: transaction::relay::CheckRelays::default(),
            client_directories: client_directory::ClientDirectories::default(),
            config,
        });
        let long_poll = state.long_poll.clone();
        state
            .store
            .add_arrival_listener(Arc::new(move |topic: &str, queue_id: u32, _max: u64| {
                long_poll.notify(topic, queue_id);
            }));

        // A replica writes only what its master sends: delayed deliveries and transaction checks run
        // on the master, and their results reach the replica through the log.
        let is_replica = !controlled && state.config.broker_role == BrokerRole::Slave;
        if let Some(recorder) = &state.trace {
            let _ = state.schedule.trace.set(recorder.clone());
        }
        let delivery = if is_replica {
            None
        } else {
            let (config, store) = (state.config.clone(), state.store.clone());
            Some(
                tokio::task::spawn_blocking(move || {
                    schedule::ScheduleHandle::start(&config, schedule, &store)
                })
                .await
                .map_err(|e| BrokerError::Missing(format!("schedule start task failed: {e}")))??,
            )
        };
        let written = state.replication.written.clone();
        state
            .store
            .add_write_listener(Arc::new(move |_end: u64| written.notify_waiters()));
        // One registry for every listener and the replica's mirroring of its master's users.
        let guard = state.guard.clone();
        let pool = ClientPool::new(ClientConfig {
            tls: state.outgoing_tls.clone(),
            ..ClientConfig::default()
        });
        tasks::registrar::register_all(&state, &pool).await;
        let service = ServiceHandle::new();
        if let Some(l) = ha_listener {
            service.spawn(ha::master::serve(
                l,
                tls.clone(),
                state.store.clone(),
                state.replication.acks.clone(),
                state.replication.written.clone(),
                service.token().clone(),
            ));
        }
        if is_replica || controlled {
            // Mirrors whichever master `replication.master_broker` names (none while master).
            service.spawn(tasks::replica_metadata::mirror(
                state.clone(),
                guard.clone(),
                service.token().clone(),
            ));
        }
        if is_replica {
            service.spawn(ha::replica::follow(
                state.replication.master.clone(),
                state.store.clone(),
                state.replication.master_offset.clone(),
                None,
                state.outgoing_tls.clone(),
                service.token().clone(),
            ));
        }
        if controlled {
            service.spawn(tasks::controller_agent::run(
                state.clone(),
                service.token().clone(),
            ));
        }
        service.spawn(tasks::registrar::run(
            state.clone(),
            pool,
            service.token().clone(),
        ));
        service.spawn(tasks::housekeeping::persist_offsets(
            state.clone(),
            service.token().clone(),
        ));
        if let Some(recorder) = &state.trace {
            state.topics.ensure_internal(trace::TRACE_TOPIC, 1)?;
            service.spawn(trace::recorder::run(
                recorder.clone(),
                state.store.clone(),
                state.advertised,
                service.token().clone(),
            ));
        }
        if !is_replica {
            service.spawn(tasks::transaction_check::run(
                state.clone(),
                service.token().clone(),
            ));
        }
        if !is_replica {
            service.spawn(tasks::pop_revive::run(
                service::BrokerService::new(state.clone()),
                service.token().clone(),
            ));
        }
        service.spawn(tasks::housekeeping::expire_clients(
            state.clone(),
            service.token().clone(),
        ));
        let server = ferromq_net::serve_tls(
            listener,
            Arc::new(handlers::Timed {
                inner: BrokerHandler::new(
                    service::BrokerService::new(state.clone()),
                    state.clone(),
                    guard,
                ),
                state: state.clone(),
            }),
            ConnectionConfig::default(),
            tls,
        )
        .map_err(|e| BrokerError::io("listener", e))?;
        info!(%local_addr, %advertised, tls = %state.config.tls.mode, broker = %state.config.broker_name, cluster = %state.config.cluster_name, "broker started");
        Ok(BrokerHandle {
            local_addr,
            advertised,
            server,
            service,
            delivery,
            state,
            store,
        })
    }
}

impl Broker {
    /// Cuts the (closed) store of `config` back to commit-log offset `offset`, and the epoch table
    /// with it: what a former master does before following a new one (see `crate::tasks::controller_agent`).
    ///
    /// # Errors
    /// The store's or the epoch table's I/O errors.
    pub fn cut_log(config: &BrokerConfig, offset: u64) -> Result<u64, BrokerError> {
        let removed = StoreHandle::truncate_log(&config.store_config(), offset)?;
        ha::epochs::EpochTable::open(config.config_dir().join("epochs.json"))?.truncate(offset)?;
        Ok(removed)
    }

    /// Runs a broker on `listener` until `shutdown` resolves, restarting it in place (same address)
    /// with its log cut whenever the controllers' new master asks for it. `ready` is called after
    /// every start.
    ///
    /// # Errors
    /// A start that fails (the first or a restart), a listener that cannot be bound again.
    pub async fn run(
        config: BrokerConfig,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
        mut ready: impl FnMut(&BrokerHandle),
    ) -> Result<(), BrokerError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut listener = listener;
        loop {
            let broker = Broker::start(config.clone(), listener).await?;
            ready(&broker);
            let addr = broker.local_addr();
            let cut = tokio::select! {
                () = &mut shutdown => None,
                cut = broker.restart_requested() => Some(cut),
            };
            broker.shutdown().await;
            let Some(cut) = cut else {
                return Ok(());
            };
            let c = config.clone();
            let removed = tokio::task::spawn_blocking(move || Broker::cut_log(&c, cut))
                .await
                .map_err(|e| BrokerError::Missing(format!("log cut task failed: {e}")))??;
            warn!(
                cut_to = cut,
                removed, "commit log cut back; starting again as a replica"
            );
            listener =
                ferromq_net::listen::bind(addr).map_err(|e| BrokerError::io("listener", e))?;
        }
    }
}

/// Owns the running broker: its server, background tasks and store.
#[derive(Debug)]
pub struct BrokerHandle {
    local_addr: SocketAddr,
    advertised: SocketAddr,
    server: ServerHandle,
    service: ServiceHandle,
    /// Delay-level and timer delivery threads (none on a replica).
    delivery: Option<schedule::ScheduleHandle>,
    state: Arc<State>,
    store: StoreHandle,
}

impl BrokerHandle {
    /// The address the broker listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The broker's operations as typed calls, for a protocol adapter other than remoting.
    #[must_use]
    pub fn service(&self) -> BrokerService {
        BrokerService::new(self.state.clone())
    }

    /// The address published to name servers and embedded in message ids.
    #[must_use]
    pub fn advertised_addr(&self) -> SocketAddr {
        self.advertised
    }

    /// Where replicas connect (`haListenPort`), as published to the name servers.
    #[must_use]
    pub fn ha_addr(&self) -> Option<SocketAddr> {
        self.state.replication.advertised
    }

    /// The replicas connected to this master, with their acknowledged offsets.
    #[must_use]
    pub fn replicas(&self) -> Vec<ha::ReplicaInfo> {
        self.state
            .replication
            .acks
            .replicas(self.state.store.written_offset())
    }

    /// End of this broker's commit log (on a replica: what it holds of its master's).
    #[must_use]
    pub fn commit_log_end(&self) -> u64 {
        self.state.store.written_offset()
    }

    /// Waits until consumers can read everything this broker has written so far (its consume
    /// queues cover the commit log's end as of this call): an acknowledged send is stored, but
    /// indexed for pulls a moment later. False when that took longer than `timeout`.
    pub async fn wait_readable(&self, timeout: std::time::Duration) -> bool {
        let store = self.state.store.clone();
        let end = store.written_offset();
        tokio::task::spawn_blocking(move || store.wait_dispatched(end, timeout))
            .await
            .unwrap_or(false)
    }

    /// The role now (controller mode: as the controllers decided it).
    #[must_use]
    pub fn role(&self) -> BrokerRole {
        self.state.role.current()
    }

    /// The master epoch this broker is in (0 without a controller).
    #[must_use]
    pub fn master_epoch(&self) -> u64 {
        self.state.role.epoch()
    }

    /// Resolves (controller mode) when this broker holds records its group's new master never had
    /// and must restart with its log cut back to the returned offset: shut it down, call
    /// [`Broker::cut_log`], start it again. [`Broker::run`] does all of it.
    pub async fn restart_requested(&self) -> u64 {
        let mut rx = self.state.restart.subscribe();
        let cut = rx.wait_for(Option::is_some).await.map(|v| *v);
        match cut {
            Ok(v) => v.unwrap_or_default(),
            // The sender lives in `state`, which we hold: never closed while we wait.
            Err(_) => std::future::pending().await,
        }
    }

    /// Number of pulls currently parked by long polling.
    #[must_use]
    pub fn parked_pulls(&self) -> usize {
        self.state.long_poll.parked()
    }

    /// Stops in order: unregister from the name servers and stop the background tasks, stop
    /// accepting and close every connection (answering nothing more), flush and close the store,
    /// then write consumer offsets and the whole topic table.
    pub async fn shutdown(self) {
        let BrokerHandle {
            local_addr,
            server,
            service,
            delivery,
            state,
            store,
            ..
        } = self;
        service.shutdown().await;
        server.shutdown().await;
        state.topic_routes.shutdown().await;
        state.tasks.close();
        state.tasks.wait().await;
        let s = state.clone();
        let closed = tokio::task::spawn_blocking(move || {
            // Delivery stores copies: it stops (and saves its progress) before the store closes.
            if let Some(delivery) = delivery {
                delivery.shutdown();
            }
            let store_result = store.shutdown();
            (store_result, s.offsets.persist(), s.topics.compact())
        })
        .await;
        match closed {
            Ok((store_result, offsets_result, topics_result)) => {
                if let Err(e) = store_result {
                    warn!(error = %e, "store shutdown failed");
                }
                if let Err(e) = offsets_result {
                    warn!(error = %e, "persisting consumer offsets failed");
                }
                if let Err(e) = topics_result {
                    warn!(error = %e, "writing the topic table failed (its journal has every change)");
                }
            }
            Err(e) => warn!(error = %e, "shutdown task failed"),
        }
        info!(%local_addr, "broker stopped");
    }
}
