//! Message queries and offset resets of [`Admin`]: `queryMsgById`, `queryMsgByKey`,
//! `queryMsgByOffset` and `resetOffsetByTime`.

use std::collections::BTreeMap;

use bytes::Bytes;
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_remoting::body::admin::ResetOffsetBody;
use ferromq_remoting::headers::admin::ResetOffsetRequestHeader;
use ferromq_remoting::headers::query::{QueryMessageRequestHeader, ViewMessageRequestHeader};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::debug;

use super::Admin;
use crate::consumer::pull::{pull_once, PullSpec};
use crate::consumer::subscription::subscription_data;
use crate::error::ClientError;
use crate::ids::now_ms;
use crate::message::MessageQueue;
use crate::message_ext::MessageExt;
use crate::remote;

/// The group mqadmin pulls with.
const TOOLS_CONSUMER: &str = "TOOLS_CONSUMER";
/// How far back a unique-key query looks (mqadmin: 3 days).
const UNIQ_KEY_LOOKBACK_MS: i64 = 3 * 24 * 3600 * 1000;

impl Admin {
    /// `queryMsgById`: `id` is tried as an offset message id first (VIEW_MESSAGE_BY_ID on the
    /// broker it names), then as a `UNIQ_KEY` (QUERY_MESSAGE on every broker of `topic`).
    ///
    /// # Errors
    /// The route of `topic` when the unique-key query needs it; transport failures.
    pub async fn query_message_by_id(
        &self,
        topic: &str,
        id: &str,
    ) -> Result<Option<MessageExt>, ClientError> {
        if let Some((host, offset)) = decode_offset_msg_id(id) {
            match self.view_message(&host.to_string(), topic, offset).await {
                Ok(Some(m)) if m.topic == topic => return Ok(Some(m)),
                Ok(_) => {}
                Err(e) => debug!(%id, error = %e, "not an offset id here, trying as a unique key"),
            }
        }
        let found = self
            .query_index(topic, id, 32, now_ms() - UNIQ_KEY_LOOKBACK_MS, true)
            .await?;
        Ok(found.into_iter().find(|m| m.msg_id == id))
    }

    /// `queryMsgById -i` without a topic: `id` must be an offset message id (what a send
    /// returns as `offsetMsgId`); VIEW_MESSAGE_BY_ID on the broker it names.
    ///
    /// # Errors
    /// `InvalidArgument` when `id` is not an offset message id; transport failures and refusals
    /// (SYSTEM_ERROR when nothing is stored there).
    pub async fn view_message_by_offset_id(
        &self,
        id: &str,
    ) -> Result<Option<MessageExt>, ClientError> {
        let (host, offset) = decode_offset_msg_id(id).ok_or_else(|| {
            ClientError::InvalidArgument(format!(
                "{id} is not an offset message id; give the topic (-t) to look it up as a unique key"
            ))
        })?;
        let addr = host.to_string();
        let mut found = self.view_message_raw(&addr, None, offset).await?;
        if let Some(m) = &mut found {
            m.broker_name = self.broker_name_of(&m.topic.clone(), &addr).await;
        }
        Ok(found)
    }

    async fn view_message(
        &self,
        addr: &str,
        topic: &str,
        offset: u64,
    ) -> Result<Option<MessageExt>, ClientError> {
        let mut found = self.view_message_raw(addr, Some(topic), offset).await?;
        if let Some(m) = &mut found {
            m.broker_name = self.broker_name_of(topic, addr).await;
        }
        Ok(found)
    }

    async fn view_message_raw(
        &self,
        addr: &str,
        topic: Option<&str>,
        offset: u64,
    ) -> Result<Option<MessageExt>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID).with_header(
            &ViewMessageRequestHeader {
                topic: topic.map(str::to_owned),
                offset: i64::try_from(offset).unwrap_or(i64::MAX),
            },
        );
        let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
        let body = resp.body.clone().unwrap_or_default();
        let broker = String::new();
        let msgs =
            MessageExt::decode_all(&body, &broker).map_err(|e| ClientError::decode(addr, e))?;
        Ok(msgs.into_iter().next())
    }

    /// The name of the broker at `addr`, from `topic`'s route (empty when unknown).
    async fn broker_name_of(&self, topic: &str, addr: &str) -> String {
        let Ok(route) = self.routes.route(topic).await else {
            return String::new();
        };
        route
            .data
            .broker_datas
            .iter()
            .find(|b| b.broker_addrs.values().any(|a| a == addr))
            .map(|b| b.broker_name.clone())
            .unwrap_or_default()
    }

    /// `queryMsgByKey`: messages of `topic` whose `KEYS` contain `key` (up to `max` per broker).
    ///
    /// # Errors
    /// The route's failure; transport failures.
    pub async fn query_messages_by_key(
        &self,
        topic: &str,
        key: &str,
        max: u32,
    ) -> Result<Vec<MessageExt>, ClientError> {
        let found = self.query_index(topic, key, max, 0, false).await?;
        Ok(found
            .into_iter()
            .filter(|m| m.topic == topic && m.keys().any(|k| k == key))
            .collect())
    }

    /// QUERY_MESSAGE (12) on the master of every broker of `topic`; QUERY_NOT_FOUND is no hit.
    async fn query_index(
        &self,
        topic: &str,
        key: &str,
        max: u32,
        begin_ms: i64,
        unique: bool,
    ) -> Result<Vec<MessageExt>, ClientError> {
        let route = self.routes.refresh(topic).await?;
        let mut out = Vec::new();
        for b in &route.data.broker_datas {
            let Some(addr) = b.master_addr() else {
                continue;
            };
            let cmd = RemotingCommand::request(RequestCode::QUERY_MESSAGE).with_header(
                &QueryMessageRequestHeader {
                    topic: topic.to_owned(),
                    key: key.to_owned(),
                    max_num: i32::try_from(max).unwrap_or(i32::MAX),
                    begin_timestamp: begin_ms,
                    end_timestamp: i64::MAX,
                    unique_key_query: Some(unique),
                },
            );
            let resp = self.remote.call(addr, cmd, self.timeout).await?;
            let resp = remote::expect_code(
                addr,
                resp,
                &[ResponseCode::SUCCESS, ResponseCode::QUERY_NOT_FOUND],
            )?;
            if resp.response_code() == ResponseCode::QUERY_NOT_FOUND {
                continue;
            }
            let body: Bytes = resp.body.clone().unwrap_or_default();
            out.extend(
                MessageExt::decode_all(&body, &b.broker_name)
                    .map_err(|e| ClientError::decode(addr, e))?,
            );
        }
        Ok(out)
    }

    /// `queryMsgByOffset`: the message at `offset` of `mq`, if there is one.
    ///
    /// # Errors
    /// Transport failures, broker refusals.
    pub async fn query_message_by_offset(
        &self,
        mq: &MessageQueue,
        offset: u64,
    ) -> Result<Option<MessageExt>, ClientError> {
        let sub = subscription_data(&mq.topic, "*", 0);
        let spec = PullSpec {
            group: TOOLS_CONSUMER,
            subscription: &sub,
            max_messages: 1,
            suspend: None,
            commit_offset: None,
            timeout: self.timeout,
        };
        let r = pull_once(&self.routes, &self.remote, mq, offset, &spec).await?;
        Ok(r.messages.into_iter().find(|m| m.queue_offset == offset))
    }

    /// `resetOffsetByTime`: INVOKE_BROKER_TO_RESET_OFFSET (222) on every master of `topic`: each
    /// broker moves `group`'s offsets to the first message stored at or after `timestamp_ms`
    /// (-1: the end), tells the group's online consumers, and returns the new offsets. Without
    /// `force`, offsets only move backwards.
    ///
    /// # Errors
    /// The route's failure; the first refusal.
    pub async fn reset_offset_by_time(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<BTreeMap<MessageQueue, u64>, ClientError> {
        let route = self.routes.refresh(topic).await?;
        let mut out = BTreeMap::new();
        for b in &route.data.broker_datas {
            let Some(addr) = b.master_addr() else {
                continue;
            };
            let cmd = RemotingCommand::request(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET)
                .with_header(&ResetOffsetRequestHeader {
                    group: group.to_owned(),
                    topic: topic.to_owned(),
                    queue_id: -1,
                    offset: None,
                    timestamp: timestamp_ms,
                    is_force: force,
                });
            let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
            let body: ResetOffsetBody = remote::json_body(addr, &resp)?;
            for (q, offset) in body.offset_table {
                if let (Some(mq), Ok(o)) = (MessageQueue::from_wire(&q), u64::try_from(offset)) {
                    out.insert(mq, o);
                }
            }
        }
        Ok(out)
    }
}
