//! Small durable JSON files, replaced whole with [`ferromq_durable::write_atomic`], so a crash
//! leaves either the old or the new content, never a mix.

use std::io;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Writes `value` as JSON to `dir/name`, atomically and durably.
///
/// # Errors
/// I/O failures (the old file is then still intact); serialization of our own types does not fail.
pub fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    ferromq_durable::write_atomic(&dir.join(name), &bytes)
}

/// Reads a JSON file written by [`write_json`]; `None` if it does not exist.
///
/// # Errors
/// I/O failures other than absence, and content that does not parse (`InvalidData`).
pub fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    ferromq_durable::read_optional(path)?
        .map(|bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        })
        .transpose()
}
