//! Consumers: [`pull::PullConsumer`] (explicit queues and offsets) and [`push::PushConsumer`]
//! (queues rebalanced across a group, long polling, a callback per batch).
//!
//! - [`pull`]: the pull consumer and the pull/offset requests both consumers use.
//! - [`push`]: the push consumer (`Core` holds what its tasks share).
//! - `queue_loop`: one assigned queue's pull-and-consume loop.
//! - [`rebalance`]: queue allocation.
//! - `offset_store`: broker or local-file offsets.
//! - `notify`: requests brokers send to consumers.
//! - [`subscription`]: tag expressions.

mod notify;
mod offset_store;
pub mod pull;
pub mod push;
mod push_config;
mod queue_loop;
pub mod rebalance;
pub mod subscription;

pub use pull::{PullConsumer, PullConsumerConfig, PullResult, PullStatus};
pub use push::{ConsumeFrom, ConsumeStatus, MessageModel, PushConsumer, PushConsumerConfig};
