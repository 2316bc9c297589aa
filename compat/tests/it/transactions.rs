//! rocketmq-client-rust's `TransactionMQProducer` against ferromq: local commit and rollback, and
//! unknown outcomes resolved by the broker's CHECK_TRANSACTION_STATE to the client's check
//! listener; a push consumer of the client then sees exactly the committed messages, once each.

use crate::common;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::{body_counts, message, scenario, within, ClientContext as _, Ctx, Recorder, DEADLINE};
use ferromq_broker::BrokerConfig;
use ferromq_compat::cluster::ClusterOptions;
use ferromq_compat::wait_until;
use parking_lot::Mutex;
use rocketmq_client_rust::{
    DefaultMQPushConsumer, LocalTransactionState, MQPushConsumer as _, TransactionListener,
    TransactionMQProducer,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::MessageTrait;

const TOPIC: &str = "CompatTx";

/// Decides by body prefix; counts the broker's checks per body.
#[derive(Clone, Default)]
struct Bank {
    checks: Arc<Mutex<BTreeMap<String, u32>>>,
}

fn body_of(msg: &dyn MessageTrait) -> String {
    msg.get_body()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

impl TransactionListener for Bank {
    fn execute_local_transaction(
        &self,
        msg: &dyn MessageTrait,
        _arg: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        let body = body_of(msg);
        if body.starts_with("commit") {
            LocalTransactionState::CommitMessage
        } else if body.starts_with("rollback") {
            LocalTransactionState::RollbackMessage
        } else {
            LocalTransactionState::Unknown
        }
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        let body = body_of(msg);
        *self.checks.lock().entry(body.clone()).or_default() += 1;
        if body.starts_with("checked-commit") {
            LocalTransactionState::CommitMessage
        } else {
            LocalTransactionState::RollbackMessage
        }
    }
}

fn options() -> ClusterOptions {
    let defaults = ClusterOptions::default();
    ClusterOptions {
        broker: BrokerConfig {
            transaction_check_interval_ms: 200,
            transaction_timeout_ms: 1_000,
            ..defaults.broker.clone()
        },
        ..defaults
    }
}

#[test]
fn transaction_producer_commit_rollback_and_check_back() -> anyhow::Result<()> {
    scenario("transactions", options(), async |ctx: &mut Ctx| {
        let bank = Bank::default();
        let mut producer = TransactionMQProducer::builder(ctx.runtime.clone())
            .producer_group("compat-tx".to_owned())
            .name_server_addr(ctx.namesrv())
            .send_msg_timeout(5_000)
            .transaction_listener(bank.clone())
            .build();
        within("producer.start", DEADLINE, producer.start())
            .await?
            .ctx("producer.start")?;
        let bodies = [
            "commit-0",
            "commit-1",
            "rollback-0",
            "checked-commit-0",
            "checked-rollback-0",
        ];
        for body in bodies {
            let r = within(
                "send_message_in_transaction",
                DEADLINE,
                producer.send_message_in_transaction::<(), _>(
                    message(TOPIC, "TagT", &format!("key-{body}"), body),
                    None,
                ),
            )
            .await?
            .ctx(&format!("send {body}"))?;
            anyhow::ensure!(r.send_result.is_some(), "{body}: {r:?}");
        }

        let recorder = Recorder::default();
        let mut consumer = DefaultMQPushConsumer::builder(ctx.runtime.clone())
            .consumer_group("compat-tx-reader".to_owned())
            .name_server_addr(ctx.namesrv())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build();
        consumer.subscribe(TOPIC, "*").await.ctx("subscribe")?;
        consumer.register_message_listener_concurrently(recorder.clone());
        within("consumer.start", DEADLINE, consumer.start())
            .await?
            .ctx("consumer.start")?;

        let want: BTreeSet<String> = ["commit-0", "commit-1", "checked-commit-0"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let resolved = wait_until(DEADLINE, || {
            let got: BTreeSet<String> = recorder.bodies().into_iter().collect();
            want.is_subset(&got) && bank.checks.lock().contains_key("checked-rollback-0")
        })
        .await;
        let counts = body_counts(recorder.bodies());
        anyhow::ensure!(resolved, "got {counts:?}, checks {:?}", bank.checks.lock());
        anyhow::ensure!(
            counts.keys().cloned().collect::<BTreeSet<_>>() == want
                && counts.values().all(|n| *n == 1),
            "exactly the committed messages once: {counts:?}"
        );
        for r in recorder.snapshot() {
            anyhow::ensure!(
                r.topic == TOPIC && r.tags.as_deref() == Some("TagT"),
                "{r:?}"
            );
            anyhow::ensure!(r.keys == Some(format!("key-{}", r.body)), "{r:?}");
        }
        let checks = bank.checks.lock().clone();
        for decided in ["commit-0", "commit-1", "rollback-0"] {
            anyhow::ensure!(
                !checks.contains_key(decided),
                "{decided} checked: {checks:?}"
            );
        }
        consumer.shutdown().await;
        producer.shutdown().await;
        Ok(())
    })
}
