//! [`ByteStream`]: TLS by the same settings for a port that does not speak remoting (the broker's
//! HA replication port), whose bytes the caller reads and writes itself.
//!
//! The listener side sorts a connection by its first byte exactly as a remoting listener does, so
//! the protocol on it must never start with `0x16` in plaintext.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::server::Opened;
use super::{ClientTls, ServerTls};

/// A slow or silent peer gives up its connection after this long, before the protocol starts.
const OPENING_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection, plaintext or TLS from either end.
#[derive(Debug)]
pub enum ByteStream {
    Plain(TcpStream),
    Accepted(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Connected(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl ByteStream {
    /// Whether the bytes are encrypted.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }

    /// Opens an accepted connection by `tls`'s mode (plaintext as it is without `tls`). `None`:
    /// plaintext to an enforcing listener, or a peer that closed before its first byte.
    ///
    /// # Errors
    /// A failed or timed-out handshake, a socket error.
    pub async fn accept(tls: Option<&ServerTls>, stream: TcpStream) -> io::Result<Option<Self>> {
        let Some(tls) = tls else {
            return Ok(Some(Self::Plain(stream)));
        };
        let opened = tokio::time::timeout(OPENING_TIMEOUT, tls.open(stream))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no first byte or TLS handshake within 10 s",
                )
            })??;
        Ok(match opened {
            Opened::Plain(s) => Some(Self::Plain(s)),
            Opened::Tls(s) => Some(Self::Accepted(s)),
            Opened::Refused | Opened::Gone => None,
        })
    }

    /// Connects to `addr` (`host:port`), with a TLS handshake when `tls` is given.
    ///
    /// # Errors
    /// The connection or the handshake failed.
    pub async fn connect(tls: Option<&ClientTls>, addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        match tls {
            None => Ok(Self::Plain(stream)),
            Some(tls) => {
                let handshake = tls.connect(addr, stream);
                let s = tokio::time::timeout(OPENING_TIMEOUT, handshake)
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "TLS handshake took over 10 s")
                    })??;
                Ok(Self::Connected(Box::new(s)))
            }
        }
    }
}

impl AsyncRead for ByteStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Accepted(s) => Pin::new(s).poll_read(cx, buf),
            Self::Connected(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ByteStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Accepted(s) => Pin::new(s).poll_write(cx, buf),
            Self::Connected(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Accepted(s) => Pin::new(s).poll_flush(cx),
            Self::Connected(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Accepted(s) => Pin::new(s).poll_shutdown(cx),
            Self::Connected(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
