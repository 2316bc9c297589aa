//! `updateTopic`, `deleteTopic`, `topicList`, `topicRoute`, `topicStatus`.

use ferromq_client::admin::TopicSpec;
use serde_json::json;

use super::Ctx;
use crate::cli::{DeleteTopicArgs, UpdateTopicArgs};
use crate::error::Failure;
use crate::report::Report;
use crate::table::{key_values, Table};
use crate::time::format_ms;

pub(super) async fn update_topic(cx: &Ctx<'_>, a: &UpdateTopicArgs) -> Result<Report, Failure> {
    let spec = TopicSpec {
        read_queue_nums: a.read_queue_nums,
        write_queue_nums: a.write_queue_nums,
        perm: a.perm,
        order: a.order,
        attributes: a.attributes.clone(),
        ..TopicSpec::new(a.topic.clone())
    };
    let brokers = match (&a.broker_addr, &a.cluster_name) {
        (Some(addr), _) => {
            cx.admin
                .create_topic_on_broker(addr, &spec)
                .await
                .map_err(|e| cx.fail(e))?;
            vec![addr.clone()]
        }
        (None, Some(cluster)) => cx
            .admin
            .create_topic(cluster, &spec)
            .await
            .map_err(|e| cx.fail(e))?,
        (None, None) => return Err(Failure::usage("give -b or -c", "")),
    };
    let json = json!({
        "topic": spec.name,
        "readQueueNums": spec.read_queue_nums,
        "writeQueueNums": spec.write_queue_nums,
        "perm": spec.perm,
        "order": spec.order,
        "brokers": brokers,
    });
    let table = format!(
        "create topic to {} success.\n{}",
        brokers.join(", "),
        key_values(&[
            ("topic", spec.name.clone()),
            ("readQueueNums", spec.read_queue_nums.to_string()),
            ("writeQueueNums", spec.write_queue_nums.to_string()),
            ("perm", spec.perm.to_string()),
            ("order", spec.order.to_string()),
        ])
    );
    Ok(Report::new(json, table))
}

pub(super) async fn delete_topic(cx: &Ctx<'_>, a: &DeleteTopicArgs) -> Result<Report, Failure> {
    let topics = cx.admin.topic_list().await.map_err(|e| cx.fail(e))?;
    if !topics.contains(&a.topic) {
        return Err(Failure::not_found(
            format!("topic {} does not exist", a.topic),
            "`ferromq admin topicList` lists the topics",
        ));
    }
    cx.admin
        .delete_topic(&a.cluster_name, &a.topic)
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(Report::new(
        json!({"topic": a.topic, "cluster": a.cluster_name, "deleted": true}),
        format!(
            "delete topic [{}] from cluster [{}] success.\n",
            a.topic, a.cluster_name
        ),
    ))
}

pub(super) async fn topic_list(cx: &Ctx<'_>) -> Result<Report, Failure> {
    let topics = cx.admin.topic_list().await.map_err(|e| cx.fail(e))?;
    let mut table = String::new();
    for t in &topics {
        table.push_str(t);
        table.push('\n');
    }
    Ok(Report::new(json!({ "topics": topics }), table))
}

pub(super) async fn topic_route(cx: &Ctx<'_>, topic: &str) -> Result<Report, Failure> {
    let route = cx.admin.topic_route(topic).await.map_err(|e| cx.fail(e))?;
    let mut brokers = Table::new(&["#Cluster", "#BrokerName", "#BrokerId", "#Addr"]);
    let mut broker_json = Vec::new();
    for b in &route.broker_datas {
        for (id, addr) in &b.broker_addrs {
            brokers.row([
                b.cluster.clone(),
                b.broker_name.clone(),
                id.to_string(),
                addr.clone(),
            ]);
        }
        broker_json.push(json!({
            "cluster": b.cluster,
            "brokerName": b.broker_name,
            "brokerAddrs": b.broker_addrs.iter().map(|(id, a)| (id.to_string(), json!(a))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    let mut queues = Table::new(&["#BrokerName", "#ReadQueueNums", "#WriteQueueNums", "#Perm"]);
    let mut queue_json = Vec::new();
    for q in &route.queue_datas {
        queues.row([
            q.broker_name.clone(),
            q.read_queue_nums.to_string(),
            q.write_queue_nums.to_string(),
            q.perm.to_string(),
        ]);
        queue_json.push(json!({
            "brokerName": q.broker_name,
            "readQueueNums": q.read_queue_nums,
            "writeQueueNums": q.write_queue_nums,
            "perm": q.perm,
        }));
    }
    Ok(Report::new(
        json!({"topic": topic, "brokers": broker_json, "queues": queue_json}),
        format!("{}\n{}", brokers.render(), queues.render()),
    ))
}

pub(super) async fn topic_status(cx: &Ctx<'_>, topic: &str) -> Result<Report, Failure> {
    let status = cx.admin.topic_status(topic).await.map_err(|e| cx.fail(e))?;
    let mut table = Table::new(&[
        "#Broker Name",
        "#QID",
        "#Min Offset",
        "#Max Offset",
        "#Last Updated",
    ]);
    let mut queues = Vec::new();
    for (mq, s) in &status {
        table.row([
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            s.min_offset.to_string(),
            s.max_offset.to_string(),
            format_ms(s.last_update_timestamp),
        ]);
        queues.push(json!({
            "brokerName": mq.broker_name,
            "queueId": mq.queue_id,
            "minOffset": s.min_offset,
            "maxOffset": s.max_offset,
            "lastUpdateTimestamp": s.last_update_timestamp,
        }));
    }
    Ok(Report::new(
        json!({"topic": topic, "queues": queues}),
        table.render(),
    ))
}
