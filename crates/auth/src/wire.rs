//! The JSON bodies of Apache's user and ACL admin requests (`UserInfo`, `AclInfo`, `PolicyInfo`,
//! `PolicyEntryInfo`), which are also how the broker stores them, and their conversion to the model.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::policy::{Acl, Policy, PolicyEntry, PolicyType};
use crate::user::{User, UserStatus, UserType};

/// `UserInfo`. Every field is optional on the wire: an update names only what changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_status: Option<String>,
}

/// `AclInfo`: a subject (`User:<name>`) and its policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AclInfo {
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub policies: Vec<PolicyInfo>,
}

/// `PolicyInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_type: Option<String>,
    #[serde(default)]
    pub entries: Vec<PolicyEntryInfo>,
}

/// `PolicyEntryInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyEntryInfo {
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub source_ips: Vec<String>,
    #[serde(default)]
    pub decision: String,
}

/// The user name in a subject key (`User:alice` → `alice`).
///
/// # Errors
/// `Subject` for any other form.
pub fn subject_user(subject: &str) -> Result<&str, ModelError> {
    subject
        .trim()
        .strip_prefix("User:")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ModelError::Subject(subject.to_owned()))
}

impl UserInfo {
    /// A new user from a create request; type Normal and enabled unless said otherwise.
    ///
    /// # Errors
    /// A missing name or password, an unknown type or status.
    pub fn to_user(&self) -> Result<User, ModelError> {
        let kind = match &self.user_type {
            Some(t) => t.parse()?,
            None => UserType::Normal,
        };
        let mut user = User::new(
            self.username.as_deref().unwrap_or_default(),
            self.password.as_deref().unwrap_or_default(),
            kind,
        )?;
        if let Some(s) = &self.user_status {
            user.status = s.parse()?;
        }
        Ok(user)
    }

    /// Applies the fields this update names to `user`.
    ///
    /// # Errors
    /// An empty password, an unknown type or status.
    pub fn apply_to(&self, user: &mut User) -> Result<(), ModelError> {
        if let Some(p) = &self.password {
            if p.is_empty() {
                return Err(ModelError::Empty("password"));
            }
            p.clone_into(&mut user.password);
        }
        if let Some(t) = &self.user_type {
            user.kind = t.parse()?;
        }
        if let Some(s) = &self.user_status {
            user.status = s.parse::<UserStatus>()?;
        }
        Ok(())
    }

    /// What `getUser`/`listUser` answer.
    #[must_use]
    pub fn of(user: &User) -> Self {
        Self {
            username: Some(user.name.clone()),
            password: Some(user.password.clone()),
            user_type: Some(user.kind.name().to_owned()),
            user_status: Some(user.status.name().to_owned()),
        }
    }
}

impl AclInfo {
    /// The policies this body carries (a missing policy type is `Custom`, a missing decision is
    /// an error: Apache's mqadmin always sends one).
    ///
    /// # Errors
    /// The first field that does not parse.
    pub fn to_acl(&self) -> Result<Acl, ModelError> {
        let mut acl = Acl::default();
        for p in &self.policies {
            let kind = match &p.policy_type {
                Some(t) => t.parse()?,
                None => PolicyType::Custom,
            };
            let entries = p
                .entries
                .iter()
                .map(PolicyEntryInfo::to_entry)
                .collect::<Result<Vec<_>, _>>()?;
            acl.merge(Acl {
                policies: vec![Policy { kind, entries }],
            });
        }
        Ok(acl)
    }

    #[must_use]
    pub fn of(user: &str, acl: &Acl) -> Self {
        Self {
            subject: Some(format!("User:{user}")),
            policies: acl
                .policies
                .iter()
                .map(|p| PolicyInfo {
                    policy_type: Some(p.kind.name().to_owned()),
                    entries: p.entries.iter().map(PolicyEntryInfo::of).collect(),
                })
                .collect(),
        }
    }
}

impl PolicyEntryInfo {
    fn to_entry(&self) -> Result<PolicyEntry, ModelError> {
        if self.actions.is_empty() {
            return Err(ModelError::Empty("actions"));
        }
        Ok(PolicyEntry {
            resource: self.resource.parse()?,
            actions: self
                .actions
                .iter()
                .map(|a| a.parse())
                .collect::<Result<_, _>>()?,
            source_ips: self
                .source_ips
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?,
            decision: self.decision.parse()?,
        })
    }

    fn of(e: &PolicyEntry) -> Self {
        Self {
            resource: e.resource.to_string(),
            actions: e.actions.iter().map(|a| a.name().to_owned()).collect(),
            source_ips: e.source_ips.iter().map(ToString::to_string).collect(),
            decision: e.decision.name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_info_round_trips_apache_json() {
        let text = r#"{"subject":"User:alice","policies":[{"policyType":"Custom","entries":[
            {"resource":"Topic:orders*","actions":["Pub","Sub"],"sourceIps":["10.0.0.0/8"],"decision":"Allow"},
            {"resource":"Group:g1","actions":["Sub"],"sourceIps":[],"decision":"Deny"}]}]}"#;
        let info: AclInfo = serde_json::from_str(text).expect("parses");
        assert_eq!(
            subject_user(info.subject.as_deref().expect("subject")),
            Ok("alice")
        );
        let acl = info.to_acl().expect("valid");
        let back = AclInfo::of("alice", &acl);
        assert_eq!(back.to_acl().expect("valid"), acl);
        assert_eq!(back.policies[0].entries[0].resource, "Topic:orders*");
        let bad: AclInfo = serde_json::from_str(
            r#"{"policies":[{"entries":[{"resource":"Topic:a","actions":["Fly"],"decision":"Allow"}]}]}"#,
        )
        .expect("json");
        assert_eq!(bad.to_acl(), Err(ModelError::Action("Fly".into())));
    }

    #[test]
    fn user_info_defaults_and_updates() {
        let info: UserInfo =
            serde_json::from_str(r#"{"username":"bob","password":"pw"}"#).expect("json");
        let mut u = info.to_user().expect("valid");
        assert_eq!((u.kind, u.status), (UserType::Normal, UserStatus::Enabled));
        let upd: UserInfo = serde_json::from_str(r#"{"userStatus":"disable"}"#).expect("json");
        upd.apply_to(&mut u).expect("applies");
        assert_eq!(u.status, UserStatus::Disabled);
        assert_eq!(u.password, "pw");
        assert!(subject_user("alice").is_err());
    }
}
