//! [`ClientTls`]: what a client opens TLS connections with, built once from a [`TlsClientConfig`].

use std::fmt;
use std::io;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

use super::config::{ServerTrust, TlsClientConfig};
use super::{pem, provider, TlsError};

/// A client's TLS settings with their files read. Cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    trust_all: bool,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("insecure_trust_all", &self.trust_all)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Reads the CA and client certificate files of `config`.
    ///
    /// # Errors
    /// Unreadable or unusable files, a certificate without its key.
    pub fn from_config(config: &TlsClientConfig) -> Result<Self, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::rustls)?;
        let builder =
            match &config.trust {
                ServerTrust::CaFile(ca) => builder.with_root_certificates(pem::roots(ca)?),
                ServerTrust::InsecureTrustAll => builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(TrustAll(
                        provider().signature_verification_algorithms,
                    ))),
            };
        let client =
            match (&config.cert_path, &config.key_path) {
                (Some(cert), Some(key)) => builder
                    .with_client_auth_cert(pem::certificates(cert)?, pem::private_key(key)?)
                    .map_err(TlsError::rustls)?,
                (None, None) => builder.with_no_client_auth(),
                _ => return Err(TlsError::Config(
                    "tls.client.certPath and tls.client.keyPath are given together or not at all"
                        .into(),
                )),
            };
        Ok(Self {
            connector: TlsConnector::from(Arc::new(client)),
            trust_all: config.trust == ServerTrust::InsecureTrustAll,
        })
    }

    /// Runs the handshake over `stream`, to the host of `addr` (`host:port`).
    pub(crate) async fn connect(
        &self,
        addr: &str,
        stream: TcpStream,
    ) -> io::Result<TlsStream<TcpStream>> {
        self.connector.connect(server_name(addr)?, stream).await
    }
}

/// The name a certificate must carry for `addr`: its IP address or DNS name, without the port.
fn server_name(addr: &str) -> io::Result<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr:?} has no host usable as a TLS server name: {e}"),
        )
    })
}

/// Accepts any certificate, but still checks that the server holds its key (the handshake
/// signature), so the session keys are the server's and not a replayed certificate's.
#[derive(Debug)]
struct TrustAll(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for TrustAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_drop_the_port() {
        assert_eq!(
            server_name("127.0.0.1:9876").expect("ip"),
            ServerName::try_from("127.0.0.1").expect("name")
        );
        assert_eq!(
            server_name("[::1]:9876").expect("ipv6"),
            ServerName::try_from("::1").expect("name")
        );
        assert_eq!(
            server_name("broker.example:10911").expect("dns"),
            ServerName::try_from("broker.example").expect("name")
        );
        assert!(server_name("bad host:1").is_err());
    }
}
