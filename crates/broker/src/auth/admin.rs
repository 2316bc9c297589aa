//! The user and ACL admin requests Apache's mqadmin 5.3 sends (AUTH_CREATE_USER 3001 ...
//! AUTH_LIST_ACL 3010): header fields `username` / `filter` / `subject` / `policyType` /
//! `resource` / `subjectFilter` / `resourceFilter`, bodies `UserInfo` and `AclInfo` JSON. A failure
//! is SYSTEM_ERROR with the reason as remark, as Apache answers.

use ferromq_auth::wire::{subject_user, AclInfo, UserInfo};
use ferromq_auth::{PolicyType, Registry, Resource, UserType};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use super::{Caller, Guard};

/// Answers one AUTH_* request; `caller` is who sent it when authentication is on.
pub(crate) fn handle(
    guard: &Guard,
    caller: Option<&Caller>,
    req: &RemotingCommand,
) -> RemotingCommand {
    let result = match req.request_code() {
        RequestCode::AUTH_CREATE_USER => create_user(guard, caller, req),
        RequestCode::AUTH_UPDATE_USER => update_user(guard, caller, req),
        RequestCode::AUTH_DELETE_USER => field(req, "username").and_then(|name| {
            guard.update(|r| {
                r.users
                    .remove(name)
                    .ok_or_else(|| format!("user {name} is not found"))?;
                r.acls.remove(name);
                Ok(None)
            })
        }),
        RequestCode::AUTH_GET_USER => field(req, "username").and_then(|name| {
            let registry = guard.registry();
            let user = registry
                .users
                .get(name)
                .ok_or_else(|| format!("user {name} is not found"))?;
            json(&UserInfo::of(user))
        }),
        RequestCode::AUTH_LIST_USER => {
            let filter = req.ext("filter").unwrap_or_default();
            let registry = guard.registry();
            let users: Vec<UserInfo> = registry
                .users
                .values()
                .filter(|u| u.name.contains(filter))
                .map(UserInfo::of)
                .collect();
            json(&users)
        }
        RequestCode::AUTH_CREATE_ACL | RequestCode::AUTH_UPDATE_ACL => put_acl(guard, req),
        RequestCode::AUTH_DELETE_ACL => delete_acl(guard, req),
        RequestCode::AUTH_GET_ACL => field(req, "subject").and_then(|subject| {
            let name = subject_user(subject).map_err(|e| e.to_string())?;
            let registry = guard.registry();
            let acl = registry
                .acls
                .get(name)
                .ok_or_else(|| format!("no ACL for {subject}"))?;
            json(&AclInfo::of(name, acl))
        }),
        RequestCode::AUTH_LIST_ACL => list_acls(&guard.registry(), req),
        other => Err(format!("{other} is not a user or ACL request")),
    };
    match result {
        Ok(body) => {
            let resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None);
            match body {
                Some(b) => resp.with_body(b),
                None => resp,
            }
        }
        Err(why) => RemotingCommand::response_to(req, ResponseCode::SYSTEM_ERROR, Some(why)),
    }
}

type Answer = Result<Option<Vec<u8>>, String>;

fn field<'a>(req: &'a RemotingCommand, name: &str) -> Result<&'a str, String> {
    req.ext(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("header field {name} is missing"))
}

fn json(value: &impl serde::Serialize) -> Answer {
    serde_json::to_vec(value)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn body<T: serde::de::DeserializeOwned>(req: &RemotingCommand) -> Result<T, String> {
    let bytes = req.body.as_deref().ok_or("the request has no body")?;
    serde_json::from_slice(bytes).map_err(|e| format!("body: {e}"))
}

/// With authentication on, only a super user may create or promote a super user (Apache's rule).
fn may_grant_super(guard: &Guard, caller: Option<&Caller>) -> Result<(), String> {
    let is_super = caller.is_some_and(|c| c.kind == UserType::Super);
    if guard.authentication_enabled() && !is_super {
        return Err("a super user can only be created by a super user".into());
    }
    Ok(())
}

fn create_user(guard: &Guard, caller: Option<&Caller>, req: &RemotingCommand) -> Answer {
    let name = field(req, "username")?;
    let mut info: UserInfo = body(req)?;
    info.username = Some(name.to_owned());
    let user = info.to_user().map_err(|e| e.to_string())?;
    if user.kind == UserType::Super {
        may_grant_super(guard, caller)?;
    }
    guard.update(|r| {
        if r.users.contains_key(name) {
            return Err(format!("user {name} already exists"));
        }
        r.users.insert(name.to_owned(), user);
        Ok(None)
    })
}

fn update_user(guard: &Guard, caller: Option<&Caller>, req: &RemotingCommand) -> Answer {
    let name = field(req, "username")?;
    let info: UserInfo = body(req)?;
    if info
        .user_type
        .as_deref()
        .is_some_and(|t| t.parse() == Ok(UserType::Super))
    {
        may_grant_super(guard, caller)?;
    }
    guard.update(|r| {
        let user = r
            .users
            .get_mut(name)
            .ok_or_else(|| format!("user {name} is not found"))?;
        info.apply_to(user).map_err(|e| e.to_string())?;
        Ok(None)
    })
}

/// AUTH_CREATE_ACL and AUTH_UPDATE_ACL both merge into the subject's ACL (Apache's create falls
/// back to update when the ACL exists).
fn put_acl(guard: &Guard, req: &RemotingCommand) -> Answer {
    let subject = field(req, "subject")?;
    let name = subject_user(subject).map_err(|e| e.to_string())?.to_owned();
    let info: AclInfo = body(req)?;
    let acl = info.to_acl().map_err(|e| e.to_string())?;
    guard.update(|r| {
        if !r.users.contains_key(&name) {
            return Err(format!("user {name} is not found"));
        }
        r.acls.entry(name).or_default().merge(acl);
        Ok(None)
    })
}

fn delete_acl(guard: &Guard, req: &RemotingCommand) -> Answer {
    let subject = field(req, "subject")?;
    let name = subject_user(subject).map_err(|e| e.to_string())?.to_owned();
    let kind = match req.ext("policyType").filter(|s| !s.is_empty()) {
        Some(t) => Some(t.parse::<PolicyType>().map_err(|e| e.to_string())?),
        None => None,
    };
    let resource = match req.ext("resource").filter(|s| !s.is_empty()) {
        Some(r) => Some(r.parse::<Resource>().map_err(|e| e.to_string())?),
        None => None,
    };
    guard.update(|r| {
        let acl = r
            .acls
            .get_mut(&name)
            .ok_or_else(|| format!("no ACL for {subject}"))?;
        acl.remove(kind, resource.as_ref());
        if acl.policies.is_empty() {
            r.acls.remove(&name);
        }
        Ok(None)
    })
}

fn list_acls(registry: &Registry, req: &RemotingCommand) -> Answer {
    let subject_filter = req.ext("subjectFilter").unwrap_or_default();
    let resource_filter = req.ext("resourceFilter").unwrap_or_default();
    let acls: Vec<AclInfo> = registry
        .acls
        .iter()
        .map(|(name, acl)| AclInfo::of(name, acl))
        .filter(|info| {
            info.subject
                .as_deref()
                .is_some_and(|s| s.contains(subject_filter))
                && (resource_filter.is_empty()
                    || info
                        .policies
                        .iter()
                        .flat_map(|p| &p.entries)
                        .any(|e| e.resource.contains(resource_filter)))
        })
        .collect();
    json(&acls)
}
