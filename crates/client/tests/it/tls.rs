//! Our producer, pull consumer and admin client over TLS against a real name server and broker on
//! 127.0.0.1:0: a permissive cluster serves plaintext and TLS clients at once; an enforcing one
//! (the broker registering over TLS) serves TLS clients only.

use crate::common;

use std::path::PathBuf;

use common::{bodies, eventually, pull_all};
use ferromq_broker::{Broker, BrokerHandle};
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::pull::{PullConsumer, PullConsumerConfig};
use ferromq_client::tls::{ClientTls, TlsClientConfig};
use ferromq_client::{Message, Producer, ProducerConfig, SendStatus};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use ferromq_net::{TlsMode, TlsServerConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A CA and one server certificate for 127.0.0.1 it signed, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("params")
            .signed_by(&key, &ca)
            .expect("sign");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
        std::fs::write(dir.path().join("server.pem"), cert.pem()).expect("write");
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).expect("write");
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server(&self, mode: TlsMode) -> TlsServerConfig {
        TlsServerConfig {
            mode,
            cert_path: Some(self.path("server.pem")),
            key_path: Some(self.path("server.key")),
            ..TlsServerConfig::default()
        }
    }

    fn trust(&self) -> TlsClientConfig {
        TlsClientConfig::trusting(self.path("ca.pem"))
    }

    fn client(&self) -> Option<ClientTls> {
        Some(ClientTls::from_config(&self.trust()).expect("client tls"))
    }
}

struct Servers {
    ns: NameServerHandle,
    broker: BrokerHandle,
    _store: tempfile::TempDir,
}

impl Servers {
    /// A name server and a broker, both with `tls`; the broker's own connections use
    /// `broker_client` (`tls.enable`).
    async fn start(tls: &TlsServerConfig, broker_client: Option<TlsClientConfig>) -> Self {
        let listener = ferromq_net::listen::bind(loopback()).expect("bind");
        let ns = NameServer::start(
            NameServerConfig {
                tls: tls.clone(),
                ..NameServerConfig::default()
            },
            listener,
        )
        .expect("name server starts");
        let store = tempfile::tempdir().expect("tempdir");
        let config = ferromq_broker::BrokerConfig {
            tls: tls.clone(),
            tls_client: broker_client,
            ..ferromq_testkit::broker_config(store.path(), &[ns.local_addr().to_string()])
        };
        let listener = ferromq_net::listen::bind(loopback()).expect("bind");
        let broker = Broker::start(config, listener)
            .await
            .expect("broker starts");
        Self {
            ns,
            broker,
            _store: store,
        }
    }

    fn namesrv(&self) -> String {
        self.ns.local_addr().to_string()
    }

    /// An admin client that creates `topic` once the broker is registered and waits for its route.
    async fn create_topic(&self, topic: &str, tls: Option<ClientTls>) -> Admin {
        let admin = Admin::start(AdminConfig {
            namesrv_addrs: vec![self.namesrv()],
            tls,
            ..AdminConfig::default()
        })
        .await
        .expect("admin");
        let spec = TopicSpec {
            read_queue_nums: 2,
            write_queue_nums: 2,
            ..TopicSpec::new(topic)
        };
        eventually("broker registered, topic created", || async {
            admin.create_topic("DefaultCluster", &spec).await.ok()
        })
        .await;
        eventually("route", || async { admin.topic_route(topic).await.ok() }).await;
        admin
    }

    async fn shutdown(self) {
        self.broker.shutdown().await;
        self.ns.shutdown().await;
    }
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

async fn producer(namesrv: &str, tls: Option<ClientTls>) -> Producer {
    Producer::start(ProducerConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        group: "tls-producer".into(),
        tls,
        ..ProducerConfig::default()
    })
    .await
    .expect("producer")
}

async fn consumer(namesrv: &str, group: &str, tls: Option<ClientTls>) -> PullConsumer {
    PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        group: group.into(),
        tls,
        ..PullConsumerConfig::default()
    })
    .await
    .expect("pull consumer")
}

async fn send_all(producer: &Producer, topic: &str, prefix: &str, n: usize) {
    for i in 0..n {
        let r = producer
            .send(Message::new(topic, format!("{prefix}-{i}")))
            .await
            .expect("send");
        assert_eq!(r.status, SendStatus::SendOk);
    }
}

/// Everything pulled from `topic` once at least `n` messages are stored (the consume queues are
/// written just after the sends are answered).
async fn pulled(consumer: &PullConsumer, topic: &str, n: usize) -> Vec<ferromq_client::MessageExt> {
    eventually("every message stored", || async {
        let msgs = pull_all(consumer, topic).await;
        (msgs.len() >= n).then_some(msgs)
    })
    .await
}

fn expected(prefixes: &[&str], n: usize) -> std::collections::BTreeSet<String> {
    prefixes
        .iter()
        .flat_map(|p| (0..n).map(move |i| format!("{p}-{i}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissive_cluster_serves_plaintext_and_tls_clients_at_once() {
    let pki = Pki::new();
    let servers = Servers::start(&pki.server(TlsMode::Permissive), None).await;
    let topic = "TlsPermissive";
    let _admin = servers.create_topic(topic, None).await;
    let ns = servers.namesrv();
    let plain = producer(&ns, None).await;
    let tls = producer(&ns, pki.client()).await;
    for round in 0..5 {
        send_all(&plain, topic, &format!("plain{round}"), 4).await;
        send_all(&tls, topic, &format!("tls{round}"), 4).await;
    }
    let prefixes: Vec<String> = (0..5)
        .flat_map(|r| [format!("plain{r}"), format!("tls{r}")])
        .collect();
    let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let want = expected(&prefixes, 4);
    for (group, tls) in [("plain-reader", None), ("tls-reader", pki.client())] {
        let consumer = consumer(&ns, group, tls).await;
        let msgs = pulled(&consumer, topic, want.len()).await;
        assert_eq!(msgs.len(), want.len(), "{group}: every message once");
        assert_eq!(bodies(&msgs), want, "{group}: every body");
        consumer.shutdown().await;
    }
    plain.shutdown().await;
    tls.shutdown().await;
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforcing_cluster_serves_tls_clients_and_the_broker_registers_over_tls() {
    let pki = Pki::new();
    let servers = Servers::start(&pki.server(TlsMode::Enforcing), Some(pki.trust())).await;
    let topic = "TlsEnforcing";
    let _admin = servers.create_topic(topic, pki.client()).await;
    let ns = servers.namesrv();

    let tls = producer(&ns, pki.client()).await;
    send_all(&tls, topic, "tls", 10).await;
    let plain = producer(&ns, None).await;
    plain
        .send(Message::new(topic, "plain"))
        .await
        .expect_err("plaintext is refused");

    let consumer = consumer(&ns, "tls-reader", pki.client()).await;
    let msgs = pulled(&consumer, topic, 10).await;
    assert_eq!(bodies(&msgs), expected(&["tls"], 10));
    assert_eq!(
        msgs.len(),
        10,
        "every message once, nothing from the refused client"
    );
    consumer.shutdown().await;
    plain.shutdown().await;
    tls.shutdown().await;
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_tls_enable_cannot_register_with_an_enforcing_name_server() {
    let pki = Pki::new();
    let ns_tls = pki.server(TlsMode::Enforcing);
    let listener = ferromq_net::listen::bind(loopback()).expect("bind");
    let ns = NameServer::start(
        NameServerConfig {
            tls: ns_tls,
            ..NameServerConfig::default()
        },
        listener,
    )
    .expect("name server starts");
    let store = tempfile::tempdir().expect("tempdir");
    let config = ferromq_testkit::broker_config(store.path(), &[ns.local_addr().to_string()]);
    let listener = ferromq_net::listen::bind(loopback()).expect("bind");
    // Registration fails and is retried later; the broker itself runs.
    let broker = Broker::start(config, listener)
        .await
        .expect("broker starts");
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![ns.local_addr().to_string()],
        tls: pki.client(),
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    let info = admin
        .cluster_info()
        .await
        .expect("the name server answers over TLS");
    assert!(
        info.broker_addr_table.is_empty(),
        "a plaintext registration must not reach an enforcing name server"
    );
    admin.shutdown().await;
    broker.shutdown().await;
    ns.shutdown().await;
}
