//! `Remote`: requests to brokers and name servers over one connection pool, with the response
//! checks every call needs (success code, typed header, JSON body).

use std::sync::Arc;
use std::time::Duration;

use ferromq_auth::Credentials;
use ferromq_net::{ClientConfig, ClientPool};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{CustomHeader, RemotingCommand, ResponseCode};

use crate::error::ClientError;

/// A pool of connections, one per address; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pool: ClientPool,
    /// When set, every request is signed (`AccessKey`, `Signature`) just before it leaves.
    credentials: Option<Arc<Credentials>>,
}

impl Remote {
    pub(crate) fn new(config: ClientConfig) -> Self {
        Self {
            pool: ClientPool::new(config),
            credentials: None,
        }
    }

    /// Signs every request with `credentials` (none: unsigned).
    pub(crate) fn signing(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials.map(Arc::new);
        self
    }

    fn sign(&self, mut cmd: RemotingCommand) -> RemotingCommand {
        if let Some(c) = &self.credentials {
            c.sign(&mut cmd);
        }
        cmd
    }

    /// Sends a request and returns the response whatever its code.
    pub(crate) async fn call(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        self.pool
            .request(addr, self.sign(cmd), timeout)
            .await
            .map_err(|e| ClientError::net(addr, e))
    }

    /// Sends a request; any code but SUCCESS is a [`ClientError::Server`].
    pub(crate) async fn call_ok(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        let resp = self.call(addr, cmd, timeout).await?;
        expect_code(addr, resp, &[ResponseCode::SUCCESS])
    }

    pub(crate) async fn oneway(&self, addr: &str, cmd: RemotingCommand) -> Result<(), ClientError> {
        self.pool
            .oneway(addr, self.sign(cmd.oneway()))
            .await
            .map_err(|e| ClientError::net(addr, e))
    }

    /// Closes every connection and waits for their tasks.
    pub(crate) async fn shutdown(&self) {
        self.pool.shutdown().await;
    }
}

/// `resp` if its code is one of `ok`, else the server's refusal.
pub(crate) fn expect_code(
    addr: &str,
    resp: RemotingCommand,
    ok: &[ResponseCode],
) -> Result<RemotingCommand, ClientError> {
    if ok.contains(&resp.response_code()) {
        Ok(resp)
    } else {
        Err(refusal(addr, &resp))
    }
}

/// The [`ClientError::Server`] for a failed response.
pub(crate) fn refusal(addr: &str, resp: &RemotingCommand) -> ClientError {
    ClientError::Server {
        addr: addr.to_owned(),
        code: resp.response_code(),
        remark: resp.remark.clone().unwrap_or_default(),
    }
}

/// The typed header of a response.
pub(crate) fn header<H: CustomHeader>(
    addr: &str,
    resp: &RemotingCommand,
) -> Result<H, ClientError> {
    resp.decode_header()
        .map_err(|e| ClientError::decode(addr, e))
}

/// The JSON body of a response; a missing body reads as `{}`.
pub(crate) fn json_body<B: JsonBody>(addr: &str, resp: &RemotingCommand) -> Result<B, ClientError> {
    let bytes = resp.body.as_deref().unwrap_or(b"{}");
    B::from_json(bytes).map_err(|e| ClientError::decode(addr, e))
}
