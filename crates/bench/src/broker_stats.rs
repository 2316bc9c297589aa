//! The broker's side of a run, from its Prometheus endpoint (`--metrics ADDR`, the `http=` of
//! `ferromq dev`'s ready line): its process CPU time and its per-topic message counters, scraped
//! before and after the run. The difference is what the run cost the broker, so a figure like
//! "broker CPU per message" comes from the same command that produced the load, with the
//! broker's own accounting rather than an outside `/proc` reading.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use ferromq_client::tls::ClientTls;
use ferromq_net::tls::ByteStream;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long one scrape may take; a broker too busy to answer within this is a failed run.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// One scrape of what concerns a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BrokerSample {
    /// `process_cpu_seconds_total` (user + system) of the broker process.
    pub cpu_seconds: f64,
    /// `rocketmq_messages_in_total` summed over the series of the run's topic.
    pub messages_in: u64,
    /// `rocketmq_messages_out_total` summed over the series of the run's topic (every group).
    pub messages_out: u64,
}

impl BrokerSample {
    /// Fetches `/metrics` from `addr` and picks the run's figures out of it.
    /// `addr` is `host:port` or `http://host:port` (plaintext) or `https://host:port` (over
    /// `tls`, the bench's `--tls` trust).
    pub async fn scrape(addr: &str, tls: Option<&ClientTls>, topic: &str) -> Result<BrokerSample> {
        let (scheme, host) = match addr.split_once("://") {
            Some((scheme, host)) => (scheme, host.trim_end_matches('/')),
            None => ("http", addr),
        };
        let tls = match (scheme, tls) {
            ("http", _) => None,
            ("https", Some(tls)) => Some(tls),
            ("https", None) => bail!(
                "--metrics {addr}: an https address needs --tls with --tls-ca or --tls-insecure \
                 (its certificate is trusted as the brokers' are)"
            ),
            (other, _) => bail!("--metrics {addr}: unknown scheme {other:?} (http or https)"),
        };
        let text = tokio::time::timeout(SCRAPE_TIMEOUT, http_get(host, tls, "/metrics"))
            .await
            .with_context(|| format!("GET {scheme}://{host}/metrics took longer than 10 s"))?
            .with_context(|| format!("GET {scheme}://{host}/metrics"))?;
        BrokerSample::parse(&text, topic)
    }

    /// Picks the figures out of a Prometheus text exposition.
    pub fn parse(text: &str, topic: &str) -> Result<BrokerSample> {
        let mut sample = BrokerSample::default();
        let mut saw_cpu = false;
        for line in text.lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if line.starts_with('#') {
                continue;
            }
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}').unwrap_or(rest)),
                None => (series, ""),
            };
            match name {
                "process_cpu_seconds_total" => {
                    sample.cpu_seconds = value.parse().context("process_cpu_seconds_total")?;
                    saw_cpu = true;
                }
                "rocketmq_messages_in_total" | "rocketmq_messages_out_total"
                    if label(labels, "topic").as_deref() == Some(topic) =>
                {
                    let count = parse_count(value).with_context(|| format!("{name} {value}"))?;
                    if name == "rocketmq_messages_in_total" {
                        sample.messages_in += count;
                    } else {
                        sample.messages_out += count;
                    }
                }
                _ => {}
            }
        }
        if !saw_cpu {
            bail!("the metrics have no process_cpu_seconds_total (not a ferromq broker?)");
        }
        Ok(sample)
    }
}

/// What a run cost the broker: the difference of two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BrokerDelta {
    pub cpu_seconds: f64,
    pub messages_in: u64,
    pub messages_out: u64,
}

impl BrokerDelta {
    pub fn between(before: BrokerSample, after: BrokerSample) -> BrokerDelta {
        BrokerDelta {
            cpu_seconds: (after.cpu_seconds - before.cpu_seconds).max(0.0),
            messages_in: after.messages_in.saturating_sub(before.messages_in),
            messages_out: after.messages_out.saturating_sub(before.messages_out),
        }
    }
}

/// Counters are exposed as floats (`12` or `1.2e+07`); they are whole numbers below 2^53.
fn parse_count(value: &str) -> Result<u64> {
    let v: f64 = value.parse()?;
    if !(v.is_finite() && v >= 0.0) {
        bail!("not a count");
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
    Ok(v as u64)
}

/// The value of label `key` in the inside of `{...}`: `a="x",topic="T"`. Values are quoted
/// with `\\`, `\"` and `\n` escapes.
fn label(labels: &str, key: &str) -> Option<String> {
    let mut rest = labels;
    loop {
        let (name, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        if name.trim_start_matches(',').trim() == key {
            return Some(value);
        }
        rest = &after[end + 1..];
    }
}

/// A plain HTTP/1.1 GET (the endpoint is loopback or a trusted network, plaintext); the body of a
/// 200 answer, which may come chunked or with a length.
async fn http_get(addr: &str, tls: Option<&ClientTls>, path: &str) -> Result<String> {
    let mut stream = ByteStream::connect(tls, addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8(raw).context("the answer is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("the answer has no header end")?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("answered {status:?}");
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        dechunk(body)
    } else {
        Ok(body.to_owned())
    }
}

/// The payload of a chunked body: `<hex size>\r\n<data>\r\n` ... `0\r\n\r\n`.
fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body.split_once("\r\n").context("truncated chunk")?;
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        let data = rest.get(..size).context("truncated chunk")?;
        out.push_str(data);
        body = rest[size..]
            .strip_prefix("\r\n")
            .context("chunk without its end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = "\
# HELP rocketmq_messages_in_total Messages stored, by topic.
# TYPE rocketmq_messages_in_total counter
rocketmq_messages_in_total{cluster=\"c\",node_type=\"broker\",node_id=\"b\",topic=\"Bench\",message_type=\"normal\",is_system=\"false\"} 1200
rocketmq_messages_in_total{cluster=\"c\",node_type=\"broker\",node_id=\"b\",topic=\"Bench2\",message_type=\"normal\",is_system=\"false\"} 7
rocketmq_messages_out_total{cluster=\"c\",node_type=\"broker\",node_id=\"b\",topic=\"Bench\",consumer_group=\"g1\",is_retry=\"false\",is_system=\"false\"} 1000
rocketmq_messages_out_total{cluster=\"c\",node_type=\"broker\",node_id=\"b\",topic=\"Bench\",consumer_group=\"g\\\"2\",is_retry=\"false\",is_system=\"false\"} 2.5e+03
process_cpu_seconds_total 12.34
";

    #[test]
    fn picks_the_topic_series_and_the_process_cpu() {
        let s = BrokerSample::parse(EXPOSITION, "Bench").expect("parses");
        assert_eq!(s.messages_in, 1200);
        assert_eq!(s.messages_out, 3500);
        assert!((s.cpu_seconds - 12.34).abs() < 1e-9);
        let other = BrokerSample::parse(EXPOSITION, "Bench2").expect("parses");
        assert_eq!((other.messages_in, other.messages_out), (7, 0));
        assert!(BrokerSample::parse("up 1\n", "Bench").is_err());
    }

    #[test]
    fn labels_with_escapes() {
        assert_eq!(
            label(r#"a="x\"y",topic="T""#, "topic").as_deref(),
            Some("T")
        );
        assert_eq!(label(r#"a="x\"y",topic="T""#, "a").as_deref(), Some("x\"y"));
        assert_eq!(label(r#"a="x""#, "topic"), None);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6; ext\r\n world\r\n0\r\n\r\n").expect("dechunks"),
            "hello world"
        );
        assert!(dechunk("5\r\nhel").is_err());
    }

    #[test]
    fn a_delta_never_goes_negative() {
        let before = BrokerSample {
            cpu_seconds: 2.0,
            messages_in: 10,
            messages_out: 5,
        };
        let after = BrokerSample {
            cpu_seconds: 2.5,
            messages_in: 30,
            messages_out: 5,
        };
        let d = BrokerDelta::between(before, after);
        assert_eq!((d.messages_in, d.messages_out), (20, 0));
        assert!((d.cpu_seconds - 0.5).abs() < 1e-9);
    }
}
