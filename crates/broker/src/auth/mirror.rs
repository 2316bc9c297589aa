//! Users and ACLs copied from a master to its replicas, so that a replica (and, promoted, the new
//! master) enforces the same users as the master it follows.
//!
//! Apache's mqadmin requests cannot carry this: `AUTH_LIST_USER` answers without passwords, and a
//! replica needs them to check signatures. So the master answers one ferromq request,
//! [`GET_AUTH_METADATA`], with its whole `config/auth.json`, and only to a request signed by a super
//! user (the replica signs it with `innerClientAuthenticationCredentials`) whatever the master's
//! own checks are, since the answer holds every secret.

use std::sync::Arc;

use ferromq_auth::{Registry, UserType};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use super::Guard;
use crate::persist;

/// ferromq's own request code for the users and ACLs with their secrets. It lies outside the
/// ranges Apache assigns (auth requests are 3001..=3010), is in no authorization table row, and
/// so is refused to normal users before it reaches [`answer`].
pub(crate) const GET_AUTH_METADATA: RequestCode = RequestCode(3901);

/// Answers [`GET_AUTH_METADATA`]: the registry in its stored JSON form to a signed super user,
/// NO_PERMISSION to anyone else.
pub(crate) fn answer(guard: &Guard, req: &RemotingCommand) -> RemotingCommand {
    let registry = guard.registry();
    let refused = match registry.authenticate(req) {
        Ok(user) if user.kind == UserType::Super => None,
        Ok(user) => Some(format!(
            "user {} is not a super user: only a super user may read the users and ACLs",
            user.name
        )),
        Err(e) => Some(e.to_string()),
    };
    match refused {
        None => RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
            .with_body(registry.to_json()),
        Some(why) => RemotingCommand::response_to(req, ResponseCode::NO_PERMISSION, Some(why)),
    }
}

impl Guard {
    /// Makes the master's `registry` this broker's own (written to `config/auth.json` first).
    /// Returns whether anything changed; an unchanged registry is not written again.
    ///
    /// # Errors
    /// The write failure.
    pub(crate) fn replace(&self, registry: Registry) -> Result<bool, String> {
        let _writer = self.writer.lock();
        if *self.registry() == registry {
            return Ok(false);
        }
        persist::write_atomic(&self.path, &registry.to_json()).map_err(|e| e.to_string())?;
        *self.registry.write() = Arc::new(registry);
        Ok(true)
    }
}
