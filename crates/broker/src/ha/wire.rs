//! The replication stream's framing, RocketMQ's classic HA layout:
//!
//! - replica → master: an 8-byte big-endian offset, "I hold every byte below this". Sent when the
//!   connection opens (where to start), after each transfer is written, and while idle (liveness).
//! - master → replica: a 12-byte header, the 8-byte offset the bytes belong at and a 4-byte length,
//!   then that many bytes of whole commit-log entries. A length of 0 is a heartbeat.
//! - controller mode adds one thing: a replica opens with [`HELLO`] and its 8-byte `brokerId` before
//!   its first report, so the master can tell the controllers which replicas are in sync. `HELLO`
//!   is far above any offset, so a classic replica's first report can never be taken for it.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes of a master → replica header.
pub const HEADER_LEN: usize = 12;
/// Largest transfer a replica accepts; a master sends far less (see `master::CHUNK`).
pub const MAX_TRANSFER: u32 = 32 << 20;

/// First 8 bytes of a replica that says who it is ("\xfeMQHELLO" is above 2^63: never an offset).
pub const HELLO: u64 = 0xFE4D_5148_454C_4C4F;

/// A master → replica header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub offset: u64,
    pub len: u32,
}

impl Header {
    #[must_use]
    pub fn encode(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    #[must_use]
    pub fn decode(b: &[u8; HEADER_LEN]) -> Header {
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&b[..8]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&b[8..]);
        Header {
            offset: u64::from_be_bytes(offset),
            len: u32::from_be_bytes(len),
        }
    }
}

/// Reads one master → replica header.
pub async fn read_header<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Header> {
    let mut b = [0u8; HEADER_LEN];
    r.read_exact(&mut b).await?;
    Ok(Header::decode(&b))
}

/// Reads one replica → master offset report.
pub async fn read_report<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b).await?;
    Ok(u64::from_be_bytes(b))
}

/// Reads a replica's opening: its broker id when it says hello, and its first offset report.
pub async fn read_opening<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(Option<i64>, u64)> {
    let first = read_report(r).await?;
    if first != HELLO {
        return Ok((None, first));
    }
    let mut id = [0u8; 8];
    r.read_exact(&mut id).await?;
    Ok((Some(i64::from_be_bytes(id)), read_report(r).await?))
}

/// Writes a replica's hello (controller mode), before its first report.
pub async fn write_hello<W: AsyncWrite + Unpin>(w: &mut W, broker_id: i64) -> std::io::Result<()> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&HELLO.to_be_bytes());
    b[8..].copy_from_slice(&broker_id.to_be_bytes());
    w.write_all(&b).await
}

/// Writes one replica → master offset report.
pub async fn write_report<W: AsyncWrite + Unpin>(w: &mut W, offset: u64) -> std::io::Result<()> {
    w.write_all(&offset.to_be_bytes()).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_in_the_classic_layout() {
        let h = Header {
            offset: 0x0102_0304_0506_0708,
            len: 0x0A0B_0C0D,
        };
        let b = h.encode();
        assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8, 0x0A, 0x0B, 0x0C, 0x0D]);
        assert_eq!(Header::decode(&b), h);
    }

    #[tokio::test]
    async fn an_opening_with_or_without_hello_is_read() {
        let mut with = Vec::new();
        write_hello(&mut with, 7).await.expect("hello");
        write_report(&mut with, 1234).await.expect("report");
        assert_eq!(
            read_opening(&mut with.as_slice()).await.expect("read"),
            (Some(7), 1234)
        );
        let mut classic = Vec::new();
        write_report(&mut classic, 99).await.expect("report");
        assert_eq!(
            read_opening(&mut classic.as_slice()).await.expect("read"),
            (None, 99)
        );
    }
}
