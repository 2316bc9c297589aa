//! Message bodies that producers compressed (RocketMQ sys flag `0x1`), decompressed on receipt.
//!
//! The algorithm is in sys-flag bits 8-10: 1 LZ4 (frame format), 2 zstd, 3 or 0 zlib (0: producers
//! from before the bits existed). Java producers compress single messages above 4 KiB with zlib by
//! default, so a consumer that cannot read these sees garbage.

use std::io::Read;

use bytes::Bytes;

/// The body is compressed.
pub const COMPRESSED_FLAG: i32 = 0x1;
const TYPE_MASK: i32 = 0x7 << 8;

/// Decompression refuses output past this many bytes: a small hostile body must not expand into
/// gigabytes (RocketMQ's own limit on a message is far below).
pub const MAX_DECOMPRESSED: u64 = 64 << 20;

/// Why a compressed body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("unknown compression type {0} in sys flag")]
    UnknownType(i32),
    #[error("corrupt {algorithm} body: {source}")]
    Corrupt {
        algorithm: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{algorithm} body expands past {MAX_DECOMPRESSED} bytes")]
    TooLarge { algorithm: &'static str },
}

/// `body` as the producer sent it: decompressed when `sys_flag` says it is compressed, else as is.
///
/// # Errors
/// An unknown algorithm, corrupt data, or output past [`MAX_DECOMPRESSED`].
pub fn decompress(sys_flag: i32, body: &Bytes) -> Result<Bytes, DecompressError> {
    if sys_flag & COMPRESSED_FLAG == 0 {
        return Ok(body.clone());
    }
    match (sys_flag & TYPE_MASK) >> 8 {
        0 | 3 => read_all("zlib", flate2::read::ZlibDecoder::new(&body[..])),
        1 => read_all("lz4", lz4_flex::frame::FrameDecoder::new(&body[..])),
        2 => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(&body[..]).map_err(|e| {
                DecompressError::Corrupt {
                    algorithm: "zstd",
                    source: std::io::Error::other(e.to_string()),
                }
            })?;
            read_all("zstd", decoder)
        }
        other => Err(DecompressError::UnknownType(other)),
    }
}

fn read_all(algorithm: &'static str, reader: impl Read) -> Result<Bytes, DecompressError> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|source| DecompressError::Corrupt { algorithm, source })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(DecompressError::TooLarge { algorithm });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn sample() -> Vec<u8> {
        (0..20_000u32).map(|i| (i % 97) as u8).collect()
    }

    fn zlib(data: &[u8]) -> Bytes {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(5));
        e.write_all(data).expect("write");
        Bytes::from(e.finish().expect("finish"))
    }

    #[test]
    fn each_algorithm_decodes_to_the_original_body() {
        let data = sample();
        // zlib, both with the type bits (5.x producers) and without (older ones).
        for flag in [COMPRESSED_FLAG, COMPRESSED_FLAG | (3 << 8)] {
            assert_eq!(decompress(flag, &zlib(&data)).expect("zlib")[..], data[..]);
        }
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(&data).expect("write");
        let lz4 = Bytes::from(lz4.finish().expect("finish"));
        assert_eq!(
            decompress(COMPRESSED_FLAG | (1 << 8), &lz4).expect("lz4")[..],
            data[..]
        );
        let zstd = Bytes::from(ruzstd::encoding::compress_to_vec(
            &data[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        assert_eq!(
            decompress(COMPRESSED_FLAG | (2 << 8), &zstd).expect("zstd")[..],
            data[..]
        );
    }

    #[test]
    fn a_plain_body_is_untouched_and_bad_input_is_an_error() {
        let plain = Bytes::from_static(b"not compressed");
        assert_eq!(decompress(0, &plain).expect("plain"), plain);
        assert!(matches!(
            decompress(COMPRESSED_FLAG, &plain),
            Err(DecompressError::Corrupt {
                algorithm: "zlib",
                ..
            })
        ));
        assert!(matches!(
            decompress(COMPRESSED_FLAG | (5 << 8), &plain),
            Err(DecompressError::UnknownType(5))
        ));
        assert!(decompress(COMPRESSED_FLAG | (2 << 8), &plain).is_err());
    }

    #[test]
    fn a_body_that_expands_too_far_is_refused() {
        let bomb = zlib(&vec![0u8; (MAX_DECOMPRESSED + 10) as usize]);
        assert!(bomb.len() < 200_000);
        assert!(matches!(
            decompress(COMPRESSED_FLAG, &bomb),
            Err(DecompressError::TooLarge { .. })
        ));
    }
}
