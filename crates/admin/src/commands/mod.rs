//! Command → execution. Each function returns a [`Report`] or a [`Failure`].

mod cluster;
mod groups;
mod messages;
mod topics;
mod trace;
mod users;

use ferromq_client::admin::Admin;
use ferromq_client::ClientError;

use crate::cli::{AdminArgs, AdminCommand};
use crate::error::Failure;
use crate::report::Report;

/// What a command needs besides its own arguments.
pub(crate) struct Ctx<'a> {
    pub admin: &'a Admin,
    pub args: &'a AdminArgs,
}

impl Ctx<'_> {
    /// Classifies a client error with this invocation's name servers in the hint.
    pub fn fail(&self, e: ClientError) -> Failure {
        Failure::from_client(e, &self.args.namesrv_addr)
    }

    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.args
            .namesrv_addr
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

pub(crate) use cluster::resolve;

pub(crate) async fn run(admin: &Admin, args: &AdminArgs) -> Result<Report, Failure> {
    let cx = Ctx { admin, args };
    match &args.command {
        AdminCommand::UpdateTopic(a) => topics::update_topic(&cx, a).await,
        AdminCommand::DeleteTopic(a) => topics::delete_topic(&cx, a).await,
        AdminCommand::TopicList => topics::topic_list(&cx).await,
        AdminCommand::TopicRoute(a) => topics::topic_route(&cx, &a.topic).await,
        AdminCommand::TopicStatus(a) => topics::topic_status(&cx, &a.topic).await,
        AdminCommand::ClusterList => cluster::cluster_list(&cx).await,
        AdminCommand::BrokerStatus(t) => cluster::broker_status(&cx, t).await,
        AdminCommand::GetBrokerConfig(t) => cluster::get_broker_config(&cx, t).await,
        AdminCommand::UpdateBrokerConfig(a) => cluster::update_broker_config(&cx, a).await,
        AdminCommand::UpdateSubGroup(a) => groups::update_sub_group(&cx, a).await,
        AdminCommand::DeleteSubGroup(a) => groups::delete_sub_group(&cx, a).await,
        AdminCommand::ConsumerProgress(a) => groups::consumer_progress(&cx, a).await,
        AdminCommand::ConsumerConnection(a) => groups::consumer_connection(&cx, &a.group).await,
        AdminCommand::ResetOffsetByTime(a) => groups::reset_offset_by_time(&cx, a).await,
        AdminCommand::ProducerConnection(a) => groups::producer_connection(&cx, a).await,
        AdminCommand::QueryMsgById(a) => messages::query_by_id(&cx, a).await,
        AdminCommand::QueryMsgByKey(a) => messages::query_by_key(&cx, a).await,
        AdminCommand::QueryMsgByOffset(a) => messages::query_by_offset(&cx, a).await,
        AdminCommand::SendMessage(a) => messages::send_message(&cx, a).await,
        AdminCommand::ConsumeMessage(a) => messages::consume_message(&cx, a).await,
        AdminCommand::QueryMsgTraceById(a) => trace::query_trace(&cx, a).await,
        AdminCommand::CreateUser(a) => users::create_user(&cx, a).await,
        AdminCommand::UpdateUser(a) => users::update_user(&cx, a).await,
        AdminCommand::DeleteUser(a) => users::delete_user(&cx, a).await,
        AdminCommand::GetUser(a) => users::get_user(&cx, a).await,
        AdminCommand::ListUser(a) => users::list_user(&cx, a).await,
        AdminCommand::CreateAcl(a) | AdminCommand::UpdateAcl(a) => users::put_acl(&cx, a).await,
        AdminCommand::DeleteAcl(a) => users::delete_acl(&cx, a).await,
        AdminCommand::GetAcl(a) => users::get_acl(&cx, a).await,
        AdminCommand::ListAcl(a) => users::list_acl(&cx, a).await,
    }
}
