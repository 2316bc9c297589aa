//! The real disk behind [`FileLayer`]: how each kind of store file is allocated, written and synced.
//!
//! | kind          | allocation                         | writes and reads              | sync                 |
//! |---------------|------------------------------------|-------------------------------|----------------------|
//! | commit log    | `fallocate` (fully allocated)      | `pwrite`/`pread`, or a shared map (`IoMode`) | `fdatasync`          |
//! | consume queue | sparse (`set_len`)                 | `pwrite`/`pread`              | `fdatasync`          |
//! | index         | `fallocate` (fully allocated)      | shared map                    | `fdatasync`          |
//!
//! Mapped files are always fully allocated first: a store into a mapped page the file system cannot back
//! (a hole on a full disk) kills the process with SIGBUS, while a failed `fallocate` is an ordinary
//! ENOSPC error at creation time. For the same reason erasing a range of a preallocated file uses
//! `FALLOC_FL_ZERO_RANGE` (keeps the blocks) and only sparse files get their holes punched.
//!
//! This is the only module of the crate with `unsafe` code: the copies in and out of a mapping.
#![allow(unsafe_code)] // Mapped I/O; every block carries a SAFETY comment.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr;
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw, UncheckedAdvice};
use rustix::fs::FallocateFlags;
use rustix::io::Errno;

use crate::config::IoMode;
use crate::io::{FileKind, FileLayer, SegmentFile};

/// Zeros are written in pieces of this size when the file system cannot zero a range itself.
const ZERO_CHUNK: usize = 1 << 20;

/// Store files on the local file system.
#[derive(Debug, Clone, Copy)]
pub struct DiskLayer {
    io_mode: IoMode,
}

impl DiskLayer {
    /// A disk layer whose commit-log segments use `io_mode`.
    #[must_use]
    pub fn new(io_mode: IoMode) -> DiskLayer {
        DiskLayer { io_mode }
    }

    fn mapped(self, kind: FileKind) -> bool {
        match kind {
            FileKind::CommitLog => self.io_mode == IoMode::Mmap,
            FileKind::ConsumeQueue => false,
            FileKind::Index => true,
        }
    }

    fn wrap(self, file: File, len: u64, kind: FileKind) -> io::Result<Arc<dyn SegmentFile>> {
        let preallocated = kind != FileKind::ConsumeQueue;
        if self.mapped(kind) {
            Ok(Arc::new(MappedFile::new(file, len)?))
        } else {
            Ok(Arc::new(PwriteFile {
                file,
                len,
                preallocated,
            }))
        }
    }
}

impl FileLayer for DiskLayer {
    fn create(&self, path: &Path, len: u64, kind: FileKind) -> io::Result<Arc<dyn SegmentFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        let made = if kind == FileKind::ConsumeQueue {
            file.set_len(len)
        } else {
            allocate(&file, len)
        }
        .and_then(|()| self.wrap(file, len, kind));
        if made.is_err() {
            // A half-made file (typically: no space for its blocks) would make every retry fail with
            // "exists" and look like a segment on the next start.
            let _ = fs::remove_file(path);
        }
        made
    }

    fn open(&self, path: &Path, kind: FileKind) -> io::Result<Arc<dyn SegmentFile>> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        if self.mapped(kind) && len > 0 {
            // Files we created are allocated already (cheap no-op); a copied-in sparse file is not, and
            // a hole under a mapping means SIGBUS on a full disk. Never fall back to writing zeros here.
            match rustix::fs::fallocate(&file, FallocateFlags::KEEP_SIZE, 0, len) {
                Ok(()) | Err(Errno::OPNOTSUPP | Errno::NOSYS) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.wrap(file, len, kind)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        fs::remove_dir(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        ferromq_durable::sync_dir(dir)
    }

    fn sync_filesystem(&self, path: &Path) -> io::Result<()> {
        rustix::fs::syncfs(File::open(path)?).map_err(io::Error::from)
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        ferromq_durable::write_atomic(path, data)
    }

    fn read_all(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        ferromq_durable::read_optional(path)
    }

    fn disk_used_ratio(&self, path: &Path) -> io::Result<f64> {
        // The store folder may not exist yet: ask about the nearest folder that does.
        let mut at = path;
        while !at.exists() {
            at = at.parent().unwrap_or(Path::new("/"));
        }
        let st = rustix::fs::statvfs(at)?;
        // As `df` computes it: blocks reserved for root count as neither used nor available to us.
        let used = st.f_blocks.saturating_sub(st.f_bfree);
        let usable = used + st.f_bavail;
        if usable == 0 {
            return Ok(0.0);
        }
        #[allow(clippy::cast_precision_loss)]
        // A ratio; block counts far below 2^52 are exact anyway.
        Ok(used as f64 / usable as f64)
    }
}

/// Reserves every block of `file` up to `len` (the file grows to `len`).
fn allocate(file: &File, len: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        // File systems without fallocate (some network and FUSE ones): writing zeros allocates too.
        Err(Errno::OPNOTSUPP | Errno::NOSYS) => {
            file.set_len(len)?;
            write_zeros(file, 0, len)
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets `[offset, offset + len)` to zeros; keeps the blocks allocated when `keep_allocated`.
fn zero_file_range(file: &File, offset: u64, len: u64, keep_allocated: bool) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    let flags = if keep_allocated {
        FallocateFlags::ZERO_RANGE | FallocateFlags::KEEP_SIZE
    } else {
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE
    };
    match rustix::fs::fallocate(file, flags, offset, len) {
        Ok(()) => Ok(()),
        Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => write_zeros(file, offset, len),
        Err(e) => Err(e.into()),
    }
}

fn write_zeros(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let zeros = vec![0u8; ZERO_CHUNK];
    let mut done = 0u64;
    while done < len {
        let n = usize::try_from(len - done).map_or(ZERO_CHUNK, |r| r.min(ZERO_CHUNK));
        file.write_all_at(&zeros[..n], offset + done)?;
        done += n as u64;
    }
    Ok(())
}

/// `[offset, offset + n)` as a `usize` range inside a file of `len` bytes, or an error.
fn checked_range(offset: u64, n: usize, len: u64) -> io::Result<(usize, usize)> {
    let end = offset.checked_add(n as u64).filter(|&e| e <= len);
    let end = end.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("range {offset}+{n} is outside the {len}-byte file"),
        )
    })?;
    let start =
        usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let end = usize::try_from(end).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    Ok((start, end))
}

/// A file written with `pwrite` and read with `pread`.
#[derive(Debug)]
struct PwriteFile {
    file: File,
    len: u64,
    /// Blocks were reserved at creation; erasing must not give them back.
    preallocated: bool,
}

impl SegmentFile for PwriteFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        checked_range(offset, data.len(), self.len)?;
        self.file.write_all_at(data, offset)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        checked_range(offset, buf.len(), self.len)?;
        self.file.read_exact_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        checked_range(offset, 0, self.len)?;
        let len = len.min(self.len - offset);
        zero_file_range(&self.file, offset, len, self.preallocated)
    }
}

/// A fully allocated file accessed through a shared, writable memory map.
///
/// Invariants the `unsafe` copies rely on:
/// - the mapping covers exactly `len` bytes and lives as long as `self` (it is unmapped on drop);
/// - every block of the file is allocated (see [`allocate`]), so a store never needs new space;
/// - bytes enter only through copies, and the only references into the mapping are the shared ones
///   `view` hands out, for ranges nobody writes while they live (below the commit log's written
///   offset); nothing ever writes through a `&mut` into the mapping;
/// - callers never read a range while writing it, nor write one range from two threads at once (the
///   [`SegmentFile`] contract: the commit log has one writer and readers stay below the published
///   written offset; the index writes under its own lock).
struct MappedFile {
    file: File,
    map: MmapRaw,
    len: u64,
}

impl MappedFile {
    fn new(file: File, len: u64) -> io::Result<MappedFile> {
        let map_len =
            usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if map_len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot map an empty file",
            ));
        }
        let map = MmapOptions::new().len(map_len).map_raw(&file)?;
        Ok(MappedFile { file, map, len })
    }
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFile")
            .field("file", &self.file)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl SegmentFile for MappedFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let (start, _) = checked_range(offset, data.len(), self.len)?;
        // SAFETY: `start..start + data.len()` lies inside the live mapping (checked above); the file is
        // fully allocated, so the store cannot fault for lack of space; no reference into this range
        // exists (views cover only ranges nobody writes) and no other thread reads or writes it
        // meanwhile (type invariants above); `ptr::copy` would tolerate `data` overlapping it anyway.
        unsafe {
            ptr::copy(data.as_ptr(), self.map.as_mut_ptr().add(start), data.len());
        }
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let (start, _) = checked_range(offset, buf.len(), self.len)?;
        // SAFETY: the source range lies inside the live mapping (checked above); `buf` is an exclusive
        // caller buffer outside the mapping; no thread writes this range while it is read (type
        // invariants above).
        unsafe {
            ptr::copy_nonoverlapping(self.map.as_ptr().add(start), buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        // Linux marks a page dirty in the page cache when a store through a shared mapping faults it
        // writable, so fdatasync writes mapped stores back too; msync(MS_SYNC) does the same after
        // walking the whole mapping first (measured ~180 µs per call on a 1 GiB map, fdatasync ~1 µs on
        // tmpfs). Elsewhere msync is the portable contract.
        if cfg!(target_os = "linux") {
            self.file.sync_data()
        } else {
            self.map.flush()
        }
    }

    fn sync_range(&self, offset: u64, len: u64) -> io::Result<()> {
        let (start, end) =
            checked_range(offset, usize::try_from(len).unwrap_or(usize::MAX), self.len)?;
        // msync(MS_SYNC) of a range is a ranged fdatasync on Linux (`vfs_fsync_range` with datasync
        // set): the range's data and the metadata to read it back (extent conversions), and nothing
        // else. An fdatasync would also write back the pages the writer stores into meanwhile, write-
        // protecting each with a TLB shootdown; those were a seventh of all CPU time under
        // ASYNC_FLUSH.
        self.map.flush_range(start, end - start)
    }

    fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        checked_range(offset, 0, self.len)?;
        let len = len.min(self.len - offset);
        // Through the descriptor: the map shares the page cache, so it sees the zeros.
        zero_file_range(&self.file, offset, len, true)
    }

    fn prefill(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        checked_range(offset, data.len(), self.len)?;
        // Through the descriptor, for the same reason: whole pages written this way need no read.
        self.file.write_all_at(data, offset)
    }

    fn view(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let (start, _) = checked_range(offset, len, self.len).ok()?;
        // SAFETY: the range lies inside the mapping, which lives as long as `&self`; the caller
        // borrows only bytes nobody writes while the borrow lives (the `SegmentFile::view` contract),
        // and the file is never shortened while mapped (truncation and recovery run on a closed
        // store), so the pages stay readable.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(start), len) })
    }

    fn unmap_written(&self, offset: u64, len: u64) -> io::Result<()> {
        const PAGE: u64 = 4096;
        let end = offset.saturating_add(len).min(self.len) / PAGE * PAGE;
        let start = offset.next_multiple_of(PAGE);
        if start >= end {
            return Ok(());
        }
        let (start, n) = checked_range(
            start,
            usize::try_from(end - start).unwrap_or(usize::MAX),
            self.len,
        )?;
        let n = n - start;
        // SAFETY: the range lies inside the live mapping (checked above). The mapping is shared and
        // file-backed: MADV_DONTNEED keeps the content and the dirty state in the page cache, and the
        // next access (a copy, or a read through a live `view`) faults the same pages in again, so no
        // reader can observe the page-table entries going away. Copies into the range do not happen
        // (the caller passes bytes nobody writes any more).
        unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, start, n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilled_and_unmapped_ranges_keep_their_bytes_in_both_io_modes() {
        for mode in [IoMode::Pwrite, IoMode::Mmap] {
            let dir = tempfile::tempdir().expect("tempdir");
            let layer = DiskLayer::new(mode);
            let path = dir.path().join("00000000000000000000");
            let f = layer
                .create(&path, 64 * 1024, FileKind::CommitLog)
                .expect("create");
            let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8 + 1).collect();
            f.prefill(8192, &vec![0u8; 32 * 1024]).expect("prefill");
            f.write_at(100, &data).expect("write");
            // Unmapped pages, the partial ones at both ends included, still read back as written.
            f.unmap_written(100, 15_000).expect("unmap");
            f.unmap_written(0, 64 * 1024).expect("unmap all");
            let mut back = vec![0u8; data.len()];
            f.read_at(100, &mut back).expect("read");
            assert_eq!(back, data, "{mode:?}");
            // A mapped file lends its bytes in place; a pwrite file does not.
            match f.view(100, data.len()) {
                Some(v) => assert_eq!(v, &data[..], "{mode:?}"),
                None => assert_eq!(mode, IoMode::Pwrite),
            }
            assert!(f.view(64 * 1024 - 2, 3).is_none(), "a view past the end");
            // A store after the unmapping lands too, and everything survives a ranged sync and a
            // reopen.
            f.write_at(30_000, b"after").expect("write");
            f.sync_range(29_000, 2_000).expect("sync range");
            drop(f);
            let f = layer.open(&path, FileKind::CommitLog).expect("open");
            f.read_at(100, &mut back).expect("read");
            assert_eq!(back, data, "{mode:?}");
            let mut tail = [0u8; 5];
            f.read_at(30_000, &mut tail).expect("read");
            assert_eq!(&tail, b"after");
            assert!(
                f.unmap_written(60_000, 10_000).is_ok(),
                "clamped to the file"
            );
        }
    }

    fn roundtrip(mode: IoMode, kind: FileKind) {
        let dir = tempfile::tempdir().expect("tempdir");
        let layer = DiskLayer::new(mode);
        let path = dir.path().join("00000000000000000000");
        let f = layer.create(&path, 64 * 1024, kind).expect("create");
        assert!(
            layer.create(&path, 64 * 1024, kind).is_err(),
            "create must not reuse a file"
        );
        f.write_at(100, b"hello").expect("write");
        f.sync().expect("sync");
        let mut buf = [0u8; 5];
        f.read_at(100, &mut buf).expect("read");
        assert_eq!(&buf, b"hello");
        assert!(
            f.write_at(64 * 1024 - 2, b"abc").is_err(),
            "write past the end"
        );
        assert!(f.read_at(64 * 1024, &mut buf).is_err(), "read past the end");
        f.zero_range(96, 16).expect("zero");
        f.read_at(100, &mut buf).expect("read");
        assert_eq!(buf, [0u8; 5]);
        drop(f);
        let f = layer.open(&path, kind).expect("open");
        assert_eq!(f.len(), 64 * 1024);
        assert_eq!(
            layer.list(dir.path()).expect("list"),
            vec!["00000000000000000000".to_owned()]
        );
    }

    #[test]
    fn every_kind_and_mode_round_trips() {
        for mode in [IoMode::Pwrite, IoMode::Mmap] {
            for kind in [FileKind::CommitLog, FileKind::ConsumeQueue, FileKind::Index] {
                roundtrip(mode, kind);
            }
        }
    }

    #[test]
    fn small_files_and_listing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layer = DiskLayer::new(IoMode::Pwrite);
        assert!(layer
            .list(&dir.path().join("missing"))
            .expect("list")
            .is_empty());
        let p = dir.path().join("checkpoint");
        assert_eq!(layer.read_all(&p).expect("read"), None);
        layer.write_atomic(&p, b"one").expect("write");
        layer.write_atomic(&p, b"two").expect("write");
        assert_eq!(
            layer.read_all(&p).expect("read").as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(
            layer.list(dir.path()).expect("list"),
            vec!["checkpoint".to_owned()]
        );
        let ratio = layer
            .disk_used_ratio(&dir.path().join("not/yet"))
            .expect("statvfs");
        assert!((0.0..=1.0).contains(&ratio));
    }
}
