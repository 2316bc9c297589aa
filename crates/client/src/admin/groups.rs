//! Consumer group settings and broker settings of [`Admin`]: `updateSubGroup -b`,
//! `deleteSubGroup`, the group list (GET_ALL_SUBSCRIPTIONGROUP_CONFIG), `getBrokerConfig` and
//! `updateBrokerConfig`.

use std::collections::BTreeMap;

use ferromq_remoting::body::subscription_group::{
    SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use ferromq_remoting::headers::admin::{
    DeleteSubscriptionGroupRequestHeader, GetSubscriptionGroupConfigRequestHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode};

use super::{Admin, GroupSpec};
use crate::error::ClientError;
use crate::remote;

impl Admin {
    /// `updateSubGroup -b`: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) to one broker.
    ///
    /// # Errors
    /// Transport failures, refusal.
    pub async fn create_consumer_group_on_broker(
        &self,
        addr: &str,
        spec: &GroupSpec,
    ) -> Result<(), ClientError> {
        let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(spec.to_json());
        self.remote.call_ok(addr, cmd, self.timeout).await.map(drop)
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) of one broker: group name → settings.
    ///
    /// # Errors
    /// Transport failures, refusal, a malformed body.
    pub async fn consumer_groups_of_broker(
        &self,
        addr: &str,
    ) -> Result<BTreeMap<String, SubscriptionGroupConfig>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
        Ok(remote::json_body::<SubscriptionGroupWrapper>(addr, &resp)?.subscription_group_table)
    }

    /// Every consumer group of the masters of `cluster`, merged by name (the first broker's
    /// settings win).
    ///
    /// # Errors
    /// An unknown cluster; the first refusal.
    pub async fn consumer_groups(
        &self,
        cluster: &str,
    ) -> Result<BTreeMap<String, SubscriptionGroupConfig>, ClientError> {
        let mut out = BTreeMap::new();
        for addr in self.cluster_masters(cluster).await? {
            for (name, config) in self.consumer_groups_of_broker(&addr).await? {
                out.entry(name).or_insert(config);
            }
        }
        Ok(out)
    }

    /// GET_SUBSCRIPTIONGROUP_CONFIG (352) of one broker.
    ///
    /// # Errors
    /// SUBSCRIPTION_GROUP_NOT_EXIST; transport failures.
    pub async fn consumer_group_of_broker(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<SubscriptionGroupConfig, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG).with_header(
            &GetSubscriptionGroupConfigRequestHeader {
                group: group.to_owned(),
            },
        );
        let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
        remote::json_body(addr, &resp)
    }

    /// `deleteSubGroup -c`: DELETE_SUBSCRIPTIONGROUP (207) on every master of `cluster`; with
    /// `clean_offset` the brokers forget the group's committed offsets too. Returns the addresses.
    ///
    /// # Errors
    /// An unknown cluster; the first refusal.
    pub async fn delete_consumer_group(
        &self,
        cluster: &str,
        group: &str,
        clean_offset: bool,
    ) -> Result<Vec<String>, ClientError> {
        let masters = self.cluster_masters(cluster).await?;
        for addr in &masters {
            let cmd = RemotingCommand::request(RequestCode::DELETE_SUBSCRIPTIONGROUP).with_header(
                &DeleteSubscriptionGroupRequestHeader {
                    group_name: group.to_owned(),
                    clean_offset,
                },
            );
            self.remote.call_ok(addr, cmd, self.timeout).await?;
        }
        Ok(masters)
    }

    /// `getBrokerConfig -b`: GET_BROKER_CONFIG (26), the broker's settings by `broker.conf` name.
    ///
    /// # Errors
    /// Transport failures, refusal, a body that is not text.
    pub async fn broker_config(&self, addr: &str) -> Result<BTreeMap<String, String>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_BROKER_CONFIG);
        let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
        let body = resp.body.clone().unwrap_or_default();
        let text = std::str::from_utf8(&body).map_err(|e| {
            ClientError::decode(
                addr,
                ferromq_remoting::DecodeError::InvalidJson(format!(
                    "broker config is not UTF-8: {e}"
                )),
            )
        })?;
        Ok(parse_properties(text))
    }

    /// `updateBrokerConfig -b -k -v`: UPDATE_BROKER_CONFIG (25) with one `key=value`.
    ///
    /// # Errors
    /// The broker refuses keys it cannot change at run time (INVALID_PARAMETER with the list of
    /// those it can); transport failures.
    pub async fn update_broker_config(
        &self,
        addr: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        if key.is_empty() || key.contains(['=', ':', '\n']) || value.contains('\n') {
            return Err(ClientError::InvalidArgument(format!(
                "bad broker setting {key:?}={value:?}"
            )));
        }
        let cmd = RemotingCommand::request(RequestCode::UPDATE_BROKER_CONFIG)
            .with_body(format!("{key}={value}\n").into_bytes());
        self.remote.call_ok(addr, cmd, self.timeout).await.map(drop)
    }

    /// Master addresses of every broker of `cluster`.
    ///
    /// # Errors
    /// An unknown cluster; the cluster info's failure.
    pub async fn cluster_master_addrs(&self, cluster: &str) -> Result<Vec<String>, ClientError> {
        self.cluster_masters(cluster).await
    }
}

/// Java properties text: `key=value` lines, `#`/`!` comments; `\\` and `\n` escapes undone.
fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.trim().replace("\\n", "\n").replace("\\\\", "\\"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_properties_text() {
        let p =
            parse_properties("# generated\nbrokerName=broker-a\nnamesrvAddr=a:1;b:2\n\nx = y\n");
        assert_eq!(p["brokerName"], "broker-a");
        assert_eq!(p["namesrvAddr"], "a:1;b:2");
        assert_eq!(p["x"], "y");
        assert_eq!(p.len(), 3);
    }
}
