//! [`ServerTls`]: what a listener accepts TLS connections with, and the sorting of a new
//! connection into TLS or plaintext by its first byte.
//!
//! The certificate, key and client CA files are looked at (one `stat` each) when a TLS
//! connection arrives; when any changed since they were loaded, they are loaded again and the new
//! certificate serves that connection and the next ones. Connections already open keep theirs. No
//! thread watches the files, and a renewal (certbot, cert-manager) needs no restart.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use super::config::{ClientAuth, TlsMode, TlsServerConfig};
use super::{pem, provider, self_signed, TlsError};

/// The first byte of a TLS handshake record; a remoting frame starts with its length, whose first
/// byte is 0 for any frame under 16 MiB, so the two cannot be confused.
pub(crate) const TLS_HANDSHAKE: u8 = 0x16;

/// A listener's TLS: the mode, and the acceptor (reloaded when its files change).
pub struct ServerTls {
    mode: TlsMode,
    /// `None`: a self-signed certificate, generated once.
    files: Option<Files>,
    current: Mutex<Current>,
}

#[derive(Debug, Clone)]
struct Files {
    cert: PathBuf,
    key: PathBuf,
    trust: Option<PathBuf>,
    client_auth: ClientAuth,
}

struct Current {
    acceptor: TlsAcceptor,
    /// The files as they were when `acceptor` was built (or last failed to build).
    stamp: Vec<Option<FileStamp>>,
    cert_pem: String,
}

/// What tells a changed file from the one loaded: a replaced file (written next to it and renamed,
/// as renewal tools do) has a new inode; one rewritten in place a new mtime or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("mode", &self.mode)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// A new connection after its first byte was looked at.
#[derive(Debug)]
pub(crate) enum Opened {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Plaintext on an enforcing listener: closed without a word, as RocketMQ does.
    Refused,
    /// The peer closed before sending anything.
    Gone,
}

impl ServerTls {
    /// Reads the configured files (or generates a self-signed certificate). `None` when the mode
    /// is `disabled`: the listener then never looks at a connection's first byte.
    ///
    /// # Errors
    /// Settings that cannot work, unreadable or unusable files.
    pub fn from_config(config: &TlsServerConfig) -> Result<Option<Self>, TlsError> {
        config.validate()?;
        if config.mode == TlsMode::Disabled {
            return Ok(None);
        }
        let (files, current) = match (&config.cert_path, &config.key_path) {
            (Some(cert), Some(key)) => {
                let files = Files {
                    cert: cert.clone(),
                    key: key.clone(),
                    trust: config.trust_cert_path.clone(),
                    client_auth: config.need_client_auth,
                };
                let current = files.load()?;
                (Some(files), current)
            }
            _ => {
                let generated = self_signed::generate()?;
                let verifier =
                    client_verifier(config.need_client_auth, config.trust_cert_path.as_deref())?;
                let server = server_config(verifier, generated.chain, generated.key)?;
                let current = Current {
                    acceptor: TlsAcceptor::from(Arc::new(server)),
                    stamp: Vec::new(),
                    cert_pem: generated.pem,
                };
                (None, current)
            }
        };
        Ok(Some(Self {
            mode: config.mode,
            files,
            current: Mutex::new(current),
        }))
    }

    #[must_use]
    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// The certificate chain served now, as PEM: clients of a self-signed listener can trust it.
    #[must_use]
    pub fn cert_pem(&self) -> String {
        self.current.lock().cert_pem.clone()
    }

    /// The acceptor for a new TLS connection, reloading the files first if they changed. A reload
    /// that fails keeps the previous certificate (a renewal may be half written) and is retried
    /// when the files change again.
    fn acceptor(&self) -> TlsAcceptor {
        let Some(files) = &self.files else {
            return self.current.lock().acceptor.clone();
        };
        let now = files.stamp();
        let mut current = self.current.lock();
        if current.stamp != now {
            match files.load() {
                Ok(loaded) => {
                    info!(cert = %files.cert.display(), "TLS certificate reloaded");
                    *current = loaded;
                }
                Err(e) => {
                    warn!(error = %e, "TLS files changed but cannot be loaded; the previous certificate stays in use");
                    current.stamp = now;
                }
            }
        }
        current.acceptor.clone()
    }

    /// Waits for the first byte of `stream` and opens TLS when it starts a handshake (or refuses
    /// plaintext when enforcing). The caller bounds the time this may take.
    pub(crate) async fn open(&self, stream: TcpStream) -> io::Result<Opened> {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Ok(Opened::Gone);
        }
        if first[0] == TLS_HANDSHAKE {
            let tls = self.acceptor().accept(stream).await?;
            return Ok(Opened::Tls(Box::new(tls)));
        }
        Ok(match self.mode {
            TlsMode::Enforcing => Opened::Refused,
            TlsMode::Permissive | TlsMode::Disabled => Opened::Plain(stream),
        })
    }
}

impl Files {
    fn paths(&self) -> impl Iterator<Item = &Path> {
        [Some(&self.cert), Some(&self.key), self.trust.as_ref()]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
    }

    fn stamp(&self) -> Vec<Option<FileStamp>> {
        self.paths().map(file_stamp).collect()
    }

    fn load(&self) -> Result<Current, TlsError> {
        // Stamped before reading: a change during the read is seen by the next connection.
        let stamp = self.stamp();
        let chain = pem::certificates(&self.cert)?;
        let key = pem::private_key(&self.key)?;
        let cert_pem =
            std::fs::read_to_string(&self.cert).map_err(|e| TlsError::file(&self.cert, e))?;
        let verifier = client_verifier(self.client_auth, self.trust.as_deref())?;
        let server = server_config(verifier, chain, key)?;
        Ok(Current {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            stamp,
            cert_pem,
        })
    }
}

fn file_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

fn client_verifier(
    auth: ClientAuth,
    trust: Option<&Path>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, TlsError> {
    let (ClientAuth::Optional | ClientAuth::Require, Some(trust)) = (auth, trust) else {
        return Ok(None);
    };
    let builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(pem::roots(trust)?), provider());
    let builder = if auth == ClientAuth::Optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    Ok(Some(builder.build().map_err(TlsError::rustls)?))
}

fn server_config(
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    chain: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    key: tokio_rustls::rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::rustls)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, key)
        .map_err(TlsError::rustls)
}
