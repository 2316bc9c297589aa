//! `createUser`, `updateUser`, `deleteUser`, `getUser`, `listUser`, `createAcl`, `updateAcl`,
//! `deleteAcl`, `getAcl`, `listAcl`: each goes to one broker (-b) or every master of a cluster (-c).

use ferromq_auth::wire::{AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use serde_json::json;

use super::{resolve, Ctx};
use crate::auth_cli::{
    AclArgs, DeleteAclArgs, ListAclArgs, ListUserArgs, SubjectArgs, UserArgs, UserNameArgs,
};
use crate::error::Failure;
use crate::report::Report;
use crate::table::Table;

fn user_info(a: &UserArgs) -> UserInfo {
    UserInfo {
        username: Some(a.username.clone()),
        password: a.password.clone(),
        user_type: a.user_type.clone(),
        user_status: a.user_status.clone(),
    }
}

fn done(what: String, addrs: &[String]) -> Report {
    let text: String = addrs.iter().map(|a| format!("{what}, {a}\n")).collect();
    Report::new(json!({ "result": what, "brokers": addrs }), text)
}

pub(super) async fn create_user(cx: &Ctx<'_>, a: &UserArgs) -> Result<Report, Failure> {
    if a.password.as_deref().is_none_or(str::is_empty) {
        return Err(Failure::usage(
            "a new user needs a password",
            "pass -p <password>",
        ));
    }
    let addrs = resolve(cx, &a.target).await?;
    for addr in &addrs {
        cx.admin
            .create_user(addr, &user_info(a))
            .await
            .map_err(|e| cx.fail(e))?;
    }
    Ok(done(format!("create user {} success", a.username), &addrs))
}

pub(super) async fn update_user(cx: &Ctx<'_>, a: &UserArgs) -> Result<Report, Failure> {
    let addrs = resolve(cx, &a.target).await?;
    for addr in &addrs {
        cx.admin
            .update_user(addr, &user_info(a))
            .await
            .map_err(|e| cx.fail(e))?;
    }
    Ok(done(format!("update user {} success", a.username), &addrs))
}

pub(super) async fn delete_user(cx: &Ctx<'_>, a: &UserNameArgs) -> Result<Report, Failure> {
    let addrs = resolve(cx, &a.target).await?;
    for addr in &addrs {
        cx.admin
            .delete_user(addr, &a.username)
            .await
            .map_err(|e| cx.fail(e))?;
    }
    Ok(done(format!("delete user {} success", a.username), &addrs))
}

/// Users as a table; passwords are never printed.
fn users_report(found: Vec<(String, UserInfo)>) -> Report {
    let mut table = Table::new(&["#Broker", "#Username", "#UserType", "#UserStatus"]);
    let mut out = Vec::new();
    for (addr, u) in found {
        let (name, kind, status) = (
            u.username.unwrap_or_default(),
            u.user_type.unwrap_or_default(),
            u.user_status.unwrap_or_default(),
        );
        table.row([addr.clone(), name.clone(), kind.clone(), status.clone()]);
        out.push(
            json!({"brokerAddr": addr, "username": name, "userType": kind, "userStatus": status}),
        );
    }
    Report::new(json!({ "users": out }), table.render())
}

pub(super) async fn get_user(cx: &Ctx<'_>, a: &UserNameArgs) -> Result<Report, Failure> {
    let mut found = Vec::new();
    for addr in resolve(cx, &a.target).await? {
        let u = cx
            .admin
            .user(&addr, &a.username)
            .await
            .map_err(|e| cx.fail(e))?;
        found.push((addr, u));
    }
    Ok(users_report(found))
}

pub(super) async fn list_user(cx: &Ctx<'_>, a: &ListUserArgs) -> Result<Report, Failure> {
    let mut found = Vec::new();
    for addr in resolve(cx, &a.target).await? {
        for u in cx
            .admin
            .users(&addr, &a.filter)
            .await
            .map_err(|e| cx.fail(e))?
        {
            found.push((addr.clone(), u));
        }
    }
    Ok(users_report(found))
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) async fn put_acl(cx: &Ctx<'_>, a: &AclArgs) -> Result<Report, Failure> {
    let entries = split(&a.resources)
        .into_iter()
        .map(|resource| PolicyEntryInfo {
            resource,
            actions: split(&a.actions),
            source_ips: split(&a.source_ips),
            decision: a.decision.clone(),
        })
        .collect();
    let acl = AclInfo {
        subject: Some(a.subject.clone()),
        policies: vec![PolicyInfo {
            policy_type: Some("Custom".into()),
            entries,
        }],
    };
    // Checked here too so a typo is reported before any broker is asked.
    acl.to_acl()
        .map_err(|e| Failure::usage(e.to_string(), "see `ferromq admin createAcl --help`"))?;
    let addrs = resolve(cx, &a.target).await?;
    for addr in &addrs {
        cx.admin.put_acl(addr, &acl).await.map_err(|e| cx.fail(e))?;
    }
    Ok(done(format!("put acl of {} success", a.subject), &addrs))
}

pub(super) async fn delete_acl(cx: &Ctx<'_>, a: &DeleteAclArgs) -> Result<Report, Failure> {
    let addrs = resolve(cx, &a.target).await?;
    for addr in &addrs {
        cx.admin
            .delete_acl(addr, &a.subject, a.resource.as_deref())
            .await
            .map_err(|e| cx.fail(e))?;
    }
    Ok(done(format!("delete acl of {} success", a.subject), &addrs))
}

fn acls_report(found: Vec<(String, AclInfo)>) -> Report {
    let mut table = Table::new(&[
        "#Broker",
        "#Subject",
        "#PolicyType",
        "#Resource",
        "#Actions",
        "#SourceIps",
        "#Decision",
    ]);
    let mut out = Vec::new();
    for (addr, acl) in found {
        let subject = acl.subject.clone().unwrap_or_default();
        for p in &acl.policies {
            for e in &p.entries {
                table.row([
                    addr.clone(),
                    subject.clone(),
                    p.policy_type.clone().unwrap_or_default(),
                    e.resource.clone(),
                    e.actions.join(","),
                    e.source_ips.join(","),
                    e.decision.clone(),
                ]);
            }
        }
        out.push(json!({"brokerAddr": addr, "acl": acl}));
    }
    Report::new(json!({ "acls": out }), table.render())
}

pub(super) async fn get_acl(cx: &Ctx<'_>, a: &SubjectArgs) -> Result<Report, Failure> {
    let mut found = Vec::new();
    for addr in resolve(cx, &a.target).await? {
        let acl = cx
            .admin
            .acl(&addr, &a.subject)
            .await
            .map_err(|e| cx.fail(e))?;
        found.push((addr, acl));
    }
    Ok(acls_report(found))
}

pub(super) async fn list_acl(cx: &Ctx<'_>, a: &ListAclArgs) -> Result<Report, Failure> {
    let mut found = Vec::new();
    for addr in resolve(cx, &a.target).await? {
        let acls = cx
            .admin
            .acls(&addr, &a.subject_filter, &a.resource_filter)
            .await
            .map_err(|e| cx.fail(e))?;
        found.extend(acls.into_iter().map(|acl| (addr.clone(), acl)));
    }
    Ok(acls_report(found))
}
