//! Binding a server's listening socket.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel completes and queues before the server accepts them. 1,024 as Netty's
/// RocketMQ servers use: thousands of clients reconnecting at once after a restart, or a server
/// briefly out of descriptors, would overflow the usual 128 and see their handshakes dropped (and
/// retried seconds later).
pub const BACKLOG: u32 = 1_024;

/// Binds a listener on `addr` (port 0 picks a free one) with a backlog of [`BACKLOG`].
///
/// # Errors
/// As `bind(2)` and `listen(2)`: the address in use, no permission, ...
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind`: a restarted server can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_a_free_port_and_accepts() {
        let listener = bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        assert_ne!(addr.port(), 0);
        let (connected, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        connected.expect("connect");
        accepted.expect("accept");
    }
}
