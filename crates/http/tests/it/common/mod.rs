//! A plain HTTP/1.1 GET over TCP, and a checker of the Prometheus text format that also returns
//! every sample for lookups.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Status, headers (lowercase names) and body of `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// One series: metric name and its labels (sorted).
pub type Series = (String, BTreeMap<String, String>);

/// Checks `text` against the exposition format and returns every sample. Panics (with the line)
/// on a sample without HELP and TYPE before it, a family declared twice or split, a duplicate
/// series, a malformed line, or a histogram whose `+Inf` bucket is not its `_count`.
pub fn parse_exposition(text: &str) -> BTreeMap<Series, f64> {
    let mut helped = BTreeSet::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest
                .split_whitespace()
                .next()
                .expect("HELP name")
                .to_owned();
            assert!(helped.insert(name.clone()), "HELP twice: {line}");
            if let Some(prev) = current.replace(name) {
                finished.insert(prev);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().expect("TYPE name").to_owned();
            let kind = parts.next().expect("TYPE kind").to_owned();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind.as_str()),
                "{line}"
            );
            assert_eq!(
                current.as_deref(),
                Some(name.as_str()),
                "TYPE after its HELP: {line}"
            );
            assert!(types.insert(name, kind).is_none(), "TYPE twice: {line}");
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.trim().is_empty(),
            "stray line: {line:?}"
        );
        let (name, labels, value) = parse_sample(line);
        let family = family_of(&name, &types);
        assert!(!finished.contains(&family), "family {family} split: {line}");
        assert_eq!(
            current.as_deref(),
            Some(family.as_str()),
            "sample outside its family: {line}"
        );
        assert!(types.contains_key(&family), "no TYPE for {line}");
        assert!(
            samples.insert((name, labels), value).is_none(),
            "duplicate series: {line}"
        );
    }
    for (family, kind) in &types {
        if kind != "histogram" {
            continue;
        }
        for ((name, labels), count) in &samples {
            if name != &format!("{family}_count") {
                continue;
            }
            let mut inf = labels.clone();
            inf.insert("le".into(), "+Inf".into());
            assert_eq!(
                samples.get(&(format!("{family}_bucket"), inf)),
                Some(count),
                "{family} +Inf bucket vs count for {labels:?}"
            );
        }
    }
    samples
}

fn family_of(name: &str, types: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|k| k == "histogram") {
                return base.to_owned();
            }
        }
    }
    name.to_owned()
}

fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "bad name: {line}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let end;
        loop {
            let (start, c) = chars
                .next()
                .unwrap_or_else(|| panic!("open labels: {line}"));
            if c == '}' {
                end = start;
                break;
            }
            if c == ',' {
                continue;
            }
            let mut key = String::from(c);
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            assert_eq!(chars.next().map(|x| x.1), Some('"'), "label quote: {line}");
            let mut value = String::new();
            loop {
                match chars.next().map(|x| x.1) {
                    Some('"') => break,
                    Some('\\') => match chars.next().map(|x| x.1) {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        other => panic!("bad escape {other:?}: {line}"),
                    },
                    Some(c) => value.push(c),
                    None => panic!("open label value: {line}"),
                }
            }
            assert!(labels.insert(key, value).is_none(), "label twice: {line}");
        }
        rest = &inner[end + 1..];
    }
    let value = rest.trim();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
    };
    (name.to_owned(), labels, value)
}

/// The value of the series `name` whose labels include all of `want`; panics when none or more
/// than one match.
pub fn value(samples: &BTreeMap<Series, f64>, name: &str, want: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|((n, labels), _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(found.len(), 1, "{name} {want:?}: {found:?}");
    found[0]
}

/// Status and body of `method path` with an optional JSON body and `Authorization` value.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    authorization: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let body = body.unwrap_or("");
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    (status, body.to_owned())
}
