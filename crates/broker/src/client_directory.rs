//! Clients connected through other protocols than remoting. A remoting client registers in
//! [`crate::clients`] with its heartbeats; a v5 client's session lives in the gRPC endpoint (made of
//! settings and telemetry streams). The endpoint registers its sessions here as a directory, so
//! that views of a consumer group (the console's) list the clients of both protocols without a
//! second copy of the gRPC sessions. Adapters register through
//! `BrokerService::add_client_directory`; the state holds the registry.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

/// A client as another protocol's session describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryClient {
    pub client_id: String,
    pub addr: SocketAddr,
    /// The protocol's name as operators know it (`gRPC`).
    pub protocol: &'static str,
    /// The client's language (`JAVA`, `GOLANG`, ...).
    pub language: String,
    /// The client's release (`5.0.8`).
    pub version: String,
    /// What it does.
    pub role: DirectoryRole,
}

/// A client's side of the messaging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryRole {
    /// Publishes to these topics.
    Producer { topics: Vec<String> },
    /// Consumes in `group`: `(topic, expression type, expression)` per subscription.
    Consumer {
        group: String,
        subscriptions: Vec<(String, String, String)>,
    },
}

/// Something that knows connected clients.
pub trait ClientDirectory: Send + Sync + fmt::Debug {
    /// The clients connected now.
    fn clients(&self) -> Vec<DirectoryClient>;
}

/// The registered directories. Held weakly: a stopped adapter drops out by itself.
#[derive(Debug, Default)]
pub struct ClientDirectories {
    directories: Mutex<Vec<Weak<dyn ClientDirectory>>>,
}

impl ClientDirectories {
    /// Adds `directory`, held weakly; adding one already there changes nothing (an endpoint
    /// registers again with each broker it serves).
    pub(crate) fn add(&self, directory: &Arc<dyn ClientDirectory>) {
        let mut dirs = self.directories.lock();
        dirs.retain(|d| d.strong_count() > 0);
        let new = Arc::downgrade(directory);
        if !dirs.iter().any(|d| Weak::ptr_eq(d, &new)) {
            dirs.push(new);
        }
    }

    /// Every live directory's clients.
    pub(crate) fn clients(&self) -> Vec<DirectoryClient> {
        let live: Vec<Arc<dyn ClientDirectory>> = {
            let mut dirs = self.directories.lock();
            dirs.retain(|d| d.strong_count() > 0);
            dirs.iter().filter_map(Weak::upgrade).collect()
        };
        live.iter().flat_map(|d| d.clients()).collect()
    }

    /// The consumers of `group` in every live directory.
    pub(crate) fn consumers_of(&self, group: &str) -> Vec<DirectoryClient> {
        self.clients()
            .into_iter()
            .filter(|c| matches!(&c.role, DirectoryRole::Consumer { group: g, .. } if g == group))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(Vec<DirectoryClient>);

    impl ClientDirectory for Fixed {
        fn clients(&self) -> Vec<DirectoryClient> {
            self.0.clone()
        }
    }

    fn consumer(id: &str, group: &str) -> DirectoryClient {
        DirectoryClient {
            client_id: id.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 5000)),
            protocol: "gRPC",
            language: "JAVA".into(),
            version: "5.0.8".into(),
            role: DirectoryRole::Consumer {
                group: group.into(),
                subscriptions: vec![("T".into(), "TAG".into(), "*".into())],
            },
        }
    }

    #[test]
    fn lists_live_directories_once_and_forgets_dropped_ones() {
        let dirs = ClientDirectories::default();
        let a: Arc<dyn ClientDirectory> = Arc::new(Fixed(vec![consumer("c1", "g1")]));
        let b: Arc<dyn ClientDirectory> = Arc::new(Fixed(vec![consumer("c2", "g2")]));
        dirs.add(&a);
        dirs.add(&a);
        dirs.add(&b);
        assert_eq!(dirs.consumers_of("g1"), vec![consumer("c1", "g1")]);
        assert_eq!(dirs.clients().len(), 2);
        drop(b);
        assert_eq!(dirs.clients(), vec![consumer("c1", "g1")]);
        assert!(dirs.consumers_of("g2").is_empty());
    }
}
