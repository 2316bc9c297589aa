//! TLS on a remoting listener over real TCP on 127.0.0.1:0: permissive and enforcing modes,
//! broken handshakes, certificate reload and client certificates, with our client and raw sockets.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::CertificateDer;

use ferromq_net::codec::encode_command;
use ferromq_net::tls::{ClientAuth, ServerTrust};
use ferromq_net::{
    serve_tls, Client, ClientConfig, ClientTls, Handler, NetError, RequestContext, ServerHandle,
    ServerTls, TlsClientConfig, TlsMode, TlsServerConfig,
};
use ferromq_remoting::{RemotingCommand, ResponseCode, SerializeType};

const ECHO: i32 = 1;
const T: Duration = Duration::from_secs(5);

/// Answers every request with its own remark and body.
struct Echo;

#[async_trait]
impl Handler for Echo {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        let mut resp =
            RemotingCommand::response_to(&req, ResponseCode::SUCCESS, req.remark.clone());
        resp.body = req.body.clone();
        Some(resp)
    }
}

/// A CA, and certificates it signs, written as PEM files in a temporary folder.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        let pki = Self {
            dir: tempfile::tempdir().expect("tempdir"),
            ca,
        };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).expect("write ca");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A certificate for 127.0.0.1 signed by the CA, written (atomically, as renewal tools do) to
    /// `<name>.pem` and `<name>.key`; returns its DER.
    fn issue(&self, name: &str) -> CertificateDer<'static> {
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("params");
        let cert = params.signed_by(&key, &self.ca).expect("sign");
        replace(&self.path(&format!("{name}.pem")), &cert.pem());
        replace(&self.path(&format!("{name}.key")), &key.serialize_pem());
        cert.der().clone()
    }

    fn server(&self, mode: TlsMode, name: &str) -> TlsServerConfig {
        TlsServerConfig {
            mode,
            cert_path: Some(self.path(&format!("{name}.pem"))),
            key_path: Some(self.path(&format!("{name}.key"))),
            ..TlsServerConfig::default()
        }
    }

    fn client(&self) -> ClientConfig {
        client_with(&TlsClientConfig::trusting(self.path("ca.pem")))
    }
}

/// Writes `text` next to `path` and renames it over `path`.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn client_with(tls: &TlsClientConfig) -> ClientConfig {
    ClientConfig {
        tls: Some(ClientTls::from_config(tls).expect("client tls")),
        ..ClientConfig::default()
    }
}

async fn start(tls: &TlsServerConfig) -> ServerHandle {
    let listener = ferromq_net::listen::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let tls = ServerTls::from_config(tls)
        .expect("server tls")
        .map(Arc::new);
    serve_tls(listener, Arc::new(Echo), Default::default(), tls).expect("serve")
}

fn echo(text: &str) -> RemotingCommand {
    RemotingCommand {
        code: ECHO,
        remark: Some(text.to_owned()),
        body: Some(Bytes::from(format!("body of {text}"))),
        ..RemotingCommand::default()
    }
}

/// Sends `text` through `client` and checks the echo: remark and body.
async fn round_trip(client: &Client, text: &str) -> Result<(), NetError> {
    let resp = client.request(echo(text), T).await?;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    assert_eq!(resp.remark.as_deref(), Some(text));
    assert_eq!(resp.body, Some(Bytes::from(format!("body of {text}"))));
    Ok(())
}

/// The certificate a TLS handshake with `addr` presents, trusting nothing but looking.
async fn presented_certificate(addr: &str) -> CertificateDer<'static> {
    use tokio_rustls::rustls;
    // Our client does not expose its stream: a handshake with rustls directly shows the certificate.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Look))
        .with_no_client_auth();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("127.0.0.1".try_into().expect("name"), stream)
        .await
        .expect("handshake");
    tls.get_ref().1.peer_certificates().expect("a certificate")[0].clone()
}

/// Accepts any certificate without checking anything: only for looking at what a server sends.
#[derive(Debug)]
struct Look;

impl tokio_rustls::rustls::client::danger::ServerCertVerifier for Look {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &tokio_rustls::rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: tokio_rustls::rustls::pki_types::UnixTime,
    ) -> Result<tokio_rustls::rustls::client::danger::ServerCertVerified, tokio_rustls::rustls::Error>
    {
        Ok(tokio_rustls::rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        Ok(tokio_rustls::rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        Ok(tokio_rustls::rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<tokio_rustls::rustls::SignatureScheme> {
        tokio_rustls::rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Reads until the peer closes; `true` when it closed without sending a byte.
async fn closed_silently(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(T, stream.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test]
async fn permissive_serves_plaintext_and_tls_clients_at_once() {
    let pki = Pki::new();
    pki.issue("server");
    let server = start(&pki.server(TlsMode::Permissive, "server")).await;
    let addr = server.local_addr().to_string();
    let plain = Client::connect(addr.clone(), ClientConfig::default())
        .await
        .expect("plaintext connects");
    let tls = Client::connect(addr, pki.client())
        .await
        .expect("TLS connects");
    // Interleaved, both connections open at once.
    for i in 0..20 {
        round_trip(&plain, &format!("plain-{i}"))
            .await
            .expect("plaintext");
        round_trip(&tls, &format!("tls-{i}")).await.expect("tls");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn enforcing_closes_plaintext_and_keeps_serving_tls() {
    let pki = Pki::new();
    pki.issue("server");
    let server = start(&pki.server(TlsMode::Enforcing, "server")).await;
    let addr = server.local_addr().to_string();
    let tls = Client::connect(addr.clone(), pki.client())
        .await
        .expect("TLS connects");
    round_trip(&tls, "before").await.expect("tls before");

    // A well-formed plaintext request: no answer, the connection is closed.
    let mut raw = TcpStream::connect(&addr).await.expect("connect");
    let frame = encode_command(&echo("plain"), SerializeType::Json).expect("encode");
    raw.write_all(&frame).await.expect("write");
    assert!(
        closed_silently(&mut raw).await,
        "plaintext must be closed unanswered"
    );
    // Our plaintext client sees its request fail.
    let plain = Client::new(addr.clone(), ClientConfig::default());
    assert!(round_trip(&plain, "plain").await.is_err());

    round_trip(&tls, "after")
        .await
        .expect("the TLS connection is unaffected");
    let fresh = Client::connect(addr, pki.client())
        .await
        .expect("new TLS client");
    round_trip(&fresh, "fresh")
        .await
        .expect("a new TLS client works");
    server.shutdown().await;
}

#[tokio::test]
async fn broken_handshakes_hurt_no_other_client() {
    let pki = Pki::new();
    pki.issue("server");
    let server = start(&pki.server(TlsMode::Permissive, "server")).await;
    let addr = server.local_addr().to_string();
    let tls = Client::connect(addr.clone(), pki.client())
        .await
        .expect("TLS connects");
    let plain = Client::connect(addr.clone(), ClientConfig::default())
        .await
        .expect("plaintext connects");

    // A handshake record of garbage: the server closes that connection.
    let mut garbage = TcpStream::connect(&addr).await.expect("connect");
    let mut bytes = vec![0x16, 0x03, 0x01, 0x00, 0x40];
    bytes.extend(std::iter::repeat_n(0xAB, 64));
    garbage.write_all(&bytes).await.expect("write");
    let mut buf = [0u8; 256];
    let answer = tokio::time::timeout(T, async {
        // Possibly an alert first, then the close.
        loop {
            match garbage.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(answer.is_ok(), "a garbage handshake is closed");

    // A truncated handshake that then stalls: held open, nobody else waits for it.
    let mut stalled = TcpStream::connect(&addr).await.expect("connect");
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .expect("write");
    // Half a ClientHello from a real TLS client would look the same; many of them at once.
    let mut many = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        s.write_all(&[0x16]).await.expect("write");
        many.push(s);
    }

    for i in 0..5 {
        round_trip(&tls, &format!("tls-{i}"))
            .await
            .expect("TLS client unaffected");
        round_trip(&plain, &format!("plain-{i}"))
            .await
            .expect("plaintext client unaffected");
    }
    let fresh = Client::connect(addr, pki.client())
        .await
        .expect("new TLS client");
    round_trip(&fresh, "fresh")
        .await
        .expect("new connections are served");
    drop((stalled, many));
    server.shutdown().await;
}

#[tokio::test]
async fn a_replaced_certificate_serves_new_connections() {
    let pki = Pki::new();
    let first = pki.issue("server");
    let server = start(&pki.server(TlsMode::Enforcing, "server")).await;
    let addr = server.local_addr().to_string();
    assert_eq!(presented_certificate(&addr).await, first);
    let open = Client::connect(addr.clone(), pki.client())
        .await
        .expect("connects");
    round_trip(&open, "before").await.expect("before");

    let second = pki.issue("server");
    assert_ne!(first, second);
    assert_eq!(
        presented_certificate(&addr).await,
        second,
        "a new connection sees the new certificate"
    );
    round_trip(&open, "after")
        .await
        .expect("an open connection keeps working");
    let fresh = Client::connect(addr.clone(), pki.client())
        .await
        .expect("connects");
    round_trip(&fresh, "fresh")
        .await
        .expect("verified against the same CA");

    // A half-written renewal (no key in the file) keeps the certificate that works.
    replace(&pki.path("server.key"), "not a key");
    assert_eq!(presented_certificate(&addr).await, second);
    let third = pki.issue("server");
    assert_eq!(presented_certificate(&addr).await, third);
    server.shutdown().await;
}

#[tokio::test]
async fn required_client_certificates_refuse_clients_without_one() {
    let pki = Pki::new();
    pki.issue("server");
    pki.issue("good-client");
    let server = start(&TlsServerConfig {
        trust_cert_path: Some(pki.path("ca.pem")),
        need_client_auth: ClientAuth::Require,
        ..pki.server(TlsMode::Enforcing, "server")
    })
    .await;
    let addr = server.local_addr().to_string();

    let anonymous = Client::new(addr.clone(), pki.client());
    assert!(
        round_trip(&anonymous, "anonymous").await.is_err(),
        "no client certificate: refused"
    );
    // A certificate from another CA.
    let other = Pki::new();
    other.issue("stranger");
    let stranger = Client::new(
        addr.clone(),
        client_with(&TlsClientConfig {
            trust: ServerTrust::CaFile(pki.path("ca.pem")),
            cert_path: Some(other.path("stranger.pem")),
            key_path: Some(other.path("stranger.key")),
        }),
    );
    assert!(
        round_trip(&stranger, "stranger").await.is_err(),
        "unknown CA: refused"
    );

    let good = Client::new(
        addr,
        client_with(&TlsClientConfig {
            trust: ServerTrust::CaFile(pki.path("ca.pem")),
            cert_path: Some(pki.path("good-client.pem")),
            key_path: Some(pki.path("good-client.key")),
        }),
    );
    round_trip(&good, "good")
        .await
        .expect("a certificate from the CA is served");
    server.shutdown().await;
}

#[tokio::test]
async fn clients_refuse_servers_they_do_not_trust() {
    // A self-signed listener: trusted only with the explicit trust-all option.
    let server = start(&TlsServerConfig {
        mode: TlsMode::Enforcing,
        ..TlsServerConfig::default()
    })
    .await;
    let addr = server.local_addr().to_string();
    let pki = Pki::new();
    let err = Client::connect(addr.clone(), pki.client())
        .await
        .expect_err("not signed by the client's CA");
    assert!(matches!(err, NetError::Tls { .. }), "{err}");
    let insecure = Client::connect(addr, client_with(&TlsClientConfig::insecure_trust_all()))
        .await
        .expect("trust-all connects");
    round_trip(&insecure, "insecure").await.expect("served");
    server.shutdown().await;
}

#[tokio::test]
async fn a_disabled_listener_speaks_plaintext_only() {
    let server = start(&TlsServerConfig::default()).await;
    let addr = server.local_addr().to_string();
    let tls = Client::new(
        addr.clone(),
        client_with(&TlsClientConfig::insecure_trust_all()),
    );
    assert!(round_trip(&tls, "tls").await.is_err());
    let plain = Client::connect(addr, ClientConfig::default())
        .await
        .expect("connects");
    round_trip(&plain, "plain").await.expect("plaintext served");
    server.shutdown().await;
}
