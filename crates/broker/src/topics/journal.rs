//! The topic table's change journal: one line per change, appended and synced, so that creating
//! or deleting a topic costs what one topic costs instead of rewriting the whole table.
//!
//! `topics.json` (the whole table in Java's shape) is the snapshot; `topics.json.journal` holds the
//! changes made since it, one JSON object per line: `{"v":<data version>,"ts":<ms>,"set":{topic
//! config}}` or `{"v":..,"ts":..,"del":"<topic>"}`. Opening replays the lines whose version is
//! above the snapshot's (a crash between writing a new snapshot and emptying the journal leaves
//! lines the snapshot already has). A torn last line (a crash mid-append, never acknowledged) is
//! dropped. Once the journal holds as many lines as the table has topics (at least
//! [`COMPACT_MIN_LINES`]), the table is written as a new snapshot and the journal emptied: each
//! change pays O(1) plus an amortised share of one rewrite.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ferromq_remoting::body::register::{TopicConfig, TopicConfigSerializeWrapper};
use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// A journal shorter than this is never compacted (small tables would rewrite constantly).
pub(crate) const COMPACT_MIN_LINES: usize = 1_024;

/// One change as a journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Change {
    /// The table's data version after the change.
    pub v: i64,
    /// The data version's timestamp.
    pub ts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<TopicConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub del: Option<String>,
}

impl Change {
    /// Applies the change to `table`, version included.
    pub(crate) fn apply(self, table: &mut TopicConfigSerializeWrapper) {
        if let Some(config) = self.set {
            table
                .topic_config_table
                .insert(config.topic_name.clone(), config);
        }
        if let Some(topic) = self.del {
            table.topic_config_table.remove(&topic);
        }
        table.data_version.counter = self.v;
        table.data_version.timestamp = self.ts;
    }
}

/// The open journal file.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    lines: usize,
}

/// `<snapshot>.journal`.
pub(crate) fn path_for(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    snapshot.with_file_name(name)
}

impl Journal {
    /// Opens (creating it if absent) the journal at `path` and applies to `table` the changes newer
    /// than it. A torn last line is cut off the file.
    ///
    /// # Errors
    /// I/O errors, or `CorruptFile` for a bad line that is not the last one.
    pub(crate) fn open(
        path: PathBuf,
        table: &mut TopicConfigSerializeWrapper,
    ) -> Result<Journal, BrokerError> {
        let bytes = crate::persist::read_optional(&path)?.unwrap_or_default();
        let (changes, good_len) = parse(&bytes).map_err(|detail| BrokerError::CorruptFile {
            path: path.clone(),
            detail,
        })?;
        let lines = changes.len();
        for change in changes {
            if change.v > table.data_version.counter {
                change.apply(table);
            }
        }
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let existed = path.exists();
        std::fs::create_dir_all(dir).map_err(|e| BrokerError::io(dir, e))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| BrokerError::io(&path, e))?;
        if !existed {
            // The new file's name must survive a power cut as well as the lines synced into it.
            ferromq_durable::sync_dir(dir).map_err(|e| BrokerError::io(dir, e))?;
        }
        if good_len < bytes.len() {
            tracing::warn!(path = %path.display(), dropped_bytes = bytes.len() - good_len,
                "torn last line of the topic journal dropped");
            file.set_len(good_len as u64)
                .and_then(|()| file.sync_data())
                .map_err(|e| BrokerError::io(&path, e))?;
        }
        Ok(Journal { path, file, lines })
    }

    /// Appends `change` and syncs it.
    ///
    /// # Errors
    /// I/O errors; the line may then be partly written, which the next open drops as torn only if
    /// it is the last one, so the journal is truncated back to where it was.
    pub(crate) fn append(&mut self, change: &Change) -> Result<(), BrokerError> {
        let mut line =
            serde_json::to_vec(change).map_err(|e| BrokerError::io(&self.path, e.into()))?;
        line.push(b'\n');
        let before = self
            .file
            .metadata()
            .map_err(|e| BrokerError::io(&self.path, e))?
            .len();
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Leave no half line behind for the next append to follow.
            let _ = self.file.set_len(before);
            return Err(BrokerError::io(&self.path, e));
        }
        self.lines += 1;
        Ok(())
    }

    /// True when the journal is long enough, against a table of `topics` topics, to be folded into
    /// a new snapshot.
    pub(crate) fn wants_compaction(&self, topics: usize) -> bool {
        self.lines >= topics.max(COMPACT_MIN_LINES)
    }

    /// Empties the journal once a snapshot holding all of it is durable.
    ///
    /// # Errors
    /// I/O errors (the lines then stay, and the next open skips them as older than the snapshot).
    pub(crate) fn clear(&mut self) -> Result<(), BrokerError> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| BrokerError::io(&self.path, e))?;
        self.lines = 0;
        Ok(())
    }
}

/// The changes in `bytes` and the length of the part that holds them. A last line that is
/// unterminated or unreadable is torn (left out of that length); an unreadable line before it is
/// corruption.
fn parse(bytes: &[u8]) -> Result<(Vec<Change>, usize), String> {
    let mut changes = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(nl) = bytes[at..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let line = &bytes[at..at + nl];
        match serde_json::from_slice::<Change>(line) {
            Ok(c) => changes.push(c),
            Err(e) if at + nl + 1 < bytes.len() => {
                return Err(format!("line at byte {at}: {e}"));
            }
            Err(_) => break,
        }
        at += nl + 1;
    }
    Ok((changes, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: i64, name: &str) -> Change {
        Change {
            v,
            ts: v * 10,
            set: Some(crate::topics::topic_config(name, 4, 6)),
            del: None,
        }
    }

    #[test]
    fn replays_newer_changes_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("topics.json.journal");
        let mut table = TopicConfigSerializeWrapper::default();
        let mut j = Journal::open(path.clone(), &mut table).expect("open");
        j.append(&set(1, "A")).expect("append");
        j.append(&set(2, "B")).expect("append");
        j.append(&Change {
            v: 3,
            ts: 30,
            set: None,
            del: Some("A".into()),
        })
        .expect("append");
        drop(j);
        // A crash mid-append.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(br#"{"v":4,"ts":40,"se"#).expect("write");
        drop(f);

        let mut fresh = TopicConfigSerializeWrapper::default();
        let j = Journal::open(path.clone(), &mut fresh).expect("reopen");
        assert_eq!(j.lines, 3);
        let names: Vec<&String> = fresh.topic_config_table.keys().collect();
        assert_eq!(names, ["B"]);
        assert_eq!(fresh.data_version.counter, 3);
        assert!(std::fs::read(&path).expect("read").ends_with(b"\n"));

        // A snapshot at version 2 already has the first two changes: only the third applies.
        let mut snap = TopicConfigSerializeWrapper::default();
        snap.data_version.counter = 2;
        snap.topic_config_table
            .insert("A".into(), crate::topics::topic_config("A", 8, 6));
        Journal::open(path, &mut snap).expect("reopen");
        assert!(snap.topic_config_table.is_empty());
        assert_eq!(snap.data_version.counter, 3);
    }

    #[test]
    fn a_bad_line_before_the_last_is_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        std::fs::write(&path, b"{\"v\":1,\"ts\":1}\nnot json\n{\"v\":2,\"ts\":2}\n")
            .expect("write");
        let mut t = TopicConfigSerializeWrapper::default();
        assert!(matches!(
            Journal::open(path, &mut t),
            Err(BrokerError::CorruptFile { .. })
        ));
    }
}
