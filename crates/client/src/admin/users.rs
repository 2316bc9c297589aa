//! Users and ACLs of one broker (ACL 2.0), as mqadmin 5.3's `createUser` ... `listAcl` send them:
//! AUTH_CREATE_USER (3001) to AUTH_LIST_ACL (3010), `UserInfo` / `AclInfo` JSON bodies.

use ferromq_auth::wire::{AclInfo, UserInfo};
use ferromq_remoting::{DecodeError, RemotingCommand, RequestCode};
use serde::de::DeserializeOwned;

use super::Admin;
use crate::error::ClientError;

impl Admin {
    async fn auth_call(
        &self,
        addr: &str,
        cmd: RemotingCommand,
    ) -> Result<RemotingCommand, ClientError> {
        self.remote.call_ok(addr, cmd, self.timeout).await
    }

    /// `createUser`.
    ///
    /// # Errors
    /// Transport failures, refusal (an existing user, a non-super caller creating a super user).
    pub async fn create_user(&self, addr: &str, user: &UserInfo) -> Result<(), ClientError> {
        let name = user.username.clone().unwrap_or_default();
        let cmd = RemotingCommand::request(RequestCode::AUTH_CREATE_USER)
            .with_ext("username", name)
            .with_body(to_json(user));
        self.auth_call(addr, cmd).await.map(drop)
    }

    /// `updateUser`: the fields `user` sets change, the others stay.
    ///
    /// # Errors
    /// Transport failures, refusal (an unknown user).
    pub async fn update_user(&self, addr: &str, user: &UserInfo) -> Result<(), ClientError> {
        let name = user.username.clone().unwrap_or_default();
        let cmd = RemotingCommand::request(RequestCode::AUTH_UPDATE_USER)
            .with_ext("username", name)
            .with_body(to_json(user));
        self.auth_call(addr, cmd).await.map(drop)
    }

    /// `deleteUser` (its ACL goes too).
    ///
    /// # Errors
    /// Transport failures, refusal.
    pub async fn delete_user(&self, addr: &str, username: &str) -> Result<(), ClientError> {
        let cmd =
            RemotingCommand::request(RequestCode::AUTH_DELETE_USER).with_ext("username", username);
        self.auth_call(addr, cmd).await.map(drop)
    }

    /// `getUser`.
    ///
    /// # Errors
    /// Transport failures, refusal (an unknown user), a malformed body.
    pub async fn user(&self, addr: &str, username: &str) -> Result<UserInfo, ClientError> {
        let cmd =
            RemotingCommand::request(RequestCode::AUTH_GET_USER).with_ext("username", username);
        let resp = self.auth_call(addr, cmd).await?;
        from_json(addr, &resp)
    }

    /// `listUser`: users whose name contains `filter`.
    ///
    /// # Errors
    /// Transport failures, refusal, a malformed body.
    pub async fn users(&self, addr: &str, filter: &str) -> Result<Vec<UserInfo>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::AUTH_LIST_USER).with_ext("filter", filter);
        let resp = self.auth_call(addr, cmd).await?;
        from_json(addr, &resp)
    }

    /// `createAcl` / `updateAcl`: merges `acl`'s entries into its subject's ACL (an entry replaces
    /// the one for the same resource).
    ///
    /// # Errors
    /// Transport failures, refusal (an unknown user, an entry that does not parse).
    pub async fn put_acl(&self, addr: &str, acl: &AclInfo) -> Result<(), ClientError> {
        let subject = acl.subject.clone().unwrap_or_default();
        let cmd = RemotingCommand::request(RequestCode::AUTH_CREATE_ACL)
            .with_ext("subject", subject)
            .with_body(to_json(acl));
        self.auth_call(addr, cmd).await.map(drop)
    }

    /// `deleteAcl`: the entries for `resource` (all when `None`) of `subject` (`User:<name>`).
    ///
    /// # Errors
    /// Transport failures, refusal.
    pub async fn delete_acl(
        &self,
        addr: &str,
        subject: &str,
        resource: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut cmd =
            RemotingCommand::request(RequestCode::AUTH_DELETE_ACL).with_ext("subject", subject);
        if let Some(r) = resource {
            cmd = cmd.with_ext("resource", r);
        }
        self.auth_call(addr, cmd).await.map(drop)
    }

    /// `getAcl`.
    ///
    /// # Errors
    /// Transport failures, refusal (no ACL), a malformed body.
    pub async fn acl(&self, addr: &str, subject: &str) -> Result<AclInfo, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::AUTH_GET_ACL).with_ext("subject", subject);
        let resp = self.auth_call(addr, cmd).await?;
        from_json(addr, &resp)
    }

    /// `listAcl`: ACLs whose subject contains `subject_filter` and with an entry whose resource
    /// contains `resource_filter`.
    ///
    /// # Errors
    /// Transport failures, refusal, a malformed body.
    pub async fn acls(
        &self,
        addr: &str,
        subject_filter: &str,
        resource_filter: &str,
    ) -> Result<Vec<AclInfo>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::AUTH_LIST_ACL)
            .with_ext("subjectFilter", subject_filter)
            .with_ext("resourceFilter", resource_filter);
        let resp = self.auth_call(addr, cmd).await?;
        from_json(addr, &resp)
    }
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    // Plain structs of strings and lists: serialization cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn from_json<T: DeserializeOwned>(addr: &str, resp: &RemotingCommand) -> Result<T, ClientError> {
    let bytes = resp.body.as_deref().unwrap_or_default();
    serde_json::from_slice(bytes)
        .map_err(|e| ClientError::decode(addr, DecodeError::InvalidJson(e.to_string())))
}
