//! Reading PEM files: certificate chains, private keys, CA bundles.

use std::path::Path;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::RootCertStore;

use super::TlsError;

/// Every certificate of the PEM file at `path`; at least one.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::file(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(path, e))?;
    if chain.is_empty() {
        return Err(TlsError::file(path, "no certificate in the file"));
    }
    Ok(chain)
}

/// The first private key of the PEM file at `path`.
pub(crate) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::file(path, e))
}

/// The CA certificates of the PEM file at `path` as trust anchors.
pub(crate) fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::file(path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}
