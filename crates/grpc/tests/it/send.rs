//! SendMessage of every kind over a real TCP connection, checked against what the broker stored;
//! and EndTransaction.

use crate::common;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{message, request, resource, wait_for_messages, Fixture};
use ferromq_proto::v2::{
    settings::PubSub, telemetry_command::Command, ClientType, EndTransactionRequest, MessageType,
    Publishing, SendMessageRequest, Settings, TelemetryCommand, TransactionResolution,
    TransactionSource,
};
use ferromq_proto::Code;

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("millis fit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_message_over_tls_is_stored_with_body_and_properties() {
    let f = Fixture::start().await;
    f.create_topic("orders", 4, None);
    let mut client = f.tls().await;

    let mut m = message("orders", "0000000000000000000000000000000001", b"hello v5");
    let sys = m.system_properties.as_mut().expect("set");
    sys.tag = Some("paid".to_owned());
    sys.keys = vec!["k1".to_owned(), "k2".to_owned()];
    sys.message_type = MessageType::Normal as i32;
    m.user_properties = BTreeMap::from([("region".to_owned(), "eu".to_owned())]);
    let reply = client
        .send_message(request(
            "producer-1",
            SendMessageRequest { messages: vec![m] },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(reply.entries.len(), 1);
    let entry = &reply.entries[0];
    assert_eq!(entry.message_id, "0000000000000000000000000000000001");
    assert!(entry.transaction_id.is_empty());

    let stored = wait_for_messages(&f.service(), "orders", 1).await;
    assert_eq!(stored.len(), 1, "exactly the one message sent: {stored:?}");
    let s = &stored[0];
    assert_eq!(s.body, b"hello v5");
    assert_eq!(i64::try_from(s.queue_offset).expect("fits"), entry.offset);
    assert_eq!(s.properties["TAGS"], "paid");
    assert_eq!(s.properties["KEYS"], "k1 k2");
    assert_eq!(
        s.properties["UNIQ_KEY"],
        "0000000000000000000000000000000001"
    );
    assert_eq!(s.properties["region"], "eu");
    assert!(!s.properties.contains_key("__SHARDINGKEY"));
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_messages_of_one_group_share_a_queue_in_send_order() {
    let f = Fixture::start().await;
    f.create_topic("fifo-topic", 8, Some("FIFO"));
    let mut client = f.plain().await;
    let groups = ["group-a", "group-b", "group-c"];
    for i in 0..6 {
        for g in groups {
            let mut m = message(
                "fifo-topic",
                &format!("{g}-{i}"),
                format!("{g}:{i}").as_bytes(),
            );
            let sys = m.system_properties.as_mut().expect("set");
            sys.message_group = Some(g.to_owned());
            sys.message_type = MessageType::Fifo as i32;
            // The server chooses the queue from the group; the client's choice is ignored.
            sys.queue_id = 7;
            let reply = client
                .send_message(request("p", SendMessageRequest { messages: vec![m] }))
                .await
                .expect("rpc")
                .into_inner();
            let status = reply.status.expect("status");
            assert_eq!(status.code(), Code::Ok, "{}", status.message);
        }
    }
    let stored = wait_for_messages(&f.service(), "fifo-topic", 18).await;
    assert_eq!(stored.len(), 18);
    for g in groups {
        let of_group: Vec<_> = stored
            .iter()
            .filter(|s| s.properties.get("__SHARDINGKEY").map(String::as_str) == Some(g))
            .collect();
        assert_eq!(of_group.len(), 6, "group {g}");
        let queue = of_group[0].queue_id;
        assert!(
            of_group.iter().all(|s| s.queue_id == queue),
            "group {g} spread over queues"
        );
        let bodies: Vec<String> = of_group
            .iter()
            .map(|s| String::from_utf8(s.body.clone()).expect("utf8"))
            .collect();
        let expected: Vec<String> = (0..6).map(|i| format!("{g}:{i}")).collect();
        assert_eq!(bodies, expected, "group {g} out of order");
    }
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_message_is_delivered_not_before_its_timestamp() {
    let f = Fixture::start().await;
    f.create_topic("delayed", 2, Some("DELAY"));
    let mut client = f.plain().await;
    let deliver_at = now_ms() + 1_500;
    let mut m = message("delayed", "delay-1", b"later");
    let sys = m.system_properties.as_mut().expect("set");
    sys.message_type = MessageType::Delay as i32;
    sys.delivery_timestamp = Some(prost_types::Timestamp {
        seconds: deliver_at / 1000,
        nanos: i32::try_from(deliver_at % 1000).expect("fits") * 1_000_000,
    });
    let reply = client
        .send_message(request("p", SendMessageRequest { messages: vec![m] }))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);

    let stored = wait_for_messages(&f.service(), "delayed", 1).await;
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert_eq!(s.body, b"later");
    // The timer keeps the requested delivery time on the message it delivers.
    assert_eq!(s.properties["TIMER_OUT_MS"], deliver_at.to_string());
    assert!(
        s.store_timestamp >= deliver_at,
        "delivered early: stored at {} for {deliver_at}",
        s.store_timestamp
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_half_messages_wait_for_end_transaction() {
    let f = Fixture::start().await;
    f.create_topic("tx-topic", 2, Some("TRANSACTION"));
    let mut client = f.tls().await;
    let mut ids = Vec::new();
    for (id, body) in [("tx-commit", "commit me"), ("tx-rollback", "roll me back")] {
        let mut m = message("tx-topic", id, body.as_bytes());
        let sys = m.system_properties.as_mut().expect("set");
        sys.message_type = MessageType::Transaction as i32;
        let reply = client
            .send_message(request("p", SendMessageRequest { messages: vec![m] }))
            .await
            .expect("rpc")
            .into_inner();
        let status = reply.status.expect("status");
        assert_eq!(status.code(), Code::Ok, "{}", status.message);
        let tx = reply.entries[0].transaction_id.clone();
        assert!(!tx.is_empty(), "a transaction id for {id}");
        ids.push((id, tx));
    }
    let end = |id: &str, tx: &str, resolution: TransactionResolution| EndTransactionRequest {
        topic: resource("tx-topic"),
        message_id: id.to_owned(),
        transaction_id: tx.to_owned(),
        resolution: resolution as i32,
        source: TransactionSource::SourceClient as i32,
        trace_context: String::new(),
    };
    for (id, tx) in &ids {
        let resolution = if *id == "tx-commit" {
            TransactionResolution::Commit
        } else {
            TransactionResolution::Rollback
        };
        let reply = client
            .end_transaction(request("p", end(id, tx, resolution)))
            .await
            .expect("rpc")
            .into_inner();
        let status = reply.status.expect("status");
        assert_eq!(status.code(), Code::Ok, "{id}: {}", status.message);
    }
    // Stores are dispatched in commit-log order: once the committed message is readable, so is
    // anything stored before it, such as a half message leaking into the topic.
    let stored = wait_for_messages(&f.service(), "tx-topic", 1).await;
    assert_eq!(stored.len(), 1, "only the committed message: {stored:?}");
    assert_eq!(stored[0].body, b"commit me");
    assert_eq!(stored[0].properties["UNIQ_KEY"], "tx-commit");

    // A transaction id the broker never issued gets a status, not a hang or a crash.
    let reply = client
        .end_transaction(request(
            "p",
            end("x", "not-a-transaction-id", TransactionResolution::Commit),
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::InvalidTransactionId);
    assert!(!status.message.is_empty());
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_stored_in_one_queue_in_order() {
    let f = Fixture::start().await;
    f.create_topic("batched", 4, None);
    let mut client = f.plain().await;
    let messages = (0..5)
        .map(|i| message("batched", &format!("b-{i}"), format!("body {i}").as_bytes()))
        .collect();
    let reply = client
        .send_message(request("p", SendMessageRequest { messages }))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(reply.entries.len(), 5);
    let offsets: Vec<i64> = reply.entries.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, (offsets[0]..offsets[0] + 5).collect::<Vec<_>>());

    let stored = wait_for_messages(&f.service(), "batched", 5).await;
    assert_eq!(stored.len(), 5);
    assert!(stored.iter().all(|s| s.queue_id == stored[0].queue_id));
    let bodies: Vec<&[u8]> = stored.iter().map(|s| s.body.as_slice()).collect();
    let expected: Vec<Vec<u8>> = (0..5).map(|i| format!("body {i}").into_bytes()).collect();
    assert_eq!(
        bodies,
        expected.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    let ids: Vec<&str> = stored
        .iter()
        .map(|s| s.properties["UNIQ_KEY"].as_str())
        .collect();
    assert_eq!(ids, ["b-0", "b-1", "b-2", "b-3", "b-4"]);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sends_get_a_status_with_a_message_and_store_nothing() {
    let f = Fixture::start().await;
    f.create_topic("plain", 2, None);
    let client = f.plain().await;
    let send = |m| {
        let mut client = client.clone();
        async move {
            let reply = client
                .send_message(request("p", SendMessageRequest { messages: vec![m] }))
                .await
                .expect("rpc answered")
                .into_inner();
            reply.status.expect("status")
        }
    };

    let s = send(message("no-such-topic", "a", b"x")).await;
    assert_eq!(s.code(), Code::TopicNotFound);
    assert!(s.message.contains("no-such-topic"), "{}", s.message);

    let s = send(message("plain", "big", &vec![b'x'; 4 * 1024 * 1024 + 1])).await;
    assert_eq!(s.code(), Code::MessageBodyTooLarge);
    assert!(!s.message.is_empty());

    let mut fifo = message("plain", "fifo", b"x");
    fifo.system_properties.as_mut().expect("set").message_group = Some("g".to_owned());
    let s = send(fifo).await;
    assert_eq!(s.code(), Code::MessagePropertyConflictWithType);
    assert!(s.message.contains("NORMAL"), "{}", s.message);

    let s = send(message("plain", "", b"x")).await;
    assert_eq!(s.code(), Code::IllegalMessageId);

    let mut reserved = message("plain", "r", b"x");
    reserved
        .user_properties
        .insert("UNIQ_KEY".to_owned(), "forged".to_owned());
    let s = send(reserved).await;
    assert_eq!(s.code(), Code::IllegalMessagePropertyKey);

    let mut control = message("plain", "c", b"x");
    control
        .user_properties
        .insert("k".to_owned(), "a\u{1}b".to_owned());
    let s = send(control).await;
    assert_eq!(s.code(), Code::IllegalMessagePropertyKey);

    let s = send(message("plain", "empty", b"")).await;
    assert_eq!(s.code(), Code::MessageBodyEmpty);

    // The server keeps serving: a good message after all of that goes through, and (dispatch
    // following the commit log's order) it is the only one stored.
    let s = send(message("plain", "good", b"fine")).await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    let stored = wait_for_messages(&f.service(), "plain", 1).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].body, b"fine");
    drop(client);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolved_transaction_is_checked_through_the_producer_telemetry_stream() {
    let f = Fixture::start_with(|c| {
        c.transaction_check_interval_ms = 100;
        c.transaction_timeout_ms = 0;
    })
    .await;
    f.create_topic("checked", 1, Some("TRANSACTION"));
    let mut client = f.tls().await;

    // The producer's session: settings naming the topic it publishes to.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(Command::Settings(Settings {
            client_type: Some(ClientType::Producer as i32),
            pub_sub: Some(PubSub::Publishing(Publishing {
                topics: vec![resource("checked").expect("resource")],
                ..Publishing::default()
            })),
            ..Settings::default()
        })),
    })
    .await
    .expect("queue settings");
    let mut stream = client
        .telemetry(request(
            "tx-producer",
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .await
        .expect("telemetry")
        .into_inner();
    let first = stream
        .message()
        .await
        .expect("read")
        .expect("settings answer");
    assert!(matches!(first.command, Some(Command::Settings(_))));

    let mut m = message("checked", "orphan-1", b"decide later");
    let sys = m.system_properties.as_mut().expect("set");
    sys.message_type = MessageType::Transaction as i32;
    sys.tag = Some("t1".to_owned());
    let reply = client
        .send_message(request(
            "tx-producer",
            SendMessageRequest { messages: vec![m] },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);

    // The broker asks the producer about the transaction it never ended.
    let check = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let next = stream.message().await.expect("read").expect("a command");
            if let Some(Command::RecoverOrphanedTransactionCommand(c)) = next.command {
                break c;
            }
        }
    })
    .await
    .expect("the broker pushes a transaction check");
    let asked = check.message.expect("the half message");
    assert_eq!(asked.body.as_ref(), b"decide later");
    assert_eq!(asked.topic.expect("topic").name, "checked");
    let sys = asked.system_properties.expect("system properties");
    assert_eq!(sys.message_id, "orphan-1");
    assert_eq!(sys.tag.as_deref(), Some("t1"));
    assert_eq!(sys.message_type(), MessageType::Transaction);

    let reply = client
        .end_transaction(request(
            "tx-producer",
            EndTransactionRequest {
                topic: resource("checked"),
                message_id: "orphan-1".to_owned(),
                transaction_id: check.transaction_id,
                resolution: TransactionResolution::Commit as i32,
                source: TransactionSource::SourceServerCheck as i32,
                trace_context: String::new(),
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    let stored = wait_for_messages(&f.service(), "checked", 1).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, b"decide later");
    assert_eq!(stored[0].properties["UNIQ_KEY"], "orphan-1");
    drop(tx);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_send_is_timed_by_method_and_answer() {
    use ferromq_broker::rpc_latency::GrpcAnswer;
    let f = Fixture::start().await;
    f.create_topic("timed", 1, None);
    let mut client = f.plain().await;
    let send = |topic: &str, id: &str| {
        request(
            "producer-timed",
            SendMessageRequest {
                messages: vec![message(topic, id, b"timed")],
            },
        )
    };
    for i in 0..3 {
        let reply = client
            .send_message(send("timed", &format!("{i:034}")))
            .await
            .expect("rpc")
            .into_inner();
        assert_eq!(reply.status.expect("status").code(), Code::Ok);
    }
    // A topic name no broker accepts: answered with an error status, timed under that code.
    let refused = client
        .send_message(send("bad topic!", &format!("{:034}", 9)))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_ne!(refused.code(), Code::Ok);

    let sends: Vec<_> = f
        .service()
        .metrics()
        .grpc
        .into_iter()
        .filter(|c| c.method == "SendMessage")
        .map(|c| (c.answer, c.buckets.iter().sum::<u64>()))
        .collect();
    let mut want = vec![
        (GrpcAnswer::Code(Code::Ok as i32), 3),
        (GrpcAnswer::Code(refused.code), 1),
    ];
    want.sort();
    assert_eq!(sends, want);
    f.shutdown().await;
}
