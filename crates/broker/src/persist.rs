//! Writing metadata files so that a crash leaves either the old or the new content, never a mix.

use std::path::Path;

use crate::error::BrokerError;

/// Writes `bytes` to `path` with [`ferromq_durable::write_atomic`] (temporary sibling, fsync,
/// rename, fsync the folder), creating the folder if missing.
///
/// # Errors
/// `Io` naming the file that failed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BrokerError> {
    ferromq_durable::write_atomic(path, bytes).map_err(|e| BrokerError::io(path, e))
}

/// The file's bytes, or `None` when it does not exist.
///
/// # Errors
/// `Io` for any other read failure.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, BrokerError> {
    ferromq_durable::read_optional(path).map_err(|e| BrokerError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("config").join("x.json");
        assert_eq!(read_optional(&p).expect("reads"), None);
        write_atomic(&p, b"one").expect("writes");
        write_atomic(&p, b"two").expect("writes");
        assert_eq!(read_optional(&p).expect("reads"), Some(b"two".to_vec()));
        assert!(!p.with_extension("json.tmp").exists());
    }
}
