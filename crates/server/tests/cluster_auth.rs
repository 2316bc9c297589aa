//! ACL between ferromq's own servers, in controller mode over real TCP: a controller with
//! authentication on takes only brokers signing with the inner credentials; a replica mirrors its
//! master's users and ACLs; once the controller elects it, it enforces them (a user created on the
//! old master after the replica started may send, a user deleted there is refused).
//!
//! Here rather than with the broker's tests because it starts a controller in process (see
//! `controller_mode.rs`).

#[path = "../../broker/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{call, props, send_header};
use ferromq_auth::wire::{AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use ferromq_auth::Credentials;
use ferromq_broker::config::auth::{InitUser, InnerCredentials as BrokerCredentials};
use ferromq_broker::{Broker, BrokerConfig, BrokerHandle, BrokerRole};
use ferromq_controller::config::InnerCredentials;
use ferromq_controller::{Controller, ControllerConfig, ControllerHandle};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::headers::send::SendMessageRequestHeaderV2;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_testkit::broker_config;
use tokio::net::TcpListener;

const TOPIC: &str = "Guarded";
const GROUP: &str = "broker-a";
const T: Duration = Duration::from_secs(20);
const ROOT: (&str, &str) = ("root", "root-secret");
const BOB: (&str, &str) = ("bob", "bob-secret");
const CAROL: (&str, &str) = ("carol", "carol-secret");

struct Env {
    ns: NameServerHandle,
    controller: ControllerHandle,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns = NameServer::start(
            NameServerConfig::default(),
            TcpListener::bind("127.0.0.1:0").await.expect("bind ns"),
        )
        .expect("ns starts");
        let config = ControllerConfig {
            node_id: 1,
            data_dir: dir.path().join("controller"),
            master_timeout: Duration::from_millis(1500),
            check_interval: Duration::from_millis(100),
            raft_heartbeat_interval: Duration::from_millis(50),
            raft_election_timeout: Duration::from_millis(300),
            write_timeout: Duration::from_millis(1500),
            authentication_enabled: true,
            inner_client_authentication_credentials: Some(InnerCredentials {
                access_key: ROOT.0.into(),
                secret_key: ROOT.1.into(),
            }),
            ..ControllerConfig::default()
        };
        let controller = Controller::start(
            config,
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        )
        .await
        .expect("controller starts");
        Env {
            ns,
            controller,
            dir,
        }
    }

    fn config(&self, id: i64) -> BrokerConfig {
        let mut c = broker_config(
            &self.dir.path().join(format!("b{id}")),
            &[self.ns.local_addr().to_string()],
        );
        c.broker_name = GROUP.into();
        c.broker_id = id;
        c.broker_role = BrokerRole::SyncMaster;
        c.enable_controller_mode = true;
        c.controller_addrs = vec![self.controller.local_addr().to_string()];
        c.ha_listen_port = Some(0);
        c.broker_heartbeat_interval_ms = 200;
        c.controller_lease_ms = 1000;
        c.sync_flush_timeout_ms = 3000;
        c.authentication_enabled = true;
        c.authorization_enabled = true;
        c.init_authentication_user = Some(InitUser {
            username: ROOT.0.into(),
            password: ROOT.1.into(),
        });
        c.inner_client_authentication_credentials = Some(BrokerCredentials {
            access_key: ROOT.0.into(),
            secret_key: ROOT.1.into(),
        });
        c
    }

    async fn broker(&self, id: i64) -> BrokerHandle {
        Broker::start(
            self.config(id),
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        )
        .await
        .expect("broker starts")
    }

    fn sync_set(&self) -> Vec<u64> {
        self.controller
            .replica_info(GROUP)
            .map(|i| i.sync_state_set.into_iter().collect())
            .unwrap_or_default()
    }
}

async fn eventually(what: &str, cond: impl FnMut() -> bool) {
    ferromq_testkit::eventually_holds(T, what, cond).await;
}

async fn client(b: &BrokerHandle) -> Client {
    Client::connect(b.local_addr().to_string(), ClientConfig::default())
        .await
        .expect("connect")
}

fn signed(mut cmd: RemotingCommand, (ak, sk): (&str, &str)) -> RemotingCommand {
    Credentials::new(ak, sk).sign(&mut cmd);
    cmd
}

fn send(body: &str, who: (&str, &str)) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2::from(send_header(
        TOPIC,
        0,
        &props(None, None, &format!("U-{body}")),
    ));
    let cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&header)
        .with_body(body.as_bytes().to_vec());
    signed(cmd, who)
}

async fn create_user(c: &Client, (name, password): (&str, &str)) {
    let info = UserInfo {
        username: Some(name.into()),
        password: Some(password.into()),
        user_type: Some("Normal".into()),
        user_status: None,
    };
    let cmd = RemotingCommand::request(RequestCode::AUTH_CREATE_USER)
        .with_ext("username", name)
        .with_body(serde_json::to_vec(&info).expect("json"));
    let resp = call(c, signed(cmd, ROOT)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let acl = AclInfo {
        subject: Some(format!("User:{name}")),
        policies: vec![PolicyInfo {
            policy_type: None,
            entries: vec![
                PolicyEntryInfo {
                    resource: format!("Topic:{TOPIC}"),
                    actions: vec!["Pub".into(), "Sub".into()],
                    source_ips: Vec::new(),
                    decision: "Allow".into(),
                },
                PolicyEntryInfo {
                    resource: "Group:cg".into(),
                    actions: vec!["Sub".into()],
                    source_ips: Vec::new(),
                    decision: "Allow".into(),
                },
            ],
        }],
    };
    let cmd = RemotingCommand::request(RequestCode::AUTH_CREATE_ACL)
        .with_ext("subject", format!("User:{name}"))
        .with_body(serde_json::to_vec(&acl).expect("json"));
    let resp = call(c, signed(cmd, ROOT)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

/// GET_MAX_OFFSET of the topic's queue 0, as `who`.
async fn max_offset(c: &Client, who: (&str, &str)) -> RemotingCommand {
    let cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET)
        .with_ext("topic", TOPIC)
        .with_ext("queueId", "0");
    call(c, signed(cmd, who)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_replica_enforces_the_users_it_mirrored_and_the_controller_takes_only_signed_brokers(
) {
    let env = Env::start().await;

    // A controller with authentication on refuses an unsigned registration.
    let controller = Client::connect(
        env.controller.local_addr().to_string(),
        ClientConfig::default(),
    )
    .await
    .expect("connect controller");
    let forged = ferromq_controller::protocol::RegisterRequest {
        cluster: "DefaultCluster".into(),
        group: GROUP.into(),
        broker_id: 9,
        addr: "127.0.0.1:1".into(),
        ha_addr: "127.0.0.1:2".into(),
    };
    let resp = call(&controller, forged.to_command()).await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::NO_PERMISSION,
        "{resp:?}"
    );
    let remark = resp.remark.clone().unwrap_or_default();
    assert!(remark.contains("not signed"), "{remark}");

    // The brokers sign with the inner credentials: registered, elected, replicated.
    let a = env.broker(1).await;
    eventually("broker 1 is master", || a.role() == BrokerRole::SyncMaster).await;
    let b = env.broker(2).await;
    eventually("broker 2 joins the sync-state set", || {
        env.sync_set() == vec![1, 2]
    })
    .await;

    // Users changed on the master after the replica started.
    let ca = client(&a).await;
    create_user(&ca, BOB).await;
    create_user(&ca, CAROL).await;
    let delete =
        RemotingCommand::request(RequestCode::AUTH_DELETE_USER).with_ext("username", CAROL.0);
    let resp = call(&ca, signed(delete, ROOT)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let resp = call(&ca, send("before", BOB)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");

    let cb = client(&b).await;
    ferromq_testkit::eventually(T, "the replica takes bob", || async {
        (max_offset(&cb, BOB).await.response_code() == ResponseCode::SUCCESS).then_some(())
    })
    .await;

    a.shutdown().await;
    eventually("broker 2 is elected", || b.role() == BrokerRole::SyncMaster).await;
    assert!(!env.sync_set().contains(&9), "the forged broker is nowhere");
    let resp = call(&cb, send("after", BOB)).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let resp = call(&cb, send("carol", CAROL)).await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::NO_PERMISSION,
        "{resp:?}"
    );
    let remark = resp.remark.unwrap_or_default();
    assert!(remark.contains("user carol is not found"), "{remark}");

    assert!(b.wait_readable(T).await, "indexed");
    let pull = signed(common::pull_request("cg", TOPIC, 0, 0, "*", None), BOB);
    let resp = call(&cb, pull).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let bodies: Vec<Vec<u8>> = common::decode(resp.body.as_deref().expect("body"))
        .into_iter()
        .map(|(_, body, _, _)| body)
        .collect();
    assert_eq!(bodies, vec![b"before".to_vec(), b"after".to_vec()]);

    drop((ca, cb, controller));
    b.shutdown().await;
    env.controller.shutdown().await;
    env.ns.shutdown().await;
}
