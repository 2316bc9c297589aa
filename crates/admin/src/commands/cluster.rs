//! `clusterList`, `brokerStatus`, `getBrokerConfig`, `updateBrokerConfig`.

use serde_json::json;

use super::Ctx;
use crate::cli::{BrokerTarget, UpdateBrokerConfigArgs};
use crate::error::Failure;
use crate::report::Report;
use crate::table::{key_values, Table};

/// The broker addresses a `-b`/`-c` pair names.
pub(crate) async fn resolve(cx: &Ctx<'_>, t: &BrokerTarget) -> Result<Vec<String>, Failure> {
    match (&t.broker_addr, &t.cluster_name) {
        (Some(addr), _) => Ok(vec![addr.clone()]),
        (None, Some(cluster)) => cx
            .admin
            .cluster_master_addrs(cluster)
            .await
            .map_err(|e| cx.fail(e)),
        (None, None) => Err(Failure::usage("give -b or -c", "")),
    }
}

pub(super) async fn cluster_list(cx: &Ctx<'_>) -> Result<Report, Failure> {
    let brokers = cx.admin.cluster_list().await.map_err(|e| cx.fail(e))?;
    let mut table = Table::new(&[
        "#Cluster Name",
        "#Broker Name",
        "#BID",
        "#Addr",
        "#Version",
        "#InTotalToday",
        "#OutTotalToday",
    ]);
    let mut out = Vec::new();
    for b in &brokers {
        let get = |k: &str| {
            b.runtime
                .as_ref()
                .ok()
                .and_then(|r| r.get(k).cloned())
                .unwrap_or_default()
        };
        let number = |k: &str| get(k).parse::<u64>().ok();
        table.row([
            b.cluster.clone(),
            b.broker_name.clone(),
            b.broker_id.to_string(),
            b.addr.clone(),
            get("brokerVersionDesc"),
            get("msgPutTotalTodayNow"),
            get("msgGetTotalTodayNow"),
        ]);
        out.push(json!({
            "cluster": b.cluster,
            "brokerName": b.broker_name,
            "brokerId": b.broker_id,
            "addr": b.addr,
            "version": get("brokerVersionDesc"),
            "inTotalToday": number("msgPutTotalTodayNow"),
            "outTotalToday": number("msgGetTotalTodayNow"),
            "error": b.runtime.as_ref().err(),
        }));
    }
    Ok(Report::new(json!({ "brokers": out }), table.render()))
}

pub(super) async fn broker_status(cx: &Ctx<'_>, t: &BrokerTarget) -> Result<Report, Failure> {
    let mut out = Vec::new();
    let mut text = String::new();
    for addr in resolve(cx, t).await? {
        let stats = cx
            .admin
            .broker_runtime_info(&addr)
            .await
            .map_err(|e| cx.fail(e))?;
        let pairs: Vec<(&String, &String)> = stats.iter().collect();
        text.push_str(&format!("# {addr}\n"));
        text.push_str(&key_values(&pairs));
        out.push(json!({"brokerAddr": addr, "stats": stats}));
    }
    Ok(Report::new(json!({ "brokers": out }), text))
}

pub(super) async fn get_broker_config(cx: &Ctx<'_>, t: &BrokerTarget) -> Result<Report, Failure> {
    let mut out = Vec::new();
    let mut text = String::new();
    for addr in resolve(cx, t).await? {
        let config = cx
            .admin
            .broker_config(&addr)
            .await
            .map_err(|e| cx.fail(e))?;
        let pairs: Vec<(&String, &String)> = config.iter().collect();
        text.push_str(&format!("# {addr}\n"));
        text.push_str(&key_values(&pairs));
        out.push(json!({"brokerAddr": addr, "config": config}));
    }
    Ok(Report::new(json!({ "brokers": out }), text))
}

pub(super) async fn update_broker_config(
    cx: &Ctx<'_>,
    a: &UpdateBrokerConfigArgs,
) -> Result<Report, Failure> {
    let addrs = resolve(cx, &a.target).await?;
    let mut text = String::new();
    for addr in &addrs {
        cx.admin
            .update_broker_config(addr, &a.key, &a.value)
            .await
            .map_err(|e| cx.fail(e))?;
        text.push_str(&format!("update broker config success, {addr}\n"));
    }
    Ok(Report::new(
        json!({"key": a.key, "value": a.value, "brokers": addrs}),
        text,
    ))
}
