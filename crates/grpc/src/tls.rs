//! The TLS side of the port: the configured certificate, or a self-signed one generated at start.
//! HTTP/2 is the only protocol offered through ALPN (gRPC clients require it).

use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::error::GrpcError;

/// What TLS connections are accepted with.
pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    /// The served certificate chain as PEM, so tests and operators can trust it.
    pub cert_pem: String,
}

/// Loads `files`, or generates a self-signed certificate for `localhost` and the loopback
/// addresses when there are none.
pub(crate) fn load(files: Option<&TlsFiles>) -> Result<Tls, GrpcError> {
    let (chain, key, cert_pem) = match files {
        Some(f) => read_files(f)?,
        None => self_signed()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GrpcError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| GrpcError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem,
    })
}

type Loaded = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

fn read_files(f: &TlsFiles) -> Result<Loaded, GrpcError> {
    let bad = |path: &std::path::Path, detail: String| GrpcError::TlsFile {
        path: path.to_owned(),
        detail,
    };
    let chain = CertificateDer::pem_file_iter(&f.cert)
        .map_err(|e| bad(&f.cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&f.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(&f.cert, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&f.key).map_err(|e| bad(&f.key, e.to_string()))?;
    let pem = std::fs::read_to_string(&f.cert).map_err(|e| bad(&f.cert, e.to_string()))?;
    Ok((chain, key, pem))
}

fn self_signed() -> Result<Loaded, GrpcError> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated =
        rcgen::generate_simple_self_signed(names).map_err(|e| GrpcError::Tls(e.to_string()))?;
    let cert = generated.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
    Ok((vec![cert], PrivateKeyDer::Pkcs8(key), generated.cert.pem()))
}
