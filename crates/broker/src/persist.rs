//! Writing metadata files so that a crash leaves either the old or the new content, never a mix.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use crate::error::BrokerError;

/// Writes `bytes` to `path` through a temporary sibling: write, fsync, rename, fsync the folder.
///
/// # Errors
/// `Io` naming the file that failed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BrokerError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(|e| BrokerError::io(dir, e))?;
    let tmp = path.with_extension("json.tmp");
    let mut f = File::create(&tmp).map_err(|e| BrokerError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| BrokerError::io(&tmp, e))?;
    f.sync_all().map_err(|e| BrokerError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| BrokerError::io(path, e))?;
    // The rename itself must survive a power cut.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BrokerError::io(dir, e))
}

/// The file's bytes, or `None` when it does not exist.
///
/// # Errors
/// `Io` for any other read failure.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, BrokerError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BrokerError::io(path, e)),
    }
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
