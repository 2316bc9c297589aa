//! The remoting adapter timed: every answer's latency into `rocketmq_rpc_latency` (see
//! `crate::rpc_latency`, which only keeps the histograms, so the statistics never import the
//! adapter).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use ferromq_net::{Connection, Handler, RequestContext};
use ferromq_remoting::RemotingCommand;

/// A remoting handler that times `inner`'s answers into the broker's statistics. One-way requests (no answer)
/// are not timed.
#[derive(Debug)]
pub(crate) struct Timed<H> {
    pub inner: H,
    pub state: Arc<crate::state::State>,
}

#[async_trait]
impl<H: Handler> Handler for Timed<H> {
    async fn handle(&self, ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        let code = req.code;
        let start = Instant::now();
        let resp = self.inner.handle(ctx, req).await;
        if let Some(r) = &resp {
            let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.state.stats.rpc.record(code, r.code, micros);
        }
        resp
    }

    fn on_connect(&self, conn: &Connection) {
        self.inner.on_connect(conn);
    }

    fn on_disconnect(&self, conn: &Connection) {
        self.inner.on_disconnect(conn);
    }
}
