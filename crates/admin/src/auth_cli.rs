//! Arguments of the user and ACL commands (mqadmin 5.3's `createUser` ... `listAcl`, same short
//! flags).

use clap::Args;

use crate::cli::BrokerTarget;

#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    #[arg(short = 'u', long = "username")]
    pub username: String,
    #[arg(short = 'p', long = "password")]
    pub password: Option<String>,
    /// Super or Normal (a new user is Normal).
    #[arg(short = 't', long = "userType")]
    pub user_type: Option<String>,
    /// enable or disable.
    #[arg(short = 's', long = "userStatus")]
    pub user_status: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct UserNameArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    #[arg(short = 'u', long = "username")]
    pub username: String,
}

#[derive(Debug, Clone, Args)]
pub struct ListUserArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    /// Only users whose name contains this.
    #[arg(short = 'f', long = "filter", default_value = "")]
    pub filter: String,
}

#[derive(Debug, Clone, Args)]
pub struct AclArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    /// `User:<name>`.
    #[arg(short = 's', long = "subject")]
    pub subject: String,
    /// Resources, `,`-separated: `Cluster`, `Topic:<name>`, `Topic:<prefix>*`, `Group:<name>`, `*`.
    #[arg(short = 'r', long = "resources")]
    pub resources: String,
    /// Actions, `,`-separated: Pub, Sub, Create, Update, Delete, Get, List, All.
    #[arg(short = 'a', long = "actions")]
    pub actions: String,
    /// Allow or Deny.
    #[arg(short = 'd', long = "decision")]
    pub decision: String,
    /// Source addresses or CIDR ranges, `,`-separated (none: from anywhere).
    #[arg(short = 'i', long = "sourceIp", default_value = "")]
    pub source_ips: String,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteAclArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    #[arg(short = 's', long = "subject")]
    pub subject: String,
    /// Only the entries for this resource (none: the whole ACL).
    #[arg(short = 'r', long = "resource")]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SubjectArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    #[arg(short = 's', long = "subject")]
    pub subject: String,
}

#[derive(Debug, Clone, Args)]
pub struct ListAclArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    #[arg(short = 's', long = "subject", default_value = "")]
    pub subject_filter: String,
    #[arg(short = 'r', long = "resource", default_value = "")]
    pub resource_filter: String,
}
