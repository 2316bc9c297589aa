//! Request code → handler function. Every name-server operation is a short synchronous update of the
//! route table or the KV store, so the functions are plain `fn`s run inside the async `Handler`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferromq_net::{not_supported, Connection, Handler, RequestContext};
use ferromq_remoting::body::lists::KvTable;
use ferromq_remoting::body::register::{DataVersion, RegisterBrokerBody};
use ferromq_remoting::body::route::TopicRouteData;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::kv::{
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, KvConfigKeyRequestHeader,
    PutKvConfigRequestHeader,
};
use ferromq_remoting::headers::route::{
    AddWritePermOfBrokerResponseHeader, BrokerPermRequestHeader,
    DeleteTopicFromNamesrvRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader, QueryDataVersionRequestHeader, QueryDataVersionResponseHeader,
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, RegisterTopicRequestHeader,
    UnregisterBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use ferromq_remoting::{version, DecodeError, RemotingCommand, RequestCode, ResponseCode};
use tokio::time::Instant;
use tracing::warn;

use crate::auth::BrokerAuth;
use crate::kv::KvError;
use crate::routes::{RegisterError, Registration, Unregistration, FLAG_UNIT, FLAG_UNIT_SUB};
use crate::state::State;

/// The KV namespace whose table is returned to registering brokers and used for ordered topics.
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Why a request failed; every variant is answered `SYSTEM_ERROR` with the message as remark, as
/// the Java name server does for exceptions.
#[derive(Debug, thiserror::Error)]
enum HandlerError {
    /// A missing or unparsable header field, or an unparsable body.
    #[error("{0}")]
    BadRequest(#[from] DecodeError),
    #[error("crc32 not match")]
    CrcMismatch,
    #[error("register broker failed")]
    Register(#[from] RegisterError),
    #[error("{0}")]
    Kv(#[from] KvError),
}

type Reply = Result<RemotingCommand, HandlerError>;

/// The name server's request handler.
#[derive(Debug)]
pub(crate) struct NameServerHandler {
    state: Arc<State>,
    /// Run before dispatch: brokers' requests signed with the inner credentials, when on.
    auth: BrokerAuth,
}

impl NameServerHandler {
    pub(crate) fn new(state: Arc<State>, auth: BrokerAuth) -> Self {
        Self { state, auth }
    }

    fn dispatch(&self, ctx: &RequestContext, req: &RemotingCommand) -> Option<Reply> {
        let s = &*self.state;
        Some(match req.request_code() {
            RequestCode::REGISTER_BROKER => register_broker(s, ctx.connection(), req),
            RequestCode::UNREGISTER_BROKER => unregister_broker(s, req),
            RequestCode::BROKER_HEARTBEAT => broker_heartbeat(s, req),
            RequestCode::QUERY_DATA_VERSION => query_data_version(s, req),
            RequestCode::GET_ROUTEINFO_BY_TOPIC => route_by_topic(s, req),
            RequestCode::GET_BROKER_CLUSTER_INFO => {
                Ok(ok(req).with_body(s.routes.read().cluster_info().to_json()))
            }
            RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                Ok(ok(req).with_body(s.routes.read().topic_list().to_json()))
            }
            RequestCode::GET_TOPICS_BY_CLUSTER => topics_by_cluster(s, req),
            RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_NS => {
                Ok(ok(req).with_body(s.routes.read().system_topic_list().to_json()))
            }
            RequestCode::GET_UNIT_TOPIC_LIST => flagged_topics(s, req, |f| f & FLAG_UNIT != 0),
            RequestCode::GET_HAS_UNIT_SUB_TOPIC_LIST => {
                flagged_topics(s, req, |f| f & FLAG_UNIT_SUB != 0)
            }
            RequestCode::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => {
                flagged_topics(s, req, |f| f & FLAG_UNIT == 0 && f & FLAG_UNIT_SUB != 0)
            }
            RequestCode::DELETE_TOPIC_IN_NAMESRV => delete_topic(s, req),
            RequestCode::REGISTER_TOPIC_IN_NAMESRV => register_topic(s, req),
            RequestCode::WIPE_WRITE_PERM_OF_BROKER => wipe_write_perm(s, req),
            RequestCode::ADD_WRITE_PERM_OF_BROKER => add_write_perm(s, req),
            RequestCode::PUT_KV_CONFIG => put_kv(s, req),
            RequestCode::GET_KV_CONFIG => get_kv(s, req),
            RequestCode::DELETE_KV_CONFIG => delete_kv(s, req),
            RequestCode::GET_KVLIST_BY_NAMESPACE => kv_list(s, req),
            _ => return None,
        })
    }
}

#[async_trait]
impl Handler for NameServerHandler {
    async fn handle(&self, ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        if let Err(refusal) = self.auth.check(ctx.peer_addr(), &req) {
            return refusal;
        }
        let resp = match self.dispatch(ctx, &req) {
            None => not_supported(&req),
            Some(Ok(resp)) => resp,
            Some(Err(e)) => {
                warn!(code = %req.request_code(), peer = %ctx.peer_addr(), error = %e,
                    "request failed");
                RemotingCommand::response_to(&req, ResponseCode::SYSTEM_ERROR, Some(e.to_string()))
            }
        };
        Some(resp)
    }

    fn on_disconnect(&self, conn: &Connection) {
        let s = &*self.state;
        if s.broker_conns.lock().remove(&conn.id()).is_none() {
            return; // Not a broker's connection.
        }
        let removed = s.routes.write().disconnect(conn.id());
        if !removed.is_empty() {
            s.routes_changed();
        }
    }
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
}

/// A required `extFields` entry of a request without a typed header.
fn required<'a>(req: &'a RemotingCommand, key: &'static str) -> Result<&'a str, DecodeError> {
    req.ext(key).ok_or(DecodeError::MissingField(key))
}

fn register_broker(s: &State, conn: &Connection, req: &RemotingCommand) -> Reply {
    let h: RegisterBrokerRequestHeader = req.decode_header()?;
    let body = req.body.as_deref().unwrap_or_default();
    if h.body_crc32 != 0 {
        // Java's `UtilAll.crc32`: the CRC with the sign bit cleared.
        let crc = crc32fast::hash(body) & 0x7FFF_FFFF;
        if i64::from(crc) != i64::from(h.body_crc32) {
            return Err(HandlerError::CrcMismatch);
        }
    }
    let topics = if body.is_empty() {
        Default::default()
    } else if h.compressed {
        RegisterBrokerBody::from_compressed(body)?.topic_config_serialize_wrapper
    } else if req.version >= version::V3_0_11 {
        RegisterBrokerBody::from_json(body)?.topic_config_serialize_wrapper
    } else {
        JsonBody::from_json(body)?
    };
    let heartbeat_timeout = h
        .heartbeat_timeout_millis
        .and_then(|ms| u64::try_from(ms).ok())
        .filter(|&ms| ms > 0)
        .map_or(s.broker_expiry, Duration::from_millis);
    let registration = Registration {
        cluster: h.cluster_name,
        broker_addr: h.broker_addr,
        broker_name: h.broker_name,
        broker_id: h.broker_id,
        ha_server_addr: h.ha_server_addr,
        heartbeat_timeout,
        enable_acting_master: h.enable_acting_master,
        zone_name: req.ext("__ZONE_NAME").map(str::to_owned),
        grpc_addr: h.grpc_addr.filter(|a| !a.is_empty()),
        topics,
        conn: Some(conn.id()),
    };
    s.broker_conns.lock().insert(conn.id(), conn.clone());
    let registered = s.routes.write().register(registration, Instant::now())?;
    s.routes_changed();
    let mut resp = ok(req).with_header(&RegisterBrokerResponseHeader {
        ha_server_addr: registered.ha_server_addr,
        master_addr: registered.master_addr,
    });
    if let Some(table) = s.kv.namespace(NAMESPACE_ORDER_TOPIC_CONFIG) {
        resp = resp.with_body(KvTable { table }.to_json());
    }
    Ok(resp)
}

fn unregister_broker(s: &State, req: &RemotingCommand) -> Reply {
    let h: UnregisterBrokerRequestHeader = req.decode_header()?;
    s.routes.write().unregister(&Unregistration {
        cluster: h.cluster_name,
        broker_addr: h.broker_addr,
        broker_name: h.broker_name,
        broker_id: h.broker_id,
    });
    s.routes_changed();
    Ok(ok(req))
}

fn broker_heartbeat(s: &State, req: &RemotingCommand) -> Reply {
    let cluster = required(req, "clusterName")?;
    let addr = required(req, "brokerAddr")?;
    s.routes.write().touch(cluster, addr, Instant::now());
    Ok(ok(req))
}

fn query_data_version(s: &State, req: &RemotingCommand) -> Reply {
    let h: QueryDataVersionRequestHeader = req.decode_header()?;
    let theirs = DataVersion::from_json(req.body.as_deref().unwrap_or(b"{}"))?;
    let ours = {
        let mut routes = s.routes.write();
        let ours = routes.data_version(&h.cluster_name, &h.broker_addr);
        routes.touch(&h.cluster_name, &h.broker_addr, Instant::now());
        ours
    };
    let resp = ok(req).with_header(&QueryDataVersionResponseHeader {
        changed: ours != Some(theirs),
    });
    Ok(match ours {
        Some(v) => resp.with_body(v.to_json()),
        None => resp,
    })
}

fn route_by_topic(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetRouteInfoRequestHeader = req.decode_header()?;
    // Always standard JSON (quoted broker ids): every Java client version parses it.
    Ok(match s.routes.read().route(&h.topic) {
        Some(route) => ok(req).with_body(route.to_json()),
        None => RemotingCommand::response_to(
            req,
            ResponseCode::TOPIC_NOT_EXIST,
            Some(format!(
                "No topic route info in name server for the topic: {}",
                h.topic
            )),
        ),
    })
}

fn topics_by_cluster(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetTopicsByClusterRequestHeader = req.decode_header()?;
    let list = s.routes.read().topics_by_cluster(&h.cluster);
    Ok(ok(req).with_body(list.to_json()))
}

fn flagged_topics(s: &State, req: &RemotingCommand, pred: impl Fn(i32) -> bool) -> Reply {
    let list = s.routes.read().topics_with_flag(pred);
    Ok(ok(req).with_body(list.to_json()))
}

fn delete_topic(s: &State, req: &RemotingCommand) -> Reply {
    let h: DeleteTopicFromNamesrvRequestHeader = req.decode_header()?;
    let cluster = h.cluster_name.as_deref().filter(|c| !c.trim().is_empty());
    s.routes.write().delete_topic(&h.topic, cluster);
    s.routes_changed();
    Ok(ok(req))
}

fn register_topic(s: &State, req: &RemotingCommand) -> Reply {
    let h: RegisterTopicRequestHeader = req.decode_header()?;
    if let Some(body) = req.body.as_deref() {
        let route = TopicRouteData::from_json(body)?;
        // Like Java, a queue naming an unknown broker is logged and ignored, not refused.
        if !s.routes.write().register_topic(&h.topic, route.queue_datas) {
            warn!(topic = %h.topic, "register topic names an unknown broker, ignored");
        }
        s.routes_changed();
    }
    Ok(ok(req))
}

fn wipe_write_perm(s: &State, req: &RemotingCommand) -> Reply {
    let h: BrokerPermRequestHeader = req.decode_header()?;
    let wipe_topic_count = s.routes.write().wipe_write_perm(&h.broker_name);
    s.routes_changed();
    Ok(ok(req).with_header(&WipeWritePermOfBrokerResponseHeader { wipe_topic_count }))
}

fn add_write_perm(s: &State, req: &RemotingCommand) -> Reply {
    let h: BrokerPermRequestHeader = req.decode_header()?;
    let add_topic_count = s.routes.write().add_write_perm(&h.broker_name);
    s.routes_changed();
    Ok(ok(req).with_header(&AddWritePermOfBrokerResponseHeader { add_topic_count }))
}

fn put_kv(s: &State, req: &RemotingCommand) -> Reply {
    let h: PutKvConfigRequestHeader = req.decode_header()?;
    s.kv.put(&h.namespace, &h.key, &h.value)?;
    Ok(ok(req))
}

fn get_kv(s: &State, req: &RemotingCommand) -> Reply {
    let h: KvConfigKeyRequestHeader = req.decode_header()?;
    Ok(match s.kv.get(&h.namespace, &h.key) {
        Some(value) => ok(req).with_header(&GetKvConfigResponseHeader { value: Some(value) }),
        None => RemotingCommand::response_to(
            req,
            ResponseCode::QUERY_NOT_FOUND,
            Some(format!(
                "No config item, Namespace: {} Key: {}",
                h.namespace, h.key
            )),
        ),
    })
}

fn delete_kv(s: &State, req: &RemotingCommand) -> Reply {
    let h: KvConfigKeyRequestHeader = req.decode_header()?;
    s.kv.delete(&h.namespace, &h.key)?;
    Ok(ok(req))
}

fn kv_list(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetKvListByNamespaceRequestHeader = req.decode_header()?;
    Ok(match s.kv.namespace(&h.namespace) {
        Some(table) => ok(req).with_body(KvTable { table }.to_json()),
        None => RemotingCommand::response_to(
            req,
            ResponseCode::QUERY_NOT_FOUND,
            Some(format!("No config item, Namespace: {}", h.namespace)),
        ),
    })
}
