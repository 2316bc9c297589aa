//! Managing topics and consumer groups: create or update, delete, read.

use ferromq_remoting::body::register::TopicConfig;
use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use tracing::info;

use super::BrokerService;
use crate::error::BrokerError;
use crate::names;

impl BrokerService {
    /// Creates `config.topic_name`, or replaces its settings. `default_topic` is the template the
    /// request names: a topic may not take the name of its own template (but `TBW102` may be
    /// created).
    ///
    /// # Errors
    /// A bad name, queue counts below 1, failing to persist the topic table.
    pub fn create_topic(
        &self,
        config: TopicConfig,
        default_topic: &str,
    ) -> Result<(), BrokerError> {
        names::validate_topic(&config.topic_name)?;
        if config.topic_name == default_topic && config.topic_name != names::AUTO_CREATE_TOPIC {
            return Err(BrokerError::InvalidName {
                name: config.topic_name,
                reason: "The topic is conflict with the default topic.",
            });
        }
        if config.read_queue_nums <= 0 || config.write_queue_nums <= 0 {
            return Err(BrokerError::BadBody(format!(
                "queue numbers must be positive (read {}, write {})",
                config.read_queue_nums, config.write_queue_nums
            )));
        }
        self.state.topics.upsert(config)?;
        Ok(())
    }

    /// Deletes a topic with its stored queues and every group's offsets in it.
    ///
    /// # Errors
    /// Failing to persist the topic table or to remove the queues' files.
    pub fn delete_topic(&self, topic: &str) -> Result<(), BrokerError> {
        let s = &*self.state;
        s.topics.delete(topic)?;
        s.store.delete_topic(topic)?;
        s.offsets.remove_topic(topic);
        Ok(())
    }

    /// A topic's settings.
    ///
    /// # Errors
    /// `TopicNotExist`.
    pub fn topic(&self, topic: &str) -> Result<TopicConfig, BrokerError> {
        self.state
            .topics
            .get(topic)
            .ok_or_else(|| BrokerError::TopicNotExist(topic.to_owned()))
    }

    /// Creates a consumer group's settings, or replaces them.
    ///
    /// # Errors
    /// A bad name, negative retry settings, failing to persist the group table.
    pub fn create_group(&self, config: SubscriptionGroupConfig) -> Result<(), BrokerError> {
        names::validate_group(&config.group_name)?;
        if config.retry_max_times < -1 || config.retry_queue_nums < 0 {
            return Err(BrokerError::BadBody(format!(
                "retryMaxTimes ({}) must be -1 or more and retryQueueNums ({}) 0 or more",
                config.retry_max_times, config.retry_queue_nums
            )));
        }
        info!(group = %config.group_name, "subscription group created or updated");
        self.state.subscriptions.upsert(config)?;
        Ok(())
    }

    /// Deletes a group's settings (and, with `clean_offsets`, its committed offsets); whether it
    /// existed.
    ///
    /// # Errors
    /// Failing to persist the group table.
    pub fn delete_group(&self, group: &str, clean_offsets: bool) -> Result<bool, BrokerError> {
        let s = &*self.state;
        let existed = s.subscriptions.delete(group)?;
        if clean_offsets {
            s.offsets.remove_group(group);
        }
        info!(%group, existed, clean_offset = clean_offsets, "subscription group deleted");
        Ok(existed)
    }

    /// A group's settings.
    ///
    /// # Errors
    /// `SubscriptionGroupNotExist`.
    pub fn group(&self, group: &str) -> Result<SubscriptionGroupConfig, BrokerError> {
        self.state
            .subscriptions
            .get(group)
            .ok_or_else(|| BrokerError::SubscriptionGroupNotExist(group.to_owned()))
    }
}
