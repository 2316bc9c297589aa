//! rocketmq-client-rust signing with ACL 2.0 credentials (`AclClientRPCHook`) against a ferromq
//! broker with authentication and authorization on: the allowed user sends and reads back every
//! message of its topic; a wrong secret and a topic outside the user's ACL are refused, and nothing
//! is stored for them. The client redacts the broker's code and remark from its errors, so a
//! refusal is checked as the failed call and what the broker holds afterwards.

use crate::common;

use std::sync::Arc;

use common::{scenario, within, ClientContext as _, Ctx, DEADLINE};
use ferromq_auth::wire::{AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use ferromq_auth::Credentials;
use ferromq_broker::config::auth::InitUser;
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_compat::cluster::ClusterOptions;
use rocketmq_client_rust::{
    AclClientRPCHook, DefaultLitePullConsumer, DefaultMQProducer, SendStatus, SessionCredentials,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_single::Message;

const ROOT: (&str, &str) = ("rust-root", "root-secret");
const ALICE: (&str, &str) = ("rust-alice", "alice-secret");
const OPEN: &str = "RustAclOpen";
const DENIED: &str = "RustAclDenied";

fn options() -> ClusterOptions {
    let mut o = ClusterOptions::default();
    o.broker.authentication_enabled = true;
    o.broker.authorization_enabled = true;
    o.broker.init_authentication_user = Some(InitUser {
        username: ROOT.0.into(),
        password: ROOT.1.into(),
    });
    o
}

fn hook((ak, sk): (&str, &str)) -> Arc<AclClientRPCHook> {
    Arc::new(AclClientRPCHook::new(SessionCredentials::with_keys(ak, sk)))
}

/// Topics OPEN and DENIED, user alice allowed to publish and subscribe OPEN with groups
/// `rust-acl-*`, set up by the super user with our admin client.
async fn set_up(ctx: &Ctx) -> anyhow::Result<()> {
    let root = Admin::start_signed(
        AdminConfig {
            namesrv_addrs: vec![ctx.namesrv()],
            ..AdminConfig::default()
        },
        Some(Credentials::new(ROOT.0, ROOT.1)),
    )
    .await?;
    let broker = ctx.cluster.broker_addr().to_string();
    for topic in [OPEN, DENIED] {
        let mut spec = TopicSpec::new(topic);
        spec.read_queue_nums = 2;
        spec.write_queue_nums = 2;
        root.create_topic_on_broker(&broker, &spec).await?;
    }
    root.create_user(
        &broker,
        &UserInfo {
            username: Some(ALICE.0.into()),
            password: Some(ALICE.1.into()),
            user_type: Some("Normal".into()),
            user_status: None,
        },
    )
    .await?;
    let entry = |resource: &str, actions: &[&str]| PolicyEntryInfo {
        resource: resource.into(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        source_ips: Vec::new(),
        decision: "Allow".into(),
    };
    root.put_acl(
        &broker,
        &AclInfo {
            subject: Some(format!("User:{}", ALICE.0)),
            policies: vec![PolicyInfo {
                policy_type: None,
                entries: vec![
                    entry(&format!("Topic:{OPEN}"), &["Pub", "Sub"]),
                    entry("Group:rust-acl-*", &["Sub"]),
                ],
            }],
        },
    )
    .await?;
    root.shutdown().await;
    Ok(())
}

async fn producer(ctx: &Ctx, who: (&str, &str)) -> anyhow::Result<DefaultMQProducer> {
    let mut producer = DefaultMQProducer::builder(ctx.runtime.clone())
        .producer_group("rust-acl-producer".to_owned())
        .name_server_addr(ctx.namesrv())
        .send_msg_timeout(5_000)
        .rpc_hook(hook(who))
        .build();
    producer.start().await.ctx("producer.start")?;
    Ok(producer)
}

fn message(topic: &str, body: &str) -> Message {
    Message::builder()
        .topic(topic)
        .body(body.as_bytes().to_vec())
        .build_unchecked()
}

/// How many messages the broker holds in `topic` (every queue's max offset, asked as the super
/// user).
async fn stored(ctx: &Ctx, topic: &str) -> anyhow::Result<u64> {
    let root = Admin::start_signed(
        AdminConfig {
            namesrv_addrs: vec![ctx.namesrv()],
            ..AdminConfig::default()
        },
        Some(Credentials::new(ROOT.0, ROOT.1)),
    )
    .await?;
    let status = root.topic_status(topic).await?;
    root.shutdown().await;
    Ok(status
        .values()
        .map(|o| o.max_offset.max(0).unsigned_abs())
        .sum())
}

#[test]
fn the_allowed_user_sends_and_reads_back_and_the_others_are_refused() -> anyhow::Result<()> {
    scenario("acl", options(), async |ctx: &mut Ctx| {
        set_up(ctx).await?;
        let alice = producer(ctx, ALICE).await?;
        let sent: Vec<String> = (0..6).map(|i| format!("acl-{i}")).collect();
        for b in &sent {
            let r = within("send", DEADLINE, alice.send(message(OPEN, b)))
                .await?
                .ctx("send as alice")?;
            anyhow::ensure!(
                r.as_ref()
                    .is_some_and(|r| r.send_status == SendStatus::SendOk),
                "{r:?}"
            );
        }

        // Outside the ACL: refused, nothing stored. (The client keeps the broker's code and
        // remark to itself: its error says only that the broker refused the operation.)
        let denied = within(
            "send denied",
            DEADLINE,
            alice.send(message(DENIED, "never")),
        )
        .await?;
        anyhow::ensure!(
            denied.is_err(),
            "a send to {DENIED} went through: {denied:?}"
        );
        let mut alice = alice;
        alice.shutdown().await;

        // A wrong secret: refused, nothing stored.
        let wrong = producer(ctx, (ALICE.0, "not-the-secret")).await;
        if let Ok(mut p) = wrong {
            let r = within(
                "send wrong secret",
                DEADLINE,
                p.send(message(OPEN, "never")),
            )
            .await?;
            anyhow::ensure!(r.is_err(), "a send with a wrong secret went through: {r:?}");
            p.shutdown().await;
        }
        // Queues show a message once the broker dispatched it, a moment after the send: wait for
        // the six allowed ones (dispatch follows the log, where the refused ones would be later).
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut open = stored(ctx, OPEN).await?;
        while open < 6 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            open = stored(ctx, OPEN).await?;
        }
        anyhow::ensure!(
            open == 6,
            "{OPEN} holds {open} messages, not the 6 allowed sends"
        );
        anyhow::ensure!(
            stored(ctx, DENIED).await? == 0,
            "something stored in {DENIED}"
        );

        // Read back as alice, in a group her ACL allows.
        let consumer = DefaultLitePullConsumer::builder(ctx.runtime.clone())
            .consumer_group("rust-acl-reader".to_owned())
            .name_server_addr(ctx.namesrv())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .poll_timeout_millis(500)
            .rpc_hook(hook(ALICE))
            .build()
            .ctx("lite pull build")?;
        consumer.subscribe(OPEN).await.ctx("subscribe")?;
        within("lite start", DEADLINE, consumer.start())
            .await?
            .ctx("lite start")?;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut got = Vec::new();
        while got.len() < sent.len() && tokio::time::Instant::now() < deadline {
            got.extend(consumer.poll_with_timeout(500).await.iter().map(|m| {
                String::from_utf8_lossy(m.body().as_deref().unwrap_or_default()).into_owned()
            }));
        }
        consumer.shutdown().await;
        got.sort();
        anyhow::ensure!(got == sent, "read back {got:?}, sent {sent:?}");
        Ok(())
    })
}
