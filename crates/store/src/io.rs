//! The seam between the engine and the file system.
//!
//! Every byte the store reads or writes goes through a [`FileLayer`], so tests can swap the real disk for
//! a simulated one that forgets whatever an fdatasync did not cover (see [`crate::sim`]), and benchmarks
//! can compare `pwrite` with `mmap` (see [`crate::segment`]).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// One fixed-length file (a commit-log, consume-queue or index segment).
///
/// Writers never overlap ranges that readers are reading: the commit log publishes its written offset
/// only after the bytes are in place, and readers stay below it.
pub trait SegmentFile: Send + Sync + fmt::Debug {
    /// File length in bytes (fixed at creation).
    fn len(&self) -> u64;
    /// True for a zero-length file.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Writes all of `data` at `offset`; `offset + data.len()` must not exceed `len()`.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Fills all of `buf` from `offset`; reading past `len()` is an error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Makes every byte written so far durable (fdatasync semantics).
    fn sync(&self) -> io::Result<()>;
    /// Makes at least the bytes written in `[offset, offset + len)` durable, with whatever metadata
    /// reading them back needs; bytes outside the range may stay volatile.
    fn sync_range(&self, _offset: u64, _len: u64) -> io::Result<()> {
        self.sync()
    }
    /// Sets `len` bytes from `offset` to zero (used to erase a torn tail during recovery).
    fn zero_range(&self, offset: u64, len: u64) -> io::Result<()>;
    /// Writes `data` at `offset` as `write_at` does, leaving the pages in the page cache; a mapped
    /// file writes through its descriptor instead of its mapping. For warming ahead of the writer
    /// (`commit_log::prepare`): a store into a mapped page that is not cached faults it in through
    /// the file system's read path, which is what warming avoids.
    fn prefill(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_at(offset, data)
    }
    /// Drops this process's mapping of the whole pages in `[offset, offset + len)`, bytes nobody
    /// writes any more; content and dirty state stay in the page cache, and a later read maps them
    /// again. Nothing to do for a file not accessed through a mapping. Why: writeback write-protects
    /// every mapped dirty page with one TLB shootdown each; unmapping the range first costs one.
    fn unmap_written(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Ok(())
    }
    /// The bytes `[offset, offset + len)` in place, without a copy, for a file accessed through a
    /// mapping; `None` otherwise (the caller then copies with `read_at`). Only for ranges nobody
    /// writes while the borrow lives: below the commit log's written offset.
    fn view(&self, _offset: u64, _len: usize) -> Option<&[u8]> {
        None
    }
}

/// A megabyte of zeros, for writing zeros ahead of a writer (`commit_log::prepare`, the index) in
/// steps of at most this size.
pub(crate) static ZEROS: [u8; 1 << 20] = [0; 1 << 20];

/// What a file is for; the disk layer picks how to do its I/O from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Large sequential appends, read back in ranges (I/O per `StoreConfig::io_mode`).
    CommitLog,
    /// Small 20-byte appends, read in ranges; thousands of these files exist (`pwrite`, sparse).
    ConsumeQueue,
    /// Small random writes and reads all over the file (memory-mapped, fully allocated up front so a
    /// full disk is an error at creation, never a SIGBUS at write).
    Index,
}

/// File-system operations the store needs, all on absolute paths.
pub trait FileLayer: Send + Sync + fmt::Debug {
    /// Creates a new zero-filled file of `len` bytes; fails if it exists.
    fn create(&self, path: &Path, len: u64, kind: FileKind) -> io::Result<Arc<dyn SegmentFile>>;
    /// Opens an existing file; its length is what is on disk.
    fn open(&self, path: &Path, kind: FileKind) -> io::Result<Arc<dyn SegmentFile>>;
    /// Deletes a file. Open handles keep working until dropped.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of `dir` (files and folders), sorted; empty when `dir` does not exist.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Removes an empty folder.
    fn remove_dir(&self, dir: &Path) -> io::Result<()>;
    /// Makes the creation and removal of entries in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Makes everything written to the file system holding `path` durable: the data of every file,
    /// written through any handle, open or since closed, and every folder change. One call in place
    /// of thousands of per-file syncs when thousands of small files are dirty (Linux `syncfs`,
    /// which on ext4 and XFS also commits the journal, so folder changes come with it).
    fn sync_filesystem(&self, path: &Path) -> io::Result<()>;
    /// Replaces the whole content of a small file atomically and durably
    /// (write a temporary file, sync it, rename over, sync the folder).
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// The whole content of a small file, `None` when it does not exist.
    fn read_all(&self, path: &Path) -> io::Result<Option<Vec<u8>>>;
    /// Fraction (0.0 to 1.0) of the volume holding `path` that is in use.
    fn disk_used_ratio(&self, path: &Path) -> io::Result<f64>;
}
