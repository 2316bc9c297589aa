//! Consumer groups: `updateSubGroup`, `deleteSubGroup`, `consumerProgress`,
//! `consumerConnection`, `resetOffsetByTime`.

use ferromq_client::admin::{ConsumerProgress, GroupSpec};
use ferromq_client::ClientError;
use ferromq_remoting::ResponseCode;
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::{
    ConsumerProgressArgs, DeleteSubGroupArgs, ProducerConnectionArgs, ResetOffsetByTimeArgs,
    UpdateSubGroupArgs,
};
use crate::error::Failure;
use crate::report::Report;
use crate::table::{key_values, Table};
use crate::time::{format_ms, parse_timestamp};

pub(super) async fn update_sub_group(
    cx: &Ctx<'_>,
    a: &UpdateSubGroupArgs,
) -> Result<Report, Failure> {
    let spec = GroupSpec {
        consume_enable: a.consume_enable,
        consume_broadcast_enable: a.consume_broadcast_enable,
        consume_message_orderly: a.consume_message_orderly,
        retry_queue_nums: a.retry_queue_nums,
        retry_max_times: a.retry_max_times,
        ..GroupSpec::new(a.group.clone())
    };
    let brokers = match (&a.broker_addr, &a.cluster_name) {
        (Some(addr), _) => vec![addr.clone()],
        (None, Some(cluster)) => cx
            .admin
            .cluster_master_addrs(cluster)
            .await
            .map_err(|e| cx.fail(e))?,
        (None, None) => return Err(Failure::usage("give -b or -c", "")),
    };
    for addr in &brokers {
        cx.admin
            .create_consumer_group_on_broker(addr, &spec)
            .await
            .map_err(|e| cx.fail(e))?;
    }
    let json = json!({
        "groupName": spec.name,
        "consumeEnable": spec.consume_enable,
        "consumeBroadcastEnable": spec.consume_broadcast_enable,
        "consumeMessageOrderly": spec.consume_message_orderly,
        "retryQueueNums": spec.retry_queue_nums,
        "retryMaxTimes": spec.retry_max_times,
        "brokers": brokers,
    });
    let table = format!(
        "create subscription group to {} success.\n{}",
        brokers.join(", "),
        key_values(&[
            ("groupName", spec.name.clone()),
            ("retryMaxTimes", spec.retry_max_times.to_string()),
            ("retryQueueNums", spec.retry_queue_nums.to_string()),
            ("consumeEnable", spec.consume_enable.to_string()),
            (
                "consumeMessageOrderly",
                spec.consume_message_orderly.to_string()
            ),
        ])
    );
    Ok(Report::new(json, table))
}

pub(super) async fn delete_sub_group(
    cx: &Ctx<'_>,
    a: &DeleteSubGroupArgs,
) -> Result<Report, Failure> {
    let groups = cx
        .admin
        .consumer_groups(&a.cluster_name)
        .await
        .map_err(|e| cx.fail(e))?;
    if !groups.contains_key(&a.group) {
        return Err(Failure::not_found(
            format!(
                "consumer group {} does not exist in cluster {}",
                a.group, a.cluster_name
            ),
            "`ferromq admin consumerProgress` lists the groups",
        ));
    }
    let brokers = cx
        .admin
        .delete_consumer_group(&a.cluster_name, &a.group, a.remove_offset)
        .await
        .map_err(|e| cx.fail(e))?;
    Ok(Report::new(
        json!({"groupName": a.group, "cluster": a.cluster_name, "removeOffset": a.remove_offset, "brokers": brokers}),
        format!(
            "delete subscription group [{}] from {} success.\n",
            a.group,
            brokers.join(", ")
        ),
    ))
}

/// The serde (Java constant) name of a wire enum, empty when absent.
fn enum_name(v: &impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A group that never connected has no retry topic, hence no route: that is "not found".
fn group_failure(cx: &Ctx<'_>, group: &str, e: ClientError) -> Failure {
    if e.code() == Some(ResponseCode::TOPIC_NOT_EXIST) {
        return Failure::not_found(
            format!(
                "consumer group {group} not found: it has no offsets and no consumer has connected"
            ),
            "`ferromq admin consumerProgress` lists the groups; check the name",
        );
    }
    cx.fail(e)
}

fn progress_json(group: &str, p: &ConsumerProgress) -> Value {
    let queues: Vec<Value> = p
        .queues
        .iter()
        .map(|(mq, q)| {
            json!({
                "topic": mq.topic,
                "brokerName": mq.broker_name,
                "queueId": mq.queue_id,
                "brokerOffset": q.broker_offset,
                "consumerOffset": q.consumer_offset,
                "lag": q.lag(),
                "lastTimestamp": q.last_timestamp,
            })
        })
        .collect();
    json!({"group": group, "consumeTps": p.consume_tps, "totalLag": p.total_lag(), "queues": queues})
}

pub(super) async fn consumer_progress(
    cx: &Ctx<'_>,
    a: &ConsumerProgressArgs,
) -> Result<Report, Failure> {
    let Some(group) = &a.group else {
        return all_groups(cx).await;
    };
    let p = cx
        .admin
        .consumer_progress(group, a.topic.as_deref())
        .await
        .map_err(|e| group_failure(cx, group, e))?;
    let mut table = Table::new(&[
        "#Topic",
        "#Broker Name",
        "#QID",
        "#Broker Offset",
        "#Consumer Offset",
        "#Diff",
        "#LastTime",
    ]);
    for (mq, q) in &p.queues {
        table.row([
            mq.topic.clone(),
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            q.broker_offset.to_string(),
            q.consumer_offset.to_string(),
            q.lag().to_string(),
            format_ms(q.last_timestamp),
        ]);
    }
    let text = format!(
        "{}\nConsume TPS: {:.2}\nDiff Total: {}\n",
        table.render(),
        p.consume_tps,
        p.total_lag()
    );
    Ok(Report::new(progress_json(group, &p), text))
}

async fn all_groups(cx: &Ctx<'_>) -> Result<Report, Failure> {
    let info = cx.admin.cluster_info().await.map_err(|e| cx.fail(e))?;
    let mut names = std::collections::BTreeSet::new();
    for cluster in info.cluster_addr_table.keys() {
        let groups = cx
            .admin
            .consumer_groups(cluster)
            .await
            .map_err(|e| cx.fail(e))?;
        names.extend(groups.into_keys());
    }
    let mut table = Table::new(&["#Group", "#TPS", "#Diff Total"]);
    let mut out = Vec::new();
    for g in names {
        // A group without a connected consumer or offsets yet has no progress to show.
        let p = cx.admin.consumer_progress(&g, None).await.ok();
        let lag = p.as_ref().map(ConsumerProgress::total_lag);
        let tps = p.as_ref().map(|p| p.consume_tps);
        table.row([
            g.clone(),
            tps.map(|t| format!("{t:.2}")).unwrap_or_default(),
            lag.map(|l| l.to_string()).unwrap_or_default(),
        ]);
        out.push(json!({"group": g, "consumeTps": tps, "totalLag": lag}));
    }
    Ok(Report::new(json!({ "groups": out }), table.render()))
}

pub(super) async fn consumer_connection(cx: &Ctx<'_>, group: &str) -> Result<Report, Failure> {
    let c = cx
        .admin
        .consumer_connection(group)
        .await
        .map_err(|e| group_failure(cx, group, e))?;
    let mut conns = Table::new(&["#ClientId", "#ClientAddr", "#Language", "#Version"]);
    let mut conn_json = Vec::new();
    let mut sorted = c.connection_set.clone();
    sorted.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    for k in &sorted {
        let language = k.language.name().map(str::to_owned).unwrap_or_default();
        conns.row([
            k.client_id.clone(),
            k.client_addr.clone(),
            language.clone(),
            k.version.to_string(),
        ]);
        conn_json.push(json!({"clientId": k.client_id, "clientAddr": k.client_addr, "language": language, "version": k.version}));
    }
    let mut subs = Table::new(&["#Topic", "#SubExpression"]);
    let mut sub_json = Vec::new();
    for (topic, s) in &c.subscription_table {
        subs.row([topic.clone(), s.sub_string.clone()]);
        sub_json.push(json!({"topic": topic, "subExpression": s.sub_string}));
    }
    let (consume_type, model, from) = (
        enum_name(&c.consume_type),
        enum_name(&c.message_model),
        enum_name(&c.consume_from_where),
    );
    let text = format!(
        "{}\n{}\n{}",
        conns.render(),
        subs.render(),
        key_values(&[
            ("ConsumeType", consume_type.as_str()),
            ("MessageModel", model.as_str()),
            ("ConsumeFromWhere", from.as_str()),
        ])
    );
    Ok(Report::new(
        json!({
            "group": group,
            "consumeType": consume_type,
            "messageModel": model,
            "consumeFromWhere": from,
            "connections": conn_json,
            "subscriptions": sub_json,
        }),
        text,
    ))
}

pub(super) async fn reset_offset_by_time(
    cx: &Ctx<'_>,
    a: &ResetOffsetByTimeArgs,
) -> Result<Report, Failure> {
    let ts = parse_timestamp(&a.timestamp).ok_or_else(|| {
        Failure::usage(
            format!("bad timestamp {:?}", a.timestamp),
            "use now, milliseconds since the epoch, or yyyy-MM-dd#HH:mm:ss:SSS (UTC)",
        )
    })?;
    let table_data = cx
        .admin
        .reset_offset_by_time(&a.group, &a.topic, ts, a.force)
        .await
        .map_err(|e| cx.fail(e))?;
    let mut table = Table::new(&["#brokerName", "#queueId", "#offset"]);
    let mut offsets = Vec::new();
    for (mq, o) in &table_data {
        table.row([
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            o.to_string(),
        ]);
        offsets.push(json!({"brokerName": mq.broker_name, "queueId": mq.queue_id, "offset": o}));
    }
    Ok(Report::new(
        json!({"group": a.group, "topic": a.topic, "timestamp": ts, "force": a.force, "offsets": offsets}),
        format!("reset consumer offset by specified group[{}], topic[{}], force[{}], timestamp(string)[{}], timestamp(long)[{}]\n{}", a.group, a.topic, a.force, a.timestamp, ts, table.render()),
    ))
}

pub(super) async fn producer_connection(
    cx: &Ctx<'_>,
    a: &ProducerConnectionArgs,
) -> Result<Report, Failure> {
    let c = match cx.admin.producer_connection(&a.group, &a.topic).await {
        Ok(c) => c,
        // Java's broker answers SYSTEM_ERROR "... not exist" for a group without connections.
        Err(ClientError::Server { code, remark, .. })
            if code == ResponseCode::SYSTEM_ERROR && remark.contains("not exist") =>
        {
            return Err(Failure::not_found(
                format!("no producer of group {} is connected: {remark}", a.group),
                "producers register by heartbeat once they have sent to a broker; check the group name",
            ));
        }
        Err(e) => return Err(cx.fail(e)),
    };
    let mut table = Table::new(&["#ClientId", "#ClientAddr", "#Language", "#Version"]);
    let mut conns = Vec::new();
    for k in &c.connection_set {
        let language = k.language.name().map(str::to_owned).unwrap_or_default();
        table.row([
            k.client_id.clone(),
            k.client_addr.clone(),
            language.clone(),
            k.version.to_string(),
        ]);
        conns.push(json!({"clientId": k.client_id, "clientAddr": k.client_addr, "language": language, "version": k.version}));
    }
    Ok(Report::new(
        json!({"group": a.group, "connections": conns}),
        table.render(),
    ))
}
