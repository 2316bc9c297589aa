//! Remoting request signatures, byte for byte as the Java `AclClientRPCHook` makes them.
//!
//! The client adds `AccessKey` (and `SecurityToken` when it has one) to the ext fields, then signs
//! the values of every ext field except `Signature`, in key order, concatenated as UTF-8, followed
//! by the body: HMAC-SHA1 keyed with the secret key, Base64 (standard alphabet, padded), sent as
//! the `Signature` ext field. The broker recomputes it with the user's password.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ferromq_remoting::{ExtFields, RemotingCommand};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::error::AuthError;
use crate::user::User;

pub const ACCESS_KEY: &str = "AccessKey";
pub const SIGNATURE: &str = "Signature";
pub const SECURITY_TOKEN: &str = "SecurityToken";

/// Clients up to 4.9.3 (`MQVersion` ordinal 400) did not sign this field; Apache's broker leaves
/// it out of their content, and so do we.
const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";
const LAST_VERSION_WITHOUT_UNIQUE_KEY_QUERY: i32 = 400;

type HmacSha1 = Hmac<Sha1>;

/// What a client signs with: the user name and its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    #[must_use]
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    /// Adds `AccessKey`, `SecurityToken` and `Signature` to a request about to be sent. Call it
    /// last: any field or body change afterwards breaks the signature.
    pub fn sign(&self, cmd: &mut RemotingCommand) {
        cmd.ext_fields
            .insert(ACCESS_KEY.to_owned(), self.access_key.clone());
        if let Some(token) = &self.security_token {
            cmd.ext_fields
                .insert(SECURITY_TOKEN.to_owned(), token.clone());
        }
        cmd.ext_fields.remove(SIGNATURE);
        let mac = content_mac(
            &self.secret_key,
            &cmd.ext_fields,
            cmd.body.as_deref(),
            i32::MAX,
        );
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        cmd.ext_fields.insert(SIGNATURE.to_owned(), signature);
    }
}

/// The HMAC over a request's signed content, ready to finalize or verify.
fn content_mac(secret: &str, fields: &ExtFields, body: Option<&[u8]>, version: i32) -> HmacSha1 {
    // HMAC takes keys of any length (longer ones are hashed first), so this cannot fail.
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    for (key, value) in fields {
        let old_client_field =
            key == UNIQUE_KEY_QUERY && version <= LAST_VERSION_WITHOUT_UNIQUE_KEY_QUERY;
        if key != SIGNATURE && !old_client_field {
            mac.update(value.as_bytes());
        }
    }
    if let Some(body) = body {
        mac.update(body);
    }
    mac
}

/// The signature `secret` makes for `cmd` as it stands (tests and tools).
#[must_use]
pub fn signature_of(cmd: &RemotingCommand, secret: &str) -> String {
    let mac = content_mac(secret, &cmd.ext_fields, cmd.body.as_deref(), cmd.version);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks that `cmd` was signed with `user`'s password, comparing in constant time.
///
/// # Errors
/// `MissingSignature`, or `BadSignature` for a wrong key, altered content or a signature that is
/// not Base64.
pub fn verify(cmd: &RemotingCommand, user: &User) -> Result<(), AuthError> {
    let Some(sent) = cmd.ext(SIGNATURE) else {
        return Err(AuthError::MissingSignature {
            user: user.name.clone(),
        });
    };
    let bad = || AuthError::BadSignature {
        user: user.name.clone(),
    };
    let sent = STANDARD.decode(sent.trim()).map_err(|_| bad())?;
    content_mac(
        &user.password,
        &cmd.ext_fields,
        cmd.body.as_deref(),
        cmd.version,
    )
    .verify_slice(&sent)
    .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserType;

    #[test]
    fn golden_signature_over_sorted_values_then_body() {
        // HMAC-SHA1(key "12345678", "rocketmq2" + "topicA" + body "hello"): the fields sort as
        // AccessKey, topic, so the content is "rocketmq2topicAhello".
        let mut cmd = RemotingCommand::request(10)
            .with_ext("topic", "topicA")
            .with_body(&b"hello"[..]);
        Credentials::new("rocketmq2", "12345678").sign(&mut cmd);
        let mut mac = <HmacSha1 as KeyInit>::new_from_slice(b"12345678").expect("key");
        mac.update(b"rocketmq2topicAhello");
        let expected = STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(cmd.ext(SIGNATURE), Some(expected.as_str()));
        assert_eq!(cmd.ext(ACCESS_KEY), Some("rocketmq2"));
    }

    #[test]
    fn verify_accepts_the_signer_and_nothing_else() {
        let user = User::new("alice", "secret", UserType::Normal).expect("user");
        let mut cmd = RemotingCommand::request(10)
            .with_ext("topic", "t")
            .with_body(&b"body"[..]);
        Credentials::new("alice", "secret").sign(&mut cmd);
        assert_eq!(verify(&cmd, &user), Ok(()));

        let mut tampered = cmd.clone();
        tampered.body = Some(b"other"[..].into());
        assert!(matches!(
            verify(&tampered, &user),
            Err(AuthError::BadSignature { .. })
        ));

        let mut wrong_key = cmd.clone();
        Credentials::new("alice", "guess").sign(&mut wrong_key);
        assert!(matches!(
            verify(&wrong_key, &user),
            Err(AuthError::BadSignature { .. })
        ));

        let mut unsigned = cmd.clone();
        unsigned.ext_fields.remove(SIGNATURE);
        assert!(matches!(
            verify(&unsigned, &user),
            Err(AuthError::MissingSignature { .. })
        ));

        let mut garbage = cmd;
        garbage.ext_fields.insert(SIGNATURE.into(), "%%%".into());
        assert!(matches!(
            verify(&garbage, &user),
            Err(AuthError::BadSignature { .. })
        ));
    }

    #[test]
    fn old_clients_do_not_sign_the_unique_key_flag() {
        let user = User::new("alice", "secret", UserType::Normal).expect("user");
        let mut cmd = RemotingCommand::request(12).with_ext("topic", "t");
        cmd.version = LAST_VERSION_WITHOUT_UNIQUE_KEY_QUERY;
        Credentials::new("alice", "secret").sign(&mut cmd);
        // The field is added after signing, as a 4.9.3 client's header serializer did.
        cmd.ext_fields
            .insert(UNIQUE_KEY_QUERY.into(), "true".into());
        assert_eq!(verify(&cmd, &user), Ok(()));
        cmd.version += 1;
        assert!(verify(&cmd, &user).is_err());
    }
}
