//! The cluster's inner user: `innerClientAuthenticationCredentials`, what ferromq's servers sign
//! their requests to each other with, and the check of those requests by a server that has no
//! user registry of its own (a name server, a controller).

use std::fmt;

use ferromq_remoting::RemotingCommand;
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, ModelError};
use crate::registry::Registry;
use crate::signature::Credentials;
use crate::user::{User, UserType};

/// `innerClientAuthenticationCredentials`: `{ access_key = "...", secret_key = "..." }` in TOML,
/// or Apache's `accessKey` / `secretKey`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InnerCredentials {
    #[serde(alias = "accessKey")]
    pub access_key: String,
    #[serde(alias = "secretKey")]
    pub secret_key: String,
}

impl InnerCredentials {
    #[must_use]
    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.access_key, &self.secret_key)
    }
}

// The secret never reaches a logged configuration.
impl fmt::Debug for InnerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InnerCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// Checks that a request is signed by the inner user.
#[derive(Debug, Clone)]
pub struct InnerUser {
    /// Just that one user, so the refusals read as the broker's do.
    registry: Registry,
}

impl InnerUser {
    /// # Errors
    /// An empty access or secret key.
    pub fn new(credentials: &InnerCredentials) -> Result<Self, ModelError> {
        let user = User::new(
            &credentials.access_key,
            &credentials.secret_key,
            UserType::Super,
        )?;
        let mut registry = Registry::default();
        registry.users.insert(user.name.clone(), user);
        Ok(Self { registry })
    }

    /// # Errors
    /// Why `cmd` is not the inner user's: unsigned, another user, a wrong signature.
    pub fn authenticate(&self, cmd: &RemotingCommand) -> Result<(), AuthError> {
        self.registry.authenticate(cmd).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use ferromq_remoting::RequestCode;

    use super::*;

    #[test]
    fn only_the_inner_signature_passes() {
        let creds = InnerCredentials {
            access_key: "inner".into(),
            secret_key: "s3cret".into(),
        };
        let inner = InnerUser::new(&creds).expect("valid");
        let mut signed = RemotingCommand::request(RequestCode::REGISTER_BROKER);
        creds.credentials().sign(&mut signed);
        assert_eq!(inner.authenticate(&signed), Ok(()));
        let mut wrong = RemotingCommand::request(RequestCode::REGISTER_BROKER);
        Credentials::new("inner", "guess").sign(&mut wrong);
        assert!(matches!(
            inner.authenticate(&wrong),
            Err(AuthError::BadSignature { .. })
        ));
        let unsigned = RemotingCommand::request(RequestCode::REGISTER_BROKER);
        assert_eq!(
            inner.authenticate(&unsigned),
            Err(AuthError::MissingAccessKey)
        );
        assert!(!format!("{creds:?}").contains("s3cret"));
        let apache: InnerCredentials =
            serde_json::from_str(r#"{"accessKey":"a","secretKey":"b"}"#).expect("Apache's names");
        assert_eq!(apache.access_key, "a");
        assert!(InnerUser::new(&InnerCredentials {
            access_key: String::new(),
            secret_key: "x".into()
        })
        .is_err());
    }
}
