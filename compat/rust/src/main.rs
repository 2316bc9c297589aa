//! The crates.io RocketMQ 5 Rust client (`rocketmq` 5.0.0, from apache/rocketmq-clients) against a
//! ferromq gRPC endpoint: what its Producer sends, its SimpleConsumer receives, checked message by
//! message. Run by `run.sh`, which starts `ferromq dev`, creates the topics and passes the endpoint
//! in FERROMQ_GRPC. Exits non-zero, saying why, at the first scenario that fails.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rocketmq::conf::{ClientOption, ProducerOption, SimpleConsumerOption};
use rocketmq::model::common::{FilterExpression, FilterType};
use rocketmq::model::message::{MessageBuilder, MessageView};
use rocketmq::{Producer, SimpleConsumer};

/// How long a scenario waits for what it sent; a healthy run needs a few seconds.
const DEADLINE: Duration = Duration::from_secs(60);

type Outcome = Result<(), String>;

fn client_option(endpoint: &str) -> ClientOption {
    let mut o = ClientOption::default();
    o.set_access_url(endpoint);
    o.set_enable_tls(false);
    o.set_long_polling_timeout(Duration::from_secs(3));
    o
}

async fn producer(endpoint: &str, topic: &str) -> Result<Producer, String> {
    let mut option = ProducerOption::default();
    option.set_topics(vec![topic]);
    let mut p = Producer::new(option, client_option(endpoint)).map_err(|e| e.to_string())?;
    p.start()
        .await
        .map_err(|e| format!("producer start: {e:?}"))?;
    Ok(p)
}

async fn consumer(endpoint: &str, topic: &str, group: &str) -> Result<SimpleConsumer, String> {
    let mut option = SimpleConsumerOption::default();
    option.set_topics(vec![topic]);
    option.set_consumer_group(group);
    let mut c = SimpleConsumer::new(option, client_option(endpoint)).map_err(|e| e.to_string())?;
    c.start()
        .await
        .map_err(|e| format!("consumer start: {e:?}"))?;
    Ok(c)
}

/// Receives and acks until `n` messages came (or the deadline), in arrival order.
async fn receive(
    c: &SimpleConsumer,
    topic: &str,
    tag: &str,
    n: usize,
) -> Result<Vec<MessageView>, String> {
    let filter = FilterExpression::new(FilterType::Tag, tag);
    let end = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < end {
        let batch = c
            .receive_with(topic, &filter, 16, Duration::from_secs(30))
            .await
            .or_else(|e| {
                if e.to_string().contains("MESSAGE_NOT_FOUND")
                    || format!("{e:?}").contains("MessageNotFound")
                {
                    Ok(Vec::new())
                } else {
                    Err(format!("receive: {e:?}"))
                }
            })?;
        for m in batch {
            c.ack(&m).await.map_err(|e| format!("ack: {e:?}"))?;
            got.push(m);
        }
    }
    Ok(got)
}

fn body(m: &MessageView) -> String {
    String::from_utf8_lossy(m.body()).into_owned()
}

fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("rust-{name}-{nanos}")
}

async fn normal(endpoint: &str) -> Outcome {
    let topic = "rust-normal";
    let p = producer(endpoint, topic).await?;
    let mut sent = BTreeSet::new();
    for i in 0..10 {
        let text = format!("normal-{i}");
        let m = MessageBuilder::builder()
            .set_topic(topic)
            .set_tag("rusttag")
            .set_keys(vec![format!("key-{i}")])
            .set_properties(std::collections::HashMap::from([("index", i.to_string())]))
            .set_body(text.clone().into_bytes())
            .build()
            .map_err(|e| e.to_string())?;
        let receipt = p.send(m).await.map_err(|e| format!("send: {e:?}"))?;
        if receipt.message_id().is_empty() {
            return Err("a send receipt without a message id".into());
        }
        sent.insert(text);
    }
    let other = MessageBuilder::builder()
        .set_topic(topic)
        .set_tag("othertag")
        .set_body(b"other".to_vec())
        .build()
        .map_err(|e| e.to_string())?;
    p.send(other).await.map_err(|e| format!("send: {e:?}"))?;
    let c = consumer(endpoint, topic, &unique("normal")).await?;
    let got = receive(&c, topic, "rusttag", sent.len()).await?;
    let bodies: BTreeSet<String> = got.iter().map(body).collect();
    if bodies != sent || got.len() != sent.len() {
        return Err(format!(
            "sent {sent:?}, received {:?}",
            got.iter().map(body).collect::<Vec<_>>()
        ));
    }
    for m in &got {
        let i = body(m).trim_start_matches("normal-").to_owned();
        if m.tag() != Some("rusttag")
            || m.keys() != [format!("key-{i}")]
            || m.properties().get("index") != Some(&i)
            || m.delivery_attempt() != 1
        {
            return Err(format!(
                "message {i}: tag {:?}, keys {:?}, properties {:?}, attempt {}",
                m.tag(),
                m.keys(),
                m.properties(),
                m.delivery_attempt()
            ));
        }
    }
    // every message was acked: one more receive brings nothing (nor the other tag)
    let extra = receive(&c, topic, "rusttag", 1).await?;
    if !extra.is_empty() {
        return Err(format!(
            "after the acks: {:?}",
            extra.iter().map(body).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

async fn fifo(endpoint: &str) -> Outcome {
    let topic = "rust-fifo";
    let p = producer(endpoint, topic).await?;
    let mut sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..8 {
        for g in ["group-a", "group-b"] {
            let text = format!("{g}-{i}");
            let m = MessageBuilder::fifo_message_builder(topic, text.clone().into_bytes(), g)
                .set_tag("fifo")
                .build()
                .map_err(|e| e.to_string())?;
            p.send(m).await.map_err(|e| format!("send: {e:?}"))?;
            sent.entry(g.to_owned()).or_default().push(text);
        }
    }
    let c = consumer(endpoint, topic, &unique("fifo")).await?;
    let got = receive(&c, topic, "fifo", 16).await?;
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &got {
        by_group
            .entry(m.message_group().unwrap_or("").to_owned())
            .or_default()
            .push(body(m));
    }
    if by_group != sent {
        return Err(format!("sent {sent:?}, received {by_group:?}"));
    }
    Ok(())
}

async fn delay(endpoint: &str) -> Outcome {
    let topic = "rust-delay";
    let p = producer(endpoint, topic).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    // whole seconds: the client sends a protobuf Timestamp of seconds
    let due = i64::try_from(now.as_secs()).map_err(|e| e.to_string())? + 3;
    let m = MessageBuilder::delay_message_builder(topic, b"delayed".to_vec(), due)
        .set_tag("later")
        .build()
        .map_err(|e| e.to_string())?;
    p.send(m).await.map_err(|e| format!("send: {e:?}"))?;
    let c = consumer(endpoint, topic, &unique("delay")).await?;
    let got = receive(&c, topic, "later", 1).await?;
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    if got.iter().map(body).collect::<Vec<_>>() != ["delayed"] {
        return Err(format!(
            "received {:?}",
            got.iter().map(body).collect::<Vec<_>>()
        ));
    }
    let due_ms = u128::try_from(due).map_err(|e| e.to_string())? * 1000;
    if at.as_millis() < due_ms {
        return Err(format!(
            "received at {} ms, due at {due_ms} ms",
            at.as_millis()
        ));
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let endpoint =
        std::env::var("FERROMQ_GRPC").expect("FERROMQ_GRPC is not set: run compat/rust/run.sh");
    let mut failed = 0;
    for (name, outcome) in [
        (
            "normal messages with tag, keys and properties, tag filter, nothing after the acks",
            normal(&endpoint).await,
        ),
        (
            "FIFO messages of two groups, each in send order",
            fifo(&endpoint).await,
        ),
        (
            "a delay message not received before its time",
            delay(&endpoint).await,
        ),
    ] {
        match outcome {
            Ok(()) => println!("pass  {name}"),
            Err(why) => {
                failed += 1;
                println!("FAIL  {name}: {why}");
            }
        }
    }
    std::process::exit(i32::from(failed > 0));
}
