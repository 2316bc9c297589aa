//! Requests brokers send to a push consumer on its connections (§15): NOTIFY_CONSUMER_IDS_CHANGED
//! triggers a rebalance; RESET_CONSUMER_CLIENT_OFFSET overwrites offsets. Other codes (running
//! info, direct consumption) are answered REQUEST_CODE_NOT_SUPPORTED for now.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use ferromq_net::{not_supported, Handler, RequestContext};
use ferromq_remoting::body::admin::ResetOffsetBody;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use super::push::Core;
use crate::message::MessageQueue;

/// The handler given to the consumer's connection pool; bound to the consumer once it exists.
#[derive(Debug, Default, Clone)]
pub(crate) struct ConsumerHandler {
    core: Arc<OnceLock<Weak<Core>>>,
}

impl ConsumerHandler {
    pub(crate) fn bind(&self, core: &Arc<Core>) {
        let _ = self.core.set(Arc::downgrade(core));
    }

    fn core(&self) -> Option<Arc<Core>> {
        self.core.get().and_then(Weak::upgrade)
    }
}

#[async_trait]
impl Handler for ConsumerHandler {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        let Some(core) = self.core() else {
            return Some(not_supported(&req));
        };
        match req.request_code() {
            RequestCode::NOTIFY_CONSUMER_IDS_CHANGED => {
                debug!(group = ?req.ext("consumerGroup"), "consumer ids changed; rebalancing");
                core.request_rebalance();
                None
            }
            RequestCode::RESET_CONSUMER_CLIENT_OFFSET => {
                let table = req
                    .body
                    .as_deref()
                    .map(ResetOffsetBody::from_json)
                    .transpose();
                match table {
                    Ok(Some(body)) => {
                        let offsets = body
                            .offset_table
                            .iter()
                            .filter_map(|(q, o)| {
                                Some((MessageQueue::from_wire(q)?, u64::try_from(*o).ok()?))
                            })
                            .collect();
                        core.reset_offsets(offsets).await;
                    }
                    Ok(None) => {}
                    Err(e) => warn!(error = %e, "unreadable offset reset"),
                }
                Some(RemotingCommand::response_to(
                    &req,
                    ResponseCode::SUCCESS,
                    None,
                ))
            }
            _ => Some(not_supported(&req)),
        }
    }
}
