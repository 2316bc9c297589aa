//! The remoting adapter: request code → handler. A handler decodes the request's header and body,
//! calls the broker's operation (`crate::service`; client registration, locks, statistics and
//! cluster requests here still read the components directly), and encodes the answer. Each
//! returns a response or a [`BrokerError`]; errors are logged here and answered through
//! [`crate::responses`], so a failing request never breaks its connection.

mod admin;
mod assignment;
mod broker_config;
mod consumer_status;
mod end_transaction;
mod epochs;
mod heartbeat;
mod lock;
mod offsets;
mod pop;
mod producer_connections;
mod pull;
mod query;
mod recall;
mod replica_sync;
mod reply;
mod reset_offset;
mod send;
mod send_back;
mod stats;
mod subscription_group;
mod timed;

use std::sync::Arc;

use async_trait::async_trait;
use ferromq_net::{not_supported, Connection, Handler, RequestContext};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use crate::auth::{self, Caller, Guard};
use crate::error::BrokerError;
use crate::responses;
use crate::service::BrokerService;
use crate::state::State;

pub(crate) use timed::Timed;

/// A handler's answer.
pub(crate) type Reply = Result<RemotingCommand, BrokerError>;

/// A success response with no header fields.
pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
}

/// The broker's [`Handler`].
#[derive(Debug)]
pub(crate) struct BrokerHandler {
    service: BrokerService,
    state: Arc<State>,
    /// Authentication and authorization, run before dispatch (see `crate::auth`).
    guard: Arc<Guard>,
}

impl BrokerHandler {
    pub(crate) fn new(service: BrokerService, state: Arc<State>, guard: Arc<Guard>) -> Self {
        Self {
            service,
            state,
            guard,
        }
    }

    async fn dispatch(
        &self,
        ctx: &RequestContext,
        req: &RemotingCommand,
        caller: Option<&Caller>,
    ) -> Result<Option<RemotingCommand>, BrokerError> {
        let s = &self.state;
        let service = &self.service;
        let reply = match req.request_code() {
            RequestCode::SEND_MESSAGE
            | RequestCode::SEND_MESSAGE_V2
            | RequestCode::SEND_BATCH_MESSAGE => send::send(service, s, ctx, req).await,
            RequestCode::PULL_MESSAGE | RequestCode::LITE_PULL_MESSAGE => {
                return pull::pull(service, ctx, req).await;
            }
            RequestCode::SEND_REPLY_MESSAGE | RequestCode::SEND_REPLY_MESSAGE_V2 => {
                reply::send_reply(service, s, ctx, req).await
            }
            RequestCode::POP_MESSAGE => return pop::pop_message(service, ctx, req).await,
            RequestCode::ACK_MESSAGE => pop::ack_message(service, req),
            RequestCode::BATCH_ACK_MESSAGE => pop::batch_ack(service, &s.config.broker_name, req),
            RequestCode::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible(service, req),
            RequestCode::QUERY_ASSIGNMENT => assignment::query_assignment(service, req).await,
            RequestCode::SET_MESSAGE_REQUEST_MODE => assignment::set_request_mode(service, req),
            RequestCode::GET_ALL_MESSAGE_REQUEST_MODE => {
                assignment::all_request_modes(service, req)
            }
            RequestCode::CONSUMER_SEND_MSG_BACK => send_back::send_back(service, ctx, req),
            RequestCode::RECALL_MESSAGE => recall::recall(service, ctx, req).await,
            RequestCode::END_TRANSACTION => {
                return end_transaction::end_transaction(service, ctx, req);
            }
            RequestCode::HEART_BEAT => heartbeat::heartbeat(s, ctx, req),
            RequestCode::UNREGISTER_CLIENT => heartbeat::unregister_client(s, req),
            RequestCode::GET_CONSUMER_LIST_BY_GROUP => heartbeat::consumer_list(s, req),
            RequestCode::CHECK_CLIENT_CONFIG => heartbeat::check_client_config(s, req),
            RequestCode::LOCK_BATCH_MQ => lock::lock_batch(s, ctx, req),
            RequestCode::UNLOCK_BATCH_MQ => lock::unlock_batch(s, req),
            RequestCode::QUERY_CONSUMER_OFFSET => offsets::query_consumer_offset(service, req),
            RequestCode::UPDATE_CONSUMER_OFFSET => offsets::update_consumer_offset(service, req),
            RequestCode::GET_MAX_OFFSET => offsets::max_offset(service, req),
            RequestCode::GET_MIN_OFFSET => offsets::min_offset(service, req),
            RequestCode::GET_EARLIEST_MSG_STORETIME => offsets::earliest_time(service, req),
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => offsets::search_by_time(service, req),
            RequestCode::QUERY_MESSAGE => query::query_message(service, req),
            RequestCode::VIEW_MESSAGE_BY_ID => query::view_message(service, req),
            RequestCode::UPDATE_AND_CREATE_TOPIC => admin::create_topic(service, req),
            RequestCode::DELETE_TOPIC_IN_BROKER => admin::delete_topic(service, req),
            RequestCode::GET_TOPIC_CONFIG => admin::topic_config(service, req),
            RequestCode::GET_ALL_TOPIC_CONFIG => admin::all_topic_config(s, req),
            RequestCode::GET_ALL_CONSUMER_OFFSET => replica_sync::all_consumer_offsets(s, req),
            RequestCode::GET_ALL_DELAY_OFFSET => replica_sync::all_delay_offsets(s, req),
            RequestCode::GET_BROKER_RUNTIME_INFO => admin::runtime_info(s, req),
            RequestCode::GET_TOPIC_STATS_INFO => admin::topic_stats(service, s, req),
            RequestCode::GET_CONSUME_STATS => admin::consume_stats(s, req),
            RequestCode::GET_CONSUMER_CONNECTION_LIST => admin::consumer_connections(s, req),
            RequestCode::QUERY_TOPIC_CONSUME_BY_WHO => admin::consumed_by(s, req),
            RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
                subscription_group::create_group(service, req)
            }
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => subscription_group::all_groups(s, req),
            RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG => subscription_group::group(service, req),
            RequestCode::DELETE_SUBSCRIPTIONGROUP => subscription_group::delete_group(service, req),
            RequestCode::GET_BROKER_CONFIG => broker_config::get_broker_config(s, req),
            RequestCode::UPDATE_BROKER_CONFIG => broker_config::update_broker_config(s, req),
            RequestCode::INVOKE_BROKER_TO_RESET_OFFSET => reset_offset::reset_offset(s, req).await,
            RequestCode::GET_CONSUMER_RUNNING_INFO => {
                consumer_status::consumer_running_info(s, req).await
            }
            RequestCode::INVOKE_BROKER_TO_GET_CONSUMER_STATUS => {
                consumer_status::consumer_status(s, req).await
            }
            RequestCode::GET_BROKER_EPOCH_CACHE => epochs::epoch_cache(s, req),
            RequestCode::NOTIFY_BROKER_ROLE_CHANGED => {
                epochs::role_changed(s);
                return Ok(None);
            }
            RequestCode::VIEW_BROKER_STATS_DATA => stats::view_stats(service, req),
            RequestCode::GET_PRODUCER_CONNECTION_LIST => {
                producer_connections::producer_connections(s, req)
            }
            RequestCode::AUTH_CREATE_USER
            | RequestCode::AUTH_UPDATE_USER
            | RequestCode::AUTH_DELETE_USER
            | RequestCode::AUTH_GET_USER
            | RequestCode::AUTH_LIST_USER
            | RequestCode::AUTH_CREATE_ACL
            | RequestCode::AUTH_UPDATE_ACL
            | RequestCode::AUTH_DELETE_ACL
            | RequestCode::AUTH_GET_ACL
            | RequestCode::AUTH_LIST_ACL => Ok(auth::admin::handle(&self.guard, caller, req)),
            auth::mirror::GET_AUTH_METADATA => Ok(auth::mirror::answer(&self.guard, req)),
            _ => {
                debug!(code = req.code, peer = %ctx.peer_addr(), "request code not supported");
                Ok(not_supported(req))
            }
        };
        reply.map(Some)
    }
}

#[async_trait]
impl Handler for BrokerHandler {
    async fn handle(&self, ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        let caller = match self.guard.check(ctx.peer_addr(), &req) {
            Ok(caller) => caller,
            Err(refusal) => return refusal,
        };
        match self.dispatch(ctx, &req, caller.as_ref()).await {
            Ok(resp) => resp,
            Err(e) => {
                warn!(code = req.code, peer = %ctx.peer_addr(), error = %e, "request failed");
                Some(responses::error_response(&req, &e))
            }
        }
    }

    fn on_disconnect(&self, conn: &Connection) {
        self.state.locks.release_connection(conn.id());
        let groups = self.state.clients.remove_connection(conn.id());
        self.state.notify_groups(groups);
    }
}
