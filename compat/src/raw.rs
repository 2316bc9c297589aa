//! Raw remoting requests sent with ferromq's own transport, for set-up steps that the client under
//! test cannot do and for pinning down findings frame by frame.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::headers::admin::CreateTopicRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

/// Sends one request to `addr` and returns the response.
///
/// # Errors
/// A transport error or a timeout.
pub async fn request(addr: SocketAddr, cmd: RemotingCommand) -> anyhow::Result<RemotingCommand> {
    let client = Client::connect(addr.to_string(), ClientConfig::default())
        .await
        .with_context(|| format!("connect {addr}"))?;
    let resp = client
        .request(cmd, Duration::from_secs(10))
        .await
        .with_context(|| format!("request to {addr}"));
    client.shutdown().await;
    resp
}

/// `UPDATE_AND_CREATE_TOPIC` (17) with `queues` read and write queues, permission 6 (read|write).
///
/// # Errors
/// A transport error, or a response other than SUCCESS.
pub async fn create_topic(broker: SocketAddr, topic: &str, queues: i32) -> anyhow::Result<()> {
    let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC).with_header(
        &CreateTopicRequestHeader {
            topic: topic.to_owned(),
            default_topic: "TBW102".to_owned(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".to_owned(),
            topic_sys_flag: Some(0),
            order: false,
            attributes: None,
            force: None,
        },
    );
    let resp = request(broker, cmd).await?;
    anyhow::ensure!(
        resp.response_code() == ResponseCode::SUCCESS,
        "UPDATE_AND_CREATE_TOPIC {topic}: code {} remark {:?}",
        resp.code,
        resp.remark
    );
    Ok(())
}
