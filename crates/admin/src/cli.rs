//! The `ferromq admin` command line. Command names and short flags follow RocketMQ's `mqadmin`;
//! long flags use mqadmin's long option names (`--topic`, `--clusterName`, ...). Each command is
//! also accepted in kebab case (`update-topic`).

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document with stable field names, for scripts.
    Json,
}

/// `ferromq admin [-n ADDRS] [--output table|json] <command> ...`.
#[derive(Debug, Clone, Parser)]
#[command(name = "admin")]
pub struct AdminArgs {
    /// Name servers, `;`-separated [default: $NAMESRV_ADDR, else 127.0.0.1:9876].
    #[arg(
        short = 'n',
        long = "namesrvAddr",
        global = true,
        value_name = "ADDRS",
        default_value_t = default_namesrv()
    )]
    pub namesrv_addr: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Timeout of each request, in milliseconds.
    #[arg(long = "timeout-ms", global = true, default_value_t = 5_000)]
    pub timeout_ms: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Access key (user name) to sign every request with, for brokers with ACL on.
    #[arg(
        long = "accessKey",
        alias = "access-key",
        global = true,
        requires = "secret_key"
    )]
    pub access_key: Option<String>,
    /// Secret key (password) of `--accessKey`.
    #[arg(
        long = "secretKey",
        alias = "secret-key",
        global = true,
        requires = "access_key"
    )]
    pub secret_key: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// `--tls` and how the servers' certificates are trusted.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Connect with TLS (name servers and brokers must accept it: `tls.server.mode` permissive or
    /// enforcing). Needs --tls-ca or --tls-insecure.
    #[arg(long, global = true)]
    pub tls: bool,
    /// With --tls: PEM file of the CA the servers' certificates chain to.
    #[arg(long, global = true, value_name = "FILE", requires = "tls")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// With --tls: accept any server certificate (e.g. a self-signed development server). The
    /// traffic is encrypted but the server is not authenticated.
    #[arg(long, global = true, requires = "tls", conflicts_with = "tls_ca")]
    pub tls_insecure: bool,
    /// With --tls: PEM client certificate, for servers that require one (with --tls-key).
    #[arg(long, global = true, value_name = "FILE", requires_all = ["tls", "tls_key"])]
    pub tls_cert: Option<std::path::PathBuf>,
    /// With --tls: the client certificate's PEM private key.
    #[arg(long, global = true, value_name = "FILE", requires_all = ["tls", "tls_cert"])]
    pub tls_key: Option<std::path::PathBuf>,
}

fn default_namesrv() -> String {
    std::env::var("NAMESRV_ADDR")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:9876".to_owned())
}

#[derive(Debug, Clone, Subcommand)]
#[command(rename_all = "camelCase")]
pub enum AdminCommand {
    /// Create or update a topic on every master of a cluster (-c) or on one broker (-b).
    #[command(alias = "update-topic")]
    UpdateTopic(UpdateTopicArgs),
    /// Delete a topic from the brokers of a cluster and from the name servers.
    #[command(alias = "delete-topic")]
    DeleteTopic(DeleteTopicArgs),
    /// List every topic the name servers know.
    #[command(alias = "topic-list")]
    TopicList,
    /// Show a topic's route: brokers and queue counts.
    #[command(alias = "topic-route")]
    TopicRoute(TopicArg),
    /// Show a topic's queues: min and max offsets, last store time.
    #[command(alias = "topic-status")]
    TopicStatus(TopicArg),
    /// List the brokers of every cluster with their message counts.
    #[command(alias = "cluster-list")]
    ClusterList,
    /// Show a broker's runtime statistics.
    #[command(alias = "broker-status")]
    BrokerStatus(BrokerTarget),
    /// Show the settings of a broker (-b) or of every master of a cluster (-c).
    #[command(alias = "get-broker-config")]
    GetBrokerConfig(BrokerTarget),
    /// Change one broker setting at run time (only the keys the broker allows; see docs/admin.md).
    #[command(alias = "update-broker-config")]
    UpdateBrokerConfig(UpdateBrokerConfigArgs),
    /// Create or update a consumer group's settings.
    #[command(alias = "update-sub-group")]
    UpdateSubGroup(UpdateSubGroupArgs),
    /// Delete a consumer group's settings (and, with -r, its committed offsets).
    #[command(alias = "delete-sub-group")]
    DeleteSubGroup(DeleteSubGroupArgs),
    /// A group's lag per queue and in total (-g), or every group of the cluster with its lag.
    #[command(alias = "consumer-progress")]
    ConsumerProgress(ConsumerProgressArgs),
    /// The connected consumers of a group and their subscriptions.
    #[command(alias = "consumer-connection")]
    ConsumerConnection(GroupArg),
    /// The connected producers of a group.
    #[command(alias = "producer-connection")]
    ProducerConnection(ProducerConnectionArgs),
    /// Find a message by offset message id, or by unique key with -t.
    #[command(alias = "query-msg-by-id")]
    QueryMsgById(QueryMsgByIdArgs),
    /// Find messages of a topic by key.
    #[command(alias = "query-msg-by-key")]
    QueryMsgByKey(QueryMsgByKeyArgs),
    /// Show the message at an offset of a queue.
    #[command(alias = "query-msg-by-offset")]
    QueryMsgByOffset(QueryMsgByOffsetArgs),
    /// Move a group's offsets of a topic to the first message stored at or after a time; running
    /// consumers restart there.
    #[command(alias = "reset-offset-by-time")]
    ResetOffsetByTime(ResetOffsetByTimeArgs),
    /// Send one test message.
    #[command(alias = "send-message")]
    SendMessage(SendMessageArgs),
    /// Print messages of a topic without committing any offset.
    #[command(alias = "consume-message")]
    ConsumeMessage(ConsumeMessageArgs),
    /// Show a message's trace: who sent and consumed it, when, and how long it took.
    #[command(alias = "query-msg-trace-by-id")]
    QueryMsgTraceById(QueryMsgTraceByIdArgs),
    /// Create a user (ACL 2.0) on a broker (-b) or every master of a cluster (-c).
    #[command(alias = "create-user")]
    CreateUser(crate::auth_cli::UserArgs),
    /// Change a user's password, type or status.
    #[command(alias = "update-user")]
    UpdateUser(crate::auth_cli::UserArgs),
    /// Delete a user and its ACL.
    #[command(alias = "delete-user")]
    DeleteUser(crate::auth_cli::UserNameArgs),
    /// Show a user.
    #[command(alias = "get-user")]
    GetUser(crate::auth_cli::UserNameArgs),
    /// List users whose name contains a filter.
    #[command(alias = "list-user")]
    ListUser(crate::auth_cli::ListUserArgs),
    /// Add policy entries to a user's ACL (one per resource).
    #[command(alias = "create-acl")]
    CreateAcl(crate::auth_cli::AclArgs),
    /// Replace or add policy entries of a user's ACL.
    #[command(alias = "update-acl")]
    UpdateAcl(crate::auth_cli::AclArgs),
    /// Delete a user's ACL, or only its entries for one resource (-r).
    #[command(alias = "delete-acl")]
    DeleteAcl(crate::auth_cli::DeleteAclArgs),
    /// Show a user's ACL.
    #[command(alias = "get-acl")]
    GetAcl(crate::auth_cli::SubjectArgs),
    /// List ACLs by subject and resource filters.
    #[command(alias = "list-acl")]
    ListAcl(crate::auth_cli::ListAclArgs),
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["broker_addr", "cluster_name"])))]
pub struct UpdateTopicArgs {
    /// Broker address (`ip:port`) to create the topic on.
    #[arg(short = 'b', long = "brokerAddr")]
    pub broker_addr: Option<String>,
    /// Cluster whose masters get the topic.
    #[arg(short = 'c', long = "clusterName")]
    pub cluster_name: Option<String>,
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    #[arg(short = 'r', long = "readQueueNums", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub read_queue_nums: u32,
    #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub write_queue_nums: u32,
    /// Permission bits: 2 write, 4 read, 6 read-write.
    #[arg(short = 'p', long = "perm", default_value_t = 6, value_parser = clap::value_parser!(i32).range(0..=7))]
    pub perm: i32,
    /// Ordered topic.
    #[arg(short = 'o', long = "order", default_value_t = false, action = clap::ArgAction::Set)]
    pub order: bool,
    /// Attributes, `+key=value,+key2=value2`.
    #[arg(short = 'a', long = "attributes", default_value = "")]
    pub attributes: String,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteTopicArgs {
    #[arg(short = 'c', long = "clusterName")]
    pub cluster_name: String,
    #[arg(short = 't', long = "topic")]
    pub topic: String,
}

#[derive(Debug, Clone, Args)]
pub struct TopicArg {
    #[arg(short = 't', long = "topic")]
    pub topic: String,
}

#[derive(Debug, Clone, Args)]
pub struct GroupArg {
    #[arg(short = 'g', long = "consumerGroup")]
    pub group: String,
}

/// One broker (-b) or every master of a cluster (-c).
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["broker_addr", "cluster_name"])))]
pub struct BrokerTarget {
    #[arg(short = 'b', long = "brokerAddr")]
    pub broker_addr: Option<String>,
    #[arg(short = 'c', long = "clusterName")]
    pub cluster_name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateBrokerConfigArgs {
    #[command(flatten)]
    pub target: BrokerTarget,
    /// Setting name as in broker.conf, e.g. maxMessageSize.
    #[arg(short = 'k', long = "key")]
    pub key: String,
    #[arg(short = 'v', long = "value")]
    pub value: String,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["broker_addr", "cluster_name"])))]
pub struct UpdateSubGroupArgs {
    #[arg(short = 'b', long = "brokerAddr")]
    pub broker_addr: Option<String>,
    #[arg(short = 'c', long = "clusterName")]
    pub cluster_name: Option<String>,
    #[arg(short = 'g', long = "groupName")]
    pub group: String,
    #[arg(short = 's', long = "consumeEnable", default_value_t = true, action = clap::ArgAction::Set)]
    pub consume_enable: bool,
    #[arg(short = 'd', long = "consumeBroadcastEnable", default_value_t = true, action = clap::ArgAction::Set)]
    pub consume_broadcast_enable: bool,
    #[arg(short = 'o', long = "consumeMessageOrderly", default_value_t = false, action = clap::ArgAction::Set)]
    pub consume_message_orderly: bool,
    #[arg(short = 'q', long = "retryQueueNums", default_value_t = 1)]
    pub retry_queue_nums: u32,
    /// Deliveries through the retry topic before a message goes to the dead-letter queue.
    #[arg(short = 'r', long = "retryMaxTimes", default_value_t = 16)]
    pub retry_max_times: u32,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteSubGroupArgs {
    #[arg(short = 'c', long = "clusterName")]
    pub cluster_name: String,
    #[arg(short = 'g', long = "groupName")]
    pub group: String,
    /// Also forget the group's committed offsets.
    #[arg(short = 'r', long = "removeOffset", default_value_t = false, action = clap::ArgAction::Set)]
    pub remove_offset: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ConsumerProgressArgs {
    /// The group; without it, every group of the cluster(s) with its total lag.
    #[arg(short = 'g', long = "groupName")]
    pub group: Option<String>,
    /// Only this topic of the group.
    #[arg(short = 't', long = "topicName")]
    pub topic: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct QueryMsgByIdArgs {
    /// Offset message id, or a unique key (`msgId` of a send) when -t is given.
    #[arg(short = 'i', long = "msgId")]
    pub msg_id: String,
    /// The topic, needed to look a unique key up.
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct QueryMsgByKeyArgs {
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    #[arg(short = 'k', long = "msgKey")]
    pub key: String,
    /// Most messages to return per broker.
    #[arg(short = 'c', long = "maxNum", default_value_t = 64)]
    pub max: u32,
}

#[derive(Debug, Clone, Args)]
pub struct QueryMsgByOffsetArgs {
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    #[arg(short = 'b', long = "brokerName")]
    pub broker_name: String,
    #[arg(short = 'i', long = "queueId")]
    pub queue_id: u32,
    #[arg(short = 'o', long = "offset")]
    pub offset: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ResetOffsetByTimeArgs {
    #[arg(short = 'g', long = "group")]
    pub group: String,
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// `now`, milliseconds since the epoch, `-1` (the end of each queue), or
    /// `yyyy-MM-dd#HH:mm:ss:SSS` (UTC).
    #[arg(short = 's', long = "timestamp", allow_hyphen_values = true)]
    pub timestamp: String,
    /// Also move offsets forwards (otherwise they only move back).
    #[arg(short = 'f', long = "force", default_value_t = true, action = clap::ArgAction::Set)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SendMessageArgs {
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Body, UTF-8.
    #[arg(short = 'p', long = "body")]
    pub body: String,
    #[arg(short = 'k', long = "key")]
    pub keys: Option<String>,
    #[arg(short = 'c', long = "tags")]
    pub tags: Option<String>,
    /// Send to this broker (with -i).
    #[arg(short = 'b', long = "broker", requires = "queue_id")]
    pub broker_name: Option<String>,
    /// Send to this queue (with -b).
    #[arg(short = 'i', long = "qid", requires = "broker_name")]
    pub queue_id: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct ConsumeMessageArgs {
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Only this broker's queues.
    #[arg(short = 'b', long = "brokerName")]
    pub broker_name: Option<String>,
    /// Only this queue.
    #[arg(short = 'i', long = "queueId")]
    pub queue_id: Option<u32>,
    /// Start offset in each queue [default: the queue's first message].
    #[arg(short = 'o', long = "offset")]
    pub offset: Option<u64>,
    /// Most messages to print.
    #[arg(short = 'c', long = "MessageNumber", default_value_t = 128)]
    pub count: usize,
}

#[derive(Debug, Clone, Args)]
pub struct QueryMsgTraceByIdArgs {
    /// The traced message's id (`msgId` of its send).
    #[arg(short = 'i', long = "msgId")]
    pub msg_id: String,
    /// Where the traces are.
    #[arg(
        short = 't',
        long = "traceTopic",
        default_value = "RMQ_SYS_TRACE_TOPIC"
    )]
    pub trace_topic: String,
}

#[derive(Debug, Clone, Args)]
pub struct ProducerConnectionArgs {
    #[arg(short = 'g', long = "producerGroup")]
    pub group: String,
    /// A topic the group sends to (its brokers are asked).
    #[arg(short = 't', long = "topic")]
    pub topic: String,
}
