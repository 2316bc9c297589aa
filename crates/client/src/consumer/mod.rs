//! Consumers: [`pull::PullConsumer`] (explicit queues and offsets) and [`push::PushConsumer`]
//! (queues rebalanced across a group, long polling, a callback per batch).
//!
//! - [`pull`]: the pull consumer and the pull/offset requests both consumers use.
//! - [`push`]: the push consumer (`Core` holds what its tasks share).
//! - `queue_loop`: one assigned queue's pull-and-consume loop.
//! - [`rebalance`] / [`allocate`]: queue allocation strategies.
//! - `orderly` / `locks`: orderly consumption under broker queue locks.
//! - `offset_store`: broker or local-file offsets.
//! - `notify`: requests brokers send to consumers.
//! - `send_back`: failed messages handed back for retry.
//! - [`subscription`]: tag expressions and SQL92 selectors.

pub mod allocate;
mod locks;
mod notify;
mod offset_store;
mod orderly;
pub mod pull;
pub mod push;
mod push_config;
mod queue_loop;
pub mod rebalance;
mod send_back;
pub mod subscription;

pub use allocate::Allocation;
pub use pull::{PullConsumer, PullConsumerConfig, PullResult, PullStatus};
pub use push::{
    ConsumeFrom, ConsumeMode, ConsumeStatus, MessageModel, PushConsumer, PushConsumerConfig,
};
pub use subscription::MessageSelector;

/// `%RETRY%<group>`.
#[must_use]
pub fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}
