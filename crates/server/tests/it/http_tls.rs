//! `ferromq dev --http-tls`: the HTTP listener (metrics, health, console) over HTTPS with the
//! remoting listener's certificate. A client trusting the CA scrapes `/metrics` and `/healthz`;
//! plaintext HTTP to an enforcing port gets no answer, a silent or garbage client holds nothing
//! up, and the listener keeps serving the others. `ferromq bench --metrics https://...` scrapes it.
//! `ferromq namesrv`, `ferromq broker` and `ferromq controller` take the same `--http-tls`.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::cluster::Process;
use common::Dev;
use ferromq_net::tls::ByteStream;
use ferromq_net::{ClientTls, TlsClientConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

/// `ferromq dev` whose broker.conf names the certificate in `pki`, with `extra` arguments.
fn start_dev(data: &Path, pki: &Path, extra: &[&str]) -> Dev {
    let config = data.join("broker.conf");
    std::fs::write(
        &config,
        format!(
            "mapedFileSizeCommitLog=67108864\ntls.server.certPath={}\ntls.server.keyPath={}\n",
            pki.join("server.pem").display(),
            pki.join("server.key").display()
        ),
    )
    .expect("write broker.conf");
    let config = config.to_str().expect("utf-8 path").to_owned();
    Dev::start(data, &[&["--config", config.as_str()][..], extra].concat())
}

fn trusting(ca: &Path) -> ClientTls {
    ClientTls::from_config(&TlsClientConfig::trusting(ca.to_owned())).expect("client tls")
}

/// `GET path` over `tls` (or plaintext), the whole answer as text; `Err` when the connection or
/// handshake fails.
async fn get(addr: &str, tls: Option<&ClientTls>, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::time::timeout(T, ByteStream::connect(tls, addr))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))??;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(T, stream.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::other("read timed out"))??;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn enforcing_https_serves_metrics_and_health_to_a_trusting_client_only() {
    let pki = tempfile::tempdir().expect("tempdir");
    common::write_pki(pki.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path(), pki.path(), &["--http-tls", "enforcing"]);
    assert_eq!(dev.field("http_tls"), "enforcing", "{}", dev.ready);
    // The remoting ports stay as they were: plaintext.
    assert_eq!(dev.field("tls"), "disabled", "{}", dev.ready);
    let http = dev.field("http");
    let tls = trusting(&pki.path().join("ca.pem"));

    // A client that opened a connection and says nothing, and one that sends a garbage
    // handshake, are held while the others are served.
    let silent = TcpStream::connect(&http).await.expect("connect");
    let mut garbage = TcpStream::connect(&http).await.expect("connect");
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3])
        .await
        .expect("write");

    let metrics = get(&http, Some(&tls), "/metrics").await.expect("https");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("process_cpu_seconds_total"), "{metrics}");
    assert!(metrics.contains("rocketmq_messages_in_total"), "{metrics}");
    let health = get(&http, Some(&tls), "/healthz").await.expect("https");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok\n"), "{health}");

    // Plaintext HTTP to the enforcing port: closed without an answer.
    let plain = get(&http, None, "/metrics").await.unwrap_or_default();
    assert!(
        !plain.contains("HTTP/1.1"),
        "plaintext was answered: {plain}"
    );
    assert!(!plain.contains("process_cpu"), "{plain}");
    // A client that does not trust the CA: the handshake fails, nothing is read.
    let other = tempfile::tempdir().expect("tempdir");
    common::write_pki(other.path());
    let untrusted = get(
        &http,
        Some(&trusting(&other.path().join("ca.pem"))),
        "/healthz",
    )
    .await;
    assert!(
        !matches!(&untrusted, Ok(a) if a.contains("ok")),
        "{untrusted:?}"
    );

    // The listener still serves, with the others still connected.
    let again = get(&http, Some(&tls), "/readyz").await.expect("https");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    drop((silent, garbage));
    dev.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn permissive_serves_https_and_plaintext_on_one_port() {
    let pki = tempfile::tempdir().expect("tempdir");
    common::write_pki(pki.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(
        dir.path(),
        pki.path(),
        &["--http-tls", "permissive", "--tls", "enforcing"],
    );
    assert_eq!(dev.field("http_tls"), "permissive", "{}", dev.ready);
    let http = dev.field("http");
    let tls = trusting(&pki.path().join("ca.pem"));
    let secure = get(&http, Some(&tls), "/healthz").await.expect("https");
    assert!(secure.starts_with("HTTP/1.1 200"), "{secure}");
    assert!(secure.ends_with("ok\n"), "{secure}");
    let plain = get(&http, None, "/healthz").await.expect("plaintext");
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(plain.ends_with("ok\n"), "{plain}");
    dev.stop();
}

#[test]
fn without_http_tls_the_listener_stays_plaintext() {
    let pki = tempfile::tempdir().expect("tempdir");
    common::write_pki(pki.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path(), pki.path(), &["--tls", "enforcing"]);
    assert_eq!(dev.field("http_tls"), "disabled", "{}", dev.ready);
    let http = dev.field("http");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let plain = runtime
        .block_on(get(&http, None, "/healthz"))
        .expect("plaintext");
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    dev.stop();
}

#[test]
fn bench_scrapes_metrics_over_https() {
    let pki = tempfile::tempdir().expect("tempdir");
    common::write_pki(pki.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(
        dir.path(),
        pki.path(),
        &["--http-tls", "enforcing", "--tls", "enforcing"],
    );
    let namesrv = dev.field("namesrv");
    let metrics = format!("https://{}", dev.field("http"));
    let ca = pki.path().join("ca.pem");
    let bench = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferromq"))
            .args(["--log-level", "warn", "bench", "produce", "-n", &namesrv])
            .args([
                "-t",
                "HttpsMetrics",
                "--messages",
                "300",
                "-q",
                "--output",
                "json",
            ])
            .args(["--metrics", &metrics])
            .args(extra)
            .output()
            .expect("run ferromq bench")
    };
    let out = bench(&["--tls", "--tls-ca", ca.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["sent"], 300, "{summary}");
    // The broker's own counter of the topic, read over HTTPS before and after the run.
    assert_eq!(summary["broker"]["messages_in"], 300, "{summary}");
    assert!(summary["broker"]["cpu_s"].is_number(), "{summary}");

    // An https address without --tls: a clear error before anything is sent.
    let out = bench(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs --tls"), "{stderr}");
    dev.stop();
}

/// `--http-tls enforcing` on `ferromq namesrv`, `ferromq broker` and `ferromq controller`: their
/// HTTP listeners answer HTTPS with the certificate of their TLS settings and close plaintext.
#[tokio::test(flavor = "multi_thread")]
async fn namesrv_broker_and_controller_serve_https_when_asked() {
    let pki = tempfile::tempdir().expect("tempdir");
    common::write_pki(pki.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let tls_table = format!(
        "[tls]\ncert_path = \"{}\"\nkey_path = \"{}\"\n",
        pki.path().join("server.pem").display(),
        pki.path().join("server.key").display()
    );
    let ns_config = dir.path().join("namesrv.toml");
    std::fs::write(&ns_config, &tls_table).expect("write namesrv.toml");
    let mut ns = Command::new(env!("CARGO_BIN_EXE_ferromq"));
    ns.args(["namesrv", "--listen", "127.0.0.1:0", "--config"])
        .arg(&ns_config)
        .args(["--http-listen", "127.0.0.1:0", "--http-tls", "enforcing"]);
    let ns = Process::spawn(
        "namesrv",
        ns,
        "ferromq namesrv ready: ",
        &dir.path().join("namesrv.log"),
    );
    assert_eq!(ns.field("http_tls"), "enforcing", "{}", ns.ready);
    let namesrv = ns
        .ready
        .trim_start_matches("ferromq namesrv ready: ")
        .split_whitespace()
        .next()
        .expect("address")
        .to_owned();

    let broker_config = dir.path().join("broker.toml");
    std::fs::write(
        &broker_config,
        format!(
            "namesrv_addrs = [\"{namesrv}\"]\nlisten = \"127.0.0.1:0\"\nstore_root_dir = \"{}\"\n\
             commit_log_file_size = 67108864\nmetrics_listen_port = 0\n{tls_table}",
            dir.path().join("store").display()
        ),
    )
    .expect("write broker.toml");
    let mut broker = Command::new(env!("CARGO_BIN_EXE_ferromq"));
    broker
        .args(["broker", "--config"])
        .arg(&broker_config)
        .args(["--http-tls", "enforcing"]);
    let broker = Process::spawn(
        "broker",
        broker,
        "ferromq broker ready: ",
        &dir.path().join("broker.log"),
    );
    assert_eq!(broker.field("http_tls"), "enforcing", "{}", broker.ready);

    let controller_config = dir.path().join("controller.toml");
    std::fs::write(&controller_config, &tls_table).expect("write controller.toml");
    let mut controller = Command::new(env!("CARGO_BIN_EXE_ferromq"));
    controller
        .args(["controller", "--config"])
        .arg(&controller_config)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("controller"))
        .args(["--http-listen", "127.0.0.1:0", "--http-tls", "enforcing"]);
    let controller = Process::spawn(
        "controller",
        controller,
        "ferromq controller ready: ",
        &dir.path().join("controller.log"),
    );
    assert_eq!(
        controller.field("http_tls"),
        "enforcing",
        "{}",
        controller.ready
    );

    let tls = trusting(&pki.path().join("ca.pem"));
    for (what, http) in [
        ("namesrv", ns.field("http")),
        ("broker", broker.field("http")),
        ("controller", controller.field("http")),
    ] {
        let metrics = get(&http, Some(&tls), "/metrics").await.expect("https");
        assert!(metrics.starts_with("HTTP/1.1 200"), "{what}: {metrics}");
        assert!(
            metrics.contains("process_cpu_seconds_total"),
            "{what}: {metrics}"
        );
        let plain = get(&http, None, "/healthz").await.unwrap_or_default();
        assert!(
            !plain.contains("HTTP/1.1"),
            "{what}: plaintext answered: {plain}"
        );
    }
    // The broker's own figures are served, not only the process's.
    let metrics = get(&broker.field("http"), Some(&tls), "/metrics")
        .await
        .expect("https");
    assert!(metrics.contains("rocketmq_messages_in_total"), "{metrics}");
    controller.stop();
    broker.stop();
    ns.stop();
}
