//! Small files replaced whole, so that a crash or a power cut leaves either the old content or the
//! new one, never a mix and never an empty file.
//!
//! - [`write_atomic`]: write a temporary sibling, sync it, rename it over the target, sync the folder.
//! - [`read_optional`]: the whole file, or `None` when it does not exist.
//!
//! Each caller maps the `io::Error` into its own layer's error type.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

/// Suffix of the temporary files; a crash between create and rename can leave one behind.
const TMP_SUFFIX: &str = "tmp";

/// Tells apart the temporary files of concurrent writers of the same target in this process.
static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// Replaces the whole content of `path` with `bytes`, atomically and durably.
///
/// The folder is created if missing, durably too. The bytes go to a uniquely named temporary file in the same
/// folder (a rename is atomic only within one file system), which is synced before it is renamed
/// over `path`; then the folder is synced so the rename itself survives a power cut.
///
/// # Errors
/// Any I/O failure. The old content of `path` is then intact and the temporary file removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = folder_of(path);
    create_dir_durably(dir)?;
    let (tmp, file) = create_temp_sibling(dir, path)?;
    if let Err(e) = fill_and_rename(file, bytes, &tmp, path) {
        // Best effort: the write already failed, and a stray temporary file is harmless.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Writes and syncs the temporary file, closes it, then renames it over `path`.
fn fill_and_rename(mut file: File, bytes: &[u8], tmp: &Path, path: &Path) -> io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)
}

/// The whole content of `path`, or `None` when it does not exist.
///
/// # Errors
/// Any read failure other than absence.
pub fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes the creation, rename or removal of entries in `dir` durable.
///
/// # Errors
/// When the folder cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and its missing parents, syncing the folder each is created in: a file renamed
/// into a folder whose own entry a power cut loses is lost with it.
fn create_dir_durably(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = folder_of(dir);
    create_dir_durably(parent)?;
    match fs::create_dir(dir) {
        Ok(()) => {}
        // Another writer created it first; syncing the parent again is harmless.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(e),
    }
    sync_dir(parent)
}

/// The folder holding `path`; a bare file name lives in the current folder.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Creates `<dir>/<name>.<pid>.<n>.tmp` exclusively. The process id keeps processes sharing a
/// folder apart, the counter keeps threads apart, and `create_new` skips a leftover of an earlier
/// process that had the same id.
fn create_temp_sibling(dir: &Path, path: &Path) -> io::Result<(PathBuf, File)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    loop {
        let mut tmp_name = OsString::from(name);
        tmp_name.push(format!(
            ".{}.{}.{TMP_SUFFIX}",
            process::id(),
            NEXT_TMP.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("lists")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_content_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("state.json");
        write_atomic(&p, b"a longer first content").expect("writes");
        write_atomic(&p, b"two").expect("writes");
        assert_eq!(read_optional(&p).expect("reads"), Some(b"two".to_vec()));
    }

    #[test]
    fn leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("state.json");
        for i in 0..3u8 {
            write_atomic(&p, &[i]).expect("writes");
        }
        assert_eq!(entries(dir.path()), vec!["state.json".to_owned()]);
    }

    #[test]
    fn creates_a_missing_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a").join("b").join("state.json");
        assert_eq!(read_optional(&p).expect("reads"), None);
        write_atomic(&p, b"x").expect("writes");
        assert_eq!(read_optional(&p).expect("reads"), Some(b"x".to_vec()));
    }

    #[test]
    fn a_failed_rename_removes_its_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A non-empty folder where the file should be: the rename fails after the write.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).expect("mkdir");
        fs::write(blocked.join("inside"), b"kept").expect("write");
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(entries(dir.path()), vec!["blocked".to_owned()]);
        assert_eq!(
            read_optional(&blocked.join("inside")).expect("reads"),
            Some(b"kept".to_vec())
        );
    }

    #[test]
    fn concurrent_writers_never_share_a_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("state.json");
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(p, &[t; 64]).expect("writes");
                    }
                });
            }
        });
        let bytes = read_optional(&p).expect("reads").expect("exists");
        assert_eq!(bytes.len(), 64);
        assert!(bytes.iter().all(|b| *b == bytes[0]));
        assert_eq!(entries(dir.path()), vec!["state.json".to_owned()]);
    }

    #[test]
    fn reading_a_folder_is_an_error_not_absence() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_optional(dir.path()).is_err());
    }
}
