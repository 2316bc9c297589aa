//! The certificate a TLS listener serves when none is configured: generated at start for
//! `localhost` and the loopback addresses, as RocketMQ's `tls.test.mode.enable` does. Clients that
//! verify certificates will not trust it; it is for development and trust-all clients.

use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::TlsError;

pub(crate) struct SelfSigned {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub pem: String,
}

pub(crate) fn generate() -> Result<SelfSigned, TlsError> {
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let generated = rcgen::generate_simple_self_signed(names).map_err(TlsError::rustls)?;
    let key = PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
    Ok(SelfSigned {
        chain: vec![generated.cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(key),
        pem: generated.cert.pem(),
    })
}
