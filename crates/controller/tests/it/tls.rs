//! The controller's port over TLS: three controllers with `tls.mode = enforcing` elect a leader
//! over TLS among themselves, a broker's `ControllerClient` with TLS registers and reads replica
//! info, and a plaintext client is refused.

use crate::common;

use std::time::Duration;

use ferromq_controller::client::ClientOptions;
use ferromq_controller::{ControllerClient, ControllerConfig};
use ferromq_net::{ClientTls, TlsClientConfig, TlsMode, TlsServerConfig};

use common::{test_config, Cluster, GROUP};

fn client(cluster: &Cluster, tls: Option<ClientTls>) -> ControllerClient {
    ControllerClient::with_options(
        cluster.addr_strings(),
        ClientOptions {
            request_timeout: Duration::from_secs(2),
            rounds: 3,
            round_pause: Duration::from_millis(100),
            tls,
            ..ClientOptions::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforcing_controllers_speak_tls_among_themselves_and_to_brokers() {
    let config = ControllerConfig {
        // A self-signed certificate per controller; peers accept any (as RocketMQ's clients do
        // unless told to verify).
        tls: TlsServerConfig {
            mode: TlsMode::Enforcing,
            ..TlsServerConfig::default()
        },
        tls_client: Some(TlsClientConfig::insecure_trust_all()),
        ..test_config()
    };
    let cluster = Cluster::start(3, config).await;
    // Raft messages go only over TLS here: a leader means the peers' connections work.
    cluster.leader().await;

    let tls = ClientTls::from_config(&TlsClientConfig::insecure_trust_all()).expect("tls");
    let broker = client(&cluster, Some(tls));
    let register = cluster.register_request(0);
    let info = ferromq_testkit::eventually_ok(Duration::from_secs(10), "register over TLS", || {
        broker.register(&register)
    })
    .await;
    assert!(
        info.master_addr.is_some(),
        "the first broker became master: {info:?}"
    );
    assert_eq!(info.group, GROUP, "{info:?}");
    let read = broker
        .replica_info(GROUP)
        .await
        .expect("replica info over TLS");
    assert_eq!(read.group, GROUP, "{read:?}");
    assert_eq!(read.master_epoch, info.master_epoch);

    // Plaintext to enforcing controllers: refused, and the state is unchanged.
    let plain = client(&cluster, None);
    assert!(plain.replica_info(GROUP).await.is_err());
    assert!(plain.register(&cluster.register_request(1)).await.is_err());
    let after = broker.replica_info(GROUP).await.expect("replica info");
    assert_eq!(after, read, "a plaintext client changed nothing");

    plain.shutdown().await;
    broker.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permissive_controller_serves_tls_and_plaintext_brokers() {
    let config = ControllerConfig {
        tls: TlsServerConfig {
            mode: TlsMode::Permissive,
            ..TlsServerConfig::default()
        },
        ..test_config()
    };
    let cluster = Cluster::start(1, config).await;
    cluster.leader().await;
    let tls = ClientTls::from_config(&TlsClientConfig::insecure_trust_all()).expect("tls");
    let secure = client(&cluster, Some(tls));
    let plain = client(&cluster, None);
    let register = cluster.register_request(0);
    ferromq_testkit::eventually_ok(Duration::from_secs(10), "register over TLS", || {
        secure.register(&register)
    })
    .await;
    plain
        .register(&cluster.register_request(1))
        .await
        .expect("plaintext register");
    let info = plain.replica_info(GROUP).await.expect("info");
    assert_eq!(info.group, GROUP, "{info:?}");
    secure.shutdown().await;
    plain.shutdown().await;
    cluster.shutdown().await;
}
