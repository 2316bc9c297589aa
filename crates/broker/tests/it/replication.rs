//! Master/replica replication over real TCP: a SYNC_MASTER answers a send only once its replica holds
//! the bytes, answers SLAVE_NOT_AVAILABLE without one; a replica learns its master from the name
//! server, refuses sends, serves every message by offset with the master's bytes, and catches up
//! after a restart.

use crate::common;

use common::{call, client_of, pull_all, send_v2, start_replica, TestCluster, T};
use ferromq_broker::{BrokerConfig, BrokerHandle, BrokerRole};
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_net::Client;
use ferromq_remoting::headers::offset::{
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use ferromq_remoting::headers::query::ViewMessageRequestHeader;
use ferromq_remoting::headers::send::SendMessageResponseHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_testkit::{eventually_holds, eventually_ok};

const TOPIC: &str = "Replicated";

/// Waits until `replica` holds everything below `end` of `master`'s log (the master may write more
/// meanwhile, its broker trace for one), failing with both ends.
async fn caught_up(master: &BrokerHandle, replica: &BrokerHandle, end: u64) {
    eventually_ok(T, "the replica to catch up", || {
        let at = replica.commit_log_end();
        std::future::ready(if at >= end {
            Ok(())
        } else {
            Err(format!(
                "replica at {at} of the master's {end} (now {})",
                master.commit_log_end()
            ))
        })
    })
    .await;
}

fn msg_id(resp: &RemotingCommand) -> String {
    let h: SendMessageResponseHeader = resp.decode_header().expect("send response header");
    h.msg_id
}

/// The message with offset id `id`, read from `client`'s broker by its commit-log offset.
async fn body_by_offset(client: &Client, id: &str) -> Vec<u8> {
    let (_, offset) = decode_offset_msg_id(id).expect("offset id");
    let resp = call(
        client,
        RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID).with_header(
            &ViewMessageRequestHeader {
                topic: None,
                offset: i64::try_from(offset).expect("offset"),
            },
        ),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let record = resp.body.expect("record");
    match ferromq_model::record::read(&record, true).expect("valid record") {
        ferromq_model::record::Entry::Message(v) => v.body.to_vec(),
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_master_answers_once_its_replica_holds_the_message() {
    let master = TestCluster::start_with(|c| {
        c.broker_role = BrokerRole::SyncMaster;
        c.ha_listen_port = Some(0);
    })
    .await;
    let ns = master.ns().local_addr().to_string();
    let m = master.broker_client().await;

    // No replica yet: the message is stored, but the sender is told no replica holds it.
    let resp = send_v2(&m, TOPIC, 0, None, b"lonely").await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::SLAVE_NOT_AVAILABLE,
        "{resp:?}"
    );

    // The replica finds its master's HA address through the name server.
    let replica = start_replica(&master.dir().join("replica"), &ns, 1, |_| {}).await;
    eventually_holds(T, "replica connected", || {
        master.broker().replicas().len() == 1
    })
    .await;
    let r = client_of(&replica).await;

    let mut ids = Vec::new();
    for i in 0..40 {
        let body = format!("m{i}");
        let resp = send_v2(&m, TOPIC, i % 4, None, body.as_bytes()).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
        // Answered only once the replica held it (the master may have written more since, such as
        // its broker trace).
        let id = msg_id(&resp);
        let (_, offset) = decode_offset_msg_id(&id).expect("offset id");
        assert!(
            replica.commit_log_end() > offset,
            "{id} not on the replica yet"
        );
        ids.push((id, body));
    }
    for (id, body) in &ids {
        assert_eq!(body_by_offset(&r, id).await, body.as_bytes());
    }
    let info = master.broker().replicas();
    assert!(info[0].in_sync, "{info:?}");
    let (_, last) = decode_offset_msg_id(&ids[ids.len() - 1].0).expect("offset id");
    assert!(info[0].acked > last, "{info:?}");

    // A replica refuses sends.
    let resp = send_v2(&r, TOPIC, 0, None, b"to the replica").await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::SERVICE_NOT_AVAILABLE,
        "{resp:?}"
    );

    // Losing the replica: SYNC_MASTER sends are refused again as not replicated.
    replica.shutdown().await;
    eventually_holds(T, "replica gone", || master.broker().replicas().is_empty()).await;
    let resp = send_v2(&m, TOPIC, 0, None, b"after").await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::SLAVE_NOT_AVAILABLE,
        "{resp:?}"
    );
    master.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_catches_up_from_zero_and_after_a_restart() {
    let master = TestCluster::start_with(|c| {
        c.broker_role = BrokerRole::AsyncMaster;
        c.ha_listen_port = Some(0);
        // Small segments, so the copy crosses segment ends.
        c.commit_log_file_size = 128 * 1024;
        c.max_message_size = 16 * 1024;
    })
    .await;
    let ns = master.ns().local_addr().to_string();
    let ha = master.broker().ha_addr().expect("HA listener").to_string();
    let m = master.broker_client().await;
    let mut ids = Vec::new();
    let send = |n: std::ops::Range<usize>| {
        let m = &m;
        async move {
            let mut out = Vec::new();
            for i in n {
                let body = format!("{i:05}-{}", "x".repeat(i % 700));
                let resp = send_v2(m, TOPIC, (i % 4) as i32, None, body.as_bytes()).await;
                assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
                out.push((msg_id(&resp), body));
            }
            out
        }
    };
    ids.extend(send(0..500).await);

    let replica_dir = master.dir().join("replica");
    let with_master = |c: &mut BrokerConfig| {
        c.ha_master_address = Some(ha.clone());
        c.commit_log_file_size = 128 * 1024;
        c.max_message_size = 16 * 1024;
    };
    let replica = start_replica(&replica_dir, &ns, 1, with_master).await;
    let end = master.broker().commit_log_end();
    assert!(end > 2 * 128 * 1024);
    caught_up(master.broker(), &replica, end).await;
    replica.shutdown().await;

    ids.extend(send(500..700).await);
    let replica = start_replica(&replica_dir, &ns, 1, with_master).await;
    let end = master.broker().commit_log_end();
    caught_up(master.broker(), &replica, end).await;
    let r = client_of(&replica).await;
    for (id, body) in &ids {
        assert_eq!(body_by_offset(&r, id).await, body.as_bytes(), "{id}");
    }
    // Consumers can read a queue from the replica: its topics mirror the master's, and its
    // consume queues were built from the copied log.
    let queue1: Vec<Vec<u8>> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 1)
        .map(|(_, (_, b))| b.clone().into_bytes())
        .collect();
    let pulled = pull_all(&r, TOPIC, 1, "*", queue1.len()).await;
    let bodies: Vec<Vec<u8>> = pulled.into_iter().map(|(_, b, _, _)| b).collect();
    assert_eq!(bodies, queue1);

    // An offset committed on the master reaches the replica.
    let commit = RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "cg".into(),
            topic: TOPIC.into(),
            queue_id: 1,
            commit_offset: 42,
        },
    );
    assert_eq!(
        call(&m, commit).await.response_code(),
        ResponseCode::SUCCESS
    );
    eventually_ok(T, "the offset mirrored", || async {
        let q = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET).with_header(
            &QueryConsumerOffsetRequestHeader {
                consumer_group: "cg".into(),
                topic: TOPIC.into(),
                queue_id: 1,
                set_zero_if_not_found: Some(false),
            },
        );
        let resp = call(&r, q).await;
        if resp.response_code() == ResponseCode::SUCCESS {
            let h: QueryConsumerOffsetResponseHeader = resp.decode_header().expect("header");
            if h.offset == 42 {
                return Ok(());
            }
        }
        Err(format!("offset never mirrored: {resp:?}"))
    })
    .await;
    replica.shutdown().await;
    master.shutdown().await;
}

/// A master whose `tls.server.mode` is enforcing takes replicas on its HA port only over TLS: a
/// replica with `tls.enable` replicates every message through it (a SYNC_MASTER answers each send
/// only once the replica holds it); a plaintext connection is closed without a byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_runs_over_tls_and_an_enforcing_ha_port_refuses_plaintext() {
    use ferromq_namesrv::{NameServer, NameServerConfig};
    use ferromq_net::{ClientConfig, ClientTls, TlsClientConfig, TlsMode, TlsServerConfig};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("tempdir");
    // Permissive: the master registers in plaintext, the replica (tls.enable) over TLS.
    let ns = NameServer::start(
        NameServerConfig {
            tls: TlsServerConfig {
                mode: TlsMode::Permissive,
                ..TlsServerConfig::default()
            },
            ..NameServerConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    )
    .expect("ns");
    let ns_addr = ns.local_addr().to_string();
    let mut config =
        ferromq_testkit::broker_config(&dir.path().join("master"), std::slice::from_ref(&ns_addr));
    config.broker_role = BrokerRole::SyncMaster;
    config.ha_listen_port = Some(0);
    config.tls.mode = TlsMode::Enforcing;
    let master = ferromq_testkit::start_broker(config).await;
    let ha = master.ha_addr().expect("HA listener");

    // A classic replica's opening, in plaintext: closed, nothing streamed.
    let mut plain = tokio::net::TcpStream::connect(ha).await.expect("connect");
    plain.write_all(&0u64.to_be_bytes()).await.expect("write");
    let mut buf = [0u8; 12];
    let read = tokio::time::timeout(T, plain.read(&mut buf))
        .await
        .expect("the master decides at once");
    assert!(matches!(read, Ok(0) | Err(_)), "plaintext got {read:?}");
    assert!(master.replicas().is_empty());

    let replica = start_replica(&dir.path().join("replica"), &ns_addr, 1, |c| {
        c.tls_client = Some(TlsClientConfig::insecure_trust_all());
    })
    .await;
    eventually_holds(T, "replica connected over TLS", || {
        master.replicas().len() == 1
    })
    .await;
    let tls = ClientTls::from_config(&TlsClientConfig::insecure_trust_all()).expect("client tls");
    let m = Client::connect(
        master.local_addr().to_string(),
        ClientConfig {
            tls: Some(tls),
            ..ClientConfig::default()
        },
    )
    .await
    .expect("connect master");
    let r = client_of(&replica).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = format!("tls-{i}");
        let resp = send_v2(&m, TOPIC, i % 4, None, body.as_bytes()).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
        ids.push((msg_id(&resp), body));
    }
    for (id, body) in &ids {
        assert_eq!(body_by_offset(&r, id).await, body.as_bytes());
    }
    drop((m, r));
    replica.shutdown().await;
    master.shutdown().await;
    ns.shutdown().await;
}
