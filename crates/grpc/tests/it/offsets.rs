//! PullMessage, UpdateOffset, GetOffset and QueryOffset over a real TCP connection, against what
//! was sent.

use crate::common;

use common::{message, request, resource, Fixture};
use ferromq_proto::v2::{
    GetOffsetRequest, MessageQueue, PullMessageRequest, QueryOffsetPolicy, QueryOffsetRequest,
    SendMessageRequest, UpdateOffsetRequest,
};
use ferromq_proto::Code;

fn mq(topic: &str, id: i32) -> Option<MessageQueue> {
    Some(MessageQueue {
        topic: resource(topic),
        id,
        ..MessageQueue::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_committed_read_back_and_queried() {
    let f = Fixture::start().await;
    f.create_topic("pulled", 1, None);
    let mut client = f.plain().await;
    for i in 0..5 {
        let reply = client
            .send_message(request(
                "p",
                SendMessageRequest {
                    messages: vec![message("pulled", &format!("{i:032}"), b"x")],
                },
            ))
            .await
            .expect("rpc")
            .into_inner();
        assert_eq!(reply.status.expect("status").code(), Code::Ok);
    }
    assert!(
        f.cluster
            .broker()
            .wait_readable(std::time::Duration::from_secs(10))
            .await
    );

    let query = |policy: QueryOffsetPolicy, timestamp| QueryOffsetRequest {
        message_queue: mq("pulled", 0),
        query_offset_policy: policy as i32,
        timestamp,
    };
    let at = |policy, ts| {
        let mut c = client.clone();
        let req = query(policy, ts);
        async move {
            let r = c
                .query_offset(request("c", req))
                .await
                .expect("rpc")
                .into_inner();
            (r.status.expect("status"), r.offset)
        }
    };
    let (s, begin) = at(QueryOffsetPolicy::Beginning, None).await;
    assert_eq!((s.code(), begin), (Code::Ok, 0), "{}", s.message);
    let (s, end) = at(QueryOffsetPolicy::End, None).await;
    assert_eq!((s.code(), end), (Code::Ok, 5), "{}", s.message);
    let (s, first) = at(
        QueryOffsetPolicy::Timestamp,
        Some(prost_types::Timestamp {
            seconds: 0,
            nanos: 0,
        }),
    )
    .await;
    assert_eq!((s.code(), first), (Code::Ok, 0), "{}", s.message);
    let (s, _) = at(QueryOffsetPolicy::Timestamp, None).await;
    assert_eq!(s.code(), Code::BadRequest);

    // Nothing committed yet.
    let get = GetOffsetRequest {
        group: resource("pull-group"),
        message_queue: mq("pulled", 0),
    };
    let r = client
        .get_offset(request("c", get.clone()))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(r.status.expect("status").code(), Code::OffsetNotFound);

    let update = |offset| UpdateOffsetRequest {
        group: resource("pull-group"),
        message_queue: mq("pulled", 0),
        offset,
    };
    let s = client
        .update_offset(request("c", update(3)))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    let r = client
        .get_offset(request("c", get.clone()))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(r.status.expect("status").code(), Code::Ok);
    assert_eq!(r.offset, 3);

    // Bad input: a negative offset, an unknown topic, no group.
    let s = client
        .update_offset(request("c", update(-1)))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(s.code(), Code::IllegalOffset, "{}", s.message);
    let r = client
        .get_offset(request(
            "c",
            GetOffsetRequest {
                group: resource("pull-group"),
                message_queue: mq("missing", 0),
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(r.status.expect("status").code(), Code::TopicNotFound);
    let r = client
        .get_offset(request(
            "c",
            GetOffsetRequest {
                group: None,
                message_queue: mq("pulled", 0),
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(r.status.expect("status").code(), Code::IllegalConsumerGroup);
    f.shutdown().await;
}

async fn pull(
    client: &mut ferromq_grpc::pb::messaging_service_client::MessagingServiceClient<
        tonic::transport::Channel,
    >,
    offset: i64,
    poll_ms: i32,
) -> (ferromq_proto::Status, Vec<String>, Option<i64>) {
    use ferromq_proto::v2::pull_message_response::Content;
    let mut stream = client
        .pull_message(request(
            "c",
            PullMessageRequest {
                group: resource("pull-group"),
                message_queue: mq("pulled", 0),
                offset,
                batch_size: 3,
                filter_expression: None,
                long_polling_timeout: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: poll_ms * 1_000_000,
                }),
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let (mut status, mut bodies, mut next) = (None, Vec::new(), None);
    while let Some(item) = stream.message().await.expect("stream") {
        match item.content.expect("content") {
            Content::Status(s) => status = Some(s),
            Content::Message(m) => bodies.push(String::from_utf8(m.body.to_vec()).expect("utf8")),
            Content::NextOffset(o) => next = Some(o),
        }
    }
    (status.expect("a status"), bodies, next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_reads_a_queue_from_an_offset_in_order() {
    let f = Fixture::start().await;
    f.create_topic("pulled", 1, None);
    let mut client = f.plain().await;
    for i in 0..5 {
        let reply = client
            .send_message(request(
                "p",
                SendMessageRequest {
                    messages: vec![message(
                        "pulled",
                        &format!("{i:032}"),
                        format!("m{i}").as_bytes(),
                    )],
                },
            ))
            .await
            .expect("rpc")
            .into_inner();
        assert_eq!(reply.status.expect("status").code(), Code::Ok);
    }
    assert!(
        f.cluster
            .broker()
            .wait_readable(std::time::Duration::from_secs(10))
            .await
    );
    let (s, bodies, next) = pull(&mut client, 0, 100).await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    assert_eq!(bodies, ["m0", "m1", "m2"]);
    assert_eq!(next, Some(3));
    let (s, bodies, next) = pull(&mut client, 3, 100).await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    assert_eq!(bodies, ["m3", "m4"]);
    assert_eq!(next, Some(5));
    // At the end: nothing within the long poll.
    let (s, bodies, next) = pull(&mut client, 5, 200).await;
    assert_eq!(s.code(), Code::MessageNotFound, "{}", s.message);
    assert!(bodies.is_empty());
    assert_eq!(next, Some(5));
    // Past the end: told where to continue.
    let (s, bodies, next) = pull(&mut client, 50, 100).await;
    assert_eq!(s.code(), Code::IllegalOffset, "{}", s.message);
    assert!(bodies.is_empty());
    assert_eq!(next, Some(5));
    let (s, _, _) = pull(&mut client, -1, 100).await;
    assert_eq!(s.code(), Code::IllegalOffset, "{}", s.message);
    f.shutdown().await;
}
