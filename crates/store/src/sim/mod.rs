//! A simulated disk that loses what a power cut may lose, for crash tests.
//!
//! The model, deliberately a little harsher than ext4 in `data=ordered` mode:
//! - Every file has its current content (what reads see) and its durable image (what survives a power
//!   loss). [`SegmentFile::sync`] copies the pages written since the last sync into the durable image.
//! - [`SimLayer::crash`] is the power cut: each file reverts to its durable image, except that every
//!   4 KiB page written since the last sync independently keeps its new content or not (seeded coin),
//!   so any subset of unsynced pages may survive — including a later page without an earlier one.
//! - Directory changes (file creation and removal) are journaled in order, as ext4 and XFS do: syncing
//!   a folder ([`FileLayer::sync_dir`]) makes its pending changes durable; at a crash a random prefix
//!   of the other pending changes survives (so a created file may vanish, a removed one may come back
//!   with its durable content, but a later change never survives without an earlier one). Folders are
//!   durable as soon as they are created, and [`FileLayer::write_atomic`] is durable when it returns —
//!   the two simplifications of the model.
//! - A failed sync ([`SimLayer::fail_next_sync`]) behaves like Linux after an fsync error: the pages
//!   are marked clean without reaching the durable image, so a later sync "succeeds" without them.
//! - [`SimLayer::set_capacity`] bounds the space in use: commit-log and index files take their whole
//!   length at creation (they are preallocated on disk), consume-queue files take a page when it is
//!   first written (they are sparse), small files take their length. Beyond it: ENOSPC.
//!
//! Handles opened before a crash belong to the old "boot": every operation through them fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::io::{FileKind, FileLayer, SegmentFile};

mod file;

use file::{copy_out, SimFile};

const PAGE: usize = 4096;
const ENOSPC: i32 = 28;
const ENOTEMPTY: i32 = 39;

type Page = Box<[u8; PAGE]>;

/// An in-memory file system with a power-loss model (see the module documentation).
///
/// Clones share the disk. A clone remembers the boot it was made in: after [`SimLayer::crash`], only
/// the layer `crash` was called on (and clones made from it afterwards) can use the disk, so a store
/// still running from before the power cut cannot write into the rebooted disk.
#[derive(Debug, Default)]
pub struct SimLayer {
    state: Arc<Mutex<State>>,
    boot: AtomicU64,
}

impl Clone for SimLayer {
    fn clone(&self) -> Self {
        SimLayer {
            state: self.state.clone(),
            boot: AtomicU64::new(self.boot.load(Ordering::Acquire)),
        }
    }
}

#[derive(Debug, Clone)]
struct State {
    /// Bumped by every crash; handles from an older boot are refused.
    boot: u64,
    dirs: BTreeSet<PathBuf>,
    /// Entries as reads see them: path → inode.
    entries: BTreeMap<PathBuf, u64>,
    /// Entries as a crash would leave them, before replaying a prefix of `dir_journal`.
    durable_entries: BTreeMap<PathBuf, u64>,
    /// Directory changes not yet made durable, oldest first: (path, new inode or `None` = removed).
    dir_journal: Vec<(PathBuf, Option<u64>)>,
    /// Unlinked inodes stay until the next crash: open handles and `durable_entries` may still use them.
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    capacity: u64,
    used: u64,
    fail_next_sync: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            boot: 0,
            dirs: BTreeSet::from([PathBuf::from("/")]),
            entries: BTreeMap::new(),
            durable_entries: BTreeMap::new(),
            dir_journal: Vec::new(),
            inodes: HashMap::new(),
            next_inode: 1,
            capacity: u64::MAX,
            used: 0,
            fail_next_sync: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Inode {
    len: u64,
    /// Pages never written read as zeros.
    pages: HashMap<u64, Page>,
    durable: HashMap<u64, Page>,
    /// Pages written since the last sync.
    dirty: BTreeSet<u64>,
    /// Space is taken page by page on first write rather than all at creation.
    sparse: bool,
}

impl Inode {
    fn allocated(&self) -> u64 {
        if self.sparse {
            self.pages.len() as u64 * PAGE as u64
        } else {
            self.len
        }
    }
}

/// A small deterministic generator (SplitMix64): crash outcomes are reproducible from the seed.
struct Coin(u64);

impl Coin {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn flip(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// Uniform enough in `0..=n` for a test.
    fn up_to(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64 + 1)).unwrap_or(0)
    }
}

fn stale() -> io::Error {
    io::Error::other("file handle from before the simulated power loss")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} does not exist", path.display()),
    )
}

impl SimLayer {
    /// An empty disk with unlimited space.
    #[must_use]
    pub fn new() -> SimLayer {
        SimLayer::default()
    }

    /// Cuts the power and reboots: see the module documentation for what survives. `rng_seed` picks
    /// which unsynced pages and directory changes are kept.
    pub fn crash(&self, rng_seed: u64) {
        let mut s = self.state.lock();
        let mut coin = Coin(rng_seed);
        let mut names = s.durable_entries.clone();
        let kept = coin.up_to(s.dir_journal.len());
        for (path, change) in s.dir_journal.drain(..).take(kept) {
            match change {
                Some(ino) => names.insert(path, ino),
                None => names.remove(&path),
            };
        }
        let mut inodes = HashMap::new();
        for &ino in names.values() {
            let Some(old) = s.inodes.get(&ino) else {
                continue;
            };
            let mut image = old.durable.clone();
            for page in &old.dirty {
                if coin.flip() {
                    match old.pages.get(page) {
                        Some(p) => image.insert(*page, p.clone()),
                        None => image.remove(page),
                    };
                }
            }
            let inode = Inode {
                len: old.len,
                pages: image.clone(),
                durable: image,
                dirty: BTreeSet::new(),
                sparse: old.sparse,
            };
            inodes.insert(ino, inode);
        }
        s.used = inodes.values().map(Inode::allocated).sum();
        s.inodes = inodes;
        s.entries.clone_from(&names);
        s.durable_entries = names;
        s.boot += 1;
        s.fail_next_sync = false;
        self.boot.store(s.boot, Ordering::Release);
    }

    /// Limits the space in use to `bytes` (`u64::MAX`: unlimited). Space already in use stays.
    pub fn set_capacity(&self, bytes: u64) {
        self.state.lock().capacity = bytes;
    }

    /// Bytes in use, as counted against the capacity.
    #[must_use]
    pub fn used_bytes(&self) -> u64 {
        self.state.lock().used
    }

    /// Makes the next [`SegmentFile::sync`] fail with EIO, losing the pages it should have synced.
    pub fn fail_next_sync(&self) {
        self.state.lock().fail_next_sync = true;
    }

    /// The disk, unless this layer belongs to a boot before the last crash.
    fn disk(&self) -> io::Result<MutexGuard<'_, State>> {
        let s = self.state.lock();
        if s.boot == self.boot.load(Ordering::Acquire) {
            Ok(s)
        } else {
            Err(stale())
        }
    }
}

impl State {
    fn reserve(&mut self, bytes: u64) -> io::Result<()> {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.capacity => {
                self.used = total;
                Ok(())
            }
            _ => Err(io::Error::from_raw_os_error(ENOSPC)),
        }
    }

    fn check_parent(&self, path: &Path) -> io::Result<()> {
        let parent = path.parent().ok_or_else(|| not_found(path))?;
        if !self.dirs.contains(parent) {
            return Err(not_found(parent));
        }
        if self.dirs.contains(path) || self.entries.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                path.display().to_string(),
            ));
        }
        Ok(())
    }

    fn new_inode(&mut self, inode: Inode) -> u64 {
        let ino = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(ino, inode);
        ino
    }

    fn unlink(&mut self, path: &Path) -> Option<u64> {
        let ino = self.entries.remove(path)?;
        let freed = self.inodes.get(&ino).map_or(0, Inode::allocated);
        self.used = self.used.saturating_sub(freed);
        Some(ino)
    }

    fn inode(&mut self, file: &SimFile) -> io::Result<&mut Inode> {
        if self.boot != file.boot {
            return Err(stale());
        }
        self.inodes.get_mut(&file.inode).ok_or_else(stale)
    }
}

impl FileLayer for SimLayer {
    fn create(&self, path: &Path, len: u64, kind: FileKind) -> io::Result<Arc<dyn SegmentFile>> {
        let mut s = self.disk()?;
        s.check_parent(path)?;
        let sparse = kind == FileKind::ConsumeQueue;
        if !sparse {
            s.reserve(len)?;
        }
        let inode = s.new_inode(Inode {
            len,
            sparse,
            ..Inode::default()
        });
        s.entries.insert(path.to_path_buf(), inode);
        s.dir_journal.push((path.to_path_buf(), Some(inode)));
        Ok(Arc::new(SimFile {
            state: self.state.clone(),
            inode,
            boot: s.boot,
            len,
        }))
    }

    fn open(&self, path: &Path, _kind: FileKind) -> io::Result<Arc<dyn SegmentFile>> {
        let s = self.disk()?;
        let inode = *s.entries.get(path).ok_or_else(|| not_found(path))?;
        let len = s.inodes.get(&inode).map_or(0, |i| i.len);
        Ok(Arc::new(SimFile {
            state: self.state.clone(),
            inode,
            boot: s.boot,
            len,
        }))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.disk()?;
        s.unlink(path).ok_or_else(|| not_found(path))?;
        s.dir_journal.push((path.to_path_buf(), None));
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.disk()?;
        let children = s
            .entries
            .keys()
            .chain(s.dirs.iter())
            .filter(|p| p.parent() == Some(dir));
        let names: BTreeSet<String> = children
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.disk()?;
        if s.entries.contains_key(dir) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file has that name",
            ));
        }
        for d in dir.ancestors() {
            s.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.disk()?;
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let busy = s
            .entries
            .keys()
            .chain(s.dirs.iter())
            .any(|p| p.parent() == Some(dir));
        if busy {
            return Err(io::Error::from_raw_os_error(ENOTEMPTY));
        }
        s.dirs.remove(dir);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.disk()?;
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let (mine, others) = std::mem::take(&mut s.dir_journal)
            .into_iter()
            .partition(|(p, _)| p.parent() == Some(dir));
        s.dir_journal = others;
        for (path, change) in mine {
            match change {
                Some(ino) => s.durable_entries.insert(path, ino),
                None => s.durable_entries.remove(&path),
            };
        }
        Ok(())
    }

    fn sync_filesystem(&self, path: &Path) -> io::Result<()> {
        let mut s = self.disk()?;
        if !s.dirs.contains(path) && !s.entries.contains_key(path) {
            return Err(not_found(path));
        }
        if std::mem::take(&mut s.fail_next_sync) {
            // As a failed fsync on Linux: the dirty pages are dropped from the to-do list anyway.
            for inode in s.inodes.values_mut() {
                inode.dirty.clear();
            }
            return Err(io::Error::from_raw_os_error(file::EIO));
        }
        for inode in s.inodes.values_mut() {
            for page in std::mem::take(&mut inode.dirty) {
                match inode.pages.get(&page) {
                    Some(p) => inode.durable.insert(page, p.clone()),
                    None => inode.durable.remove(&page),
                };
            }
        }
        for (path, change) in std::mem::take(&mut s.dir_journal) {
            match change {
                Some(ino) => s.durable_entries.insert(path, ino),
                None => s.durable_entries.remove(&path),
            };
        }
        Ok(())
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut s = self.disk()?;
        let old = s.unlink(path);
        let created = s
            .check_parent(path)
            .and_then(|()| s.reserve(data.len() as u64));
        if let Err(e) = created {
            if let Some(ino) = old {
                let size = s.inodes.get(&ino).map_or(0, Inode::allocated);
                s.used += size;
                s.entries.insert(path.to_path_buf(), ino);
            }
            return Err(e);
        }
        let mut inode = Inode {
            len: data.len() as u64,
            ..Inode::default()
        };
        for (i, chunk) in data.chunks(PAGE).enumerate() {
            let mut page: Page = Box::new([0; PAGE]);
            page[..chunk.len()].copy_from_slice(chunk);
            inode.pages.insert(i as u64, page);
        }
        inode.durable.clone_from(&inode.pages);
        let ino = s.new_inode(inode);
        s.entries.insert(path.to_path_buf(), ino);
        // Durable at once, replacing whatever pending change the path had.
        s.dir_journal.retain(|(p, _)| p != path);
        s.durable_entries.insert(path.to_path_buf(), ino);
        Ok(())
    }

    fn read_all(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let s = self.disk()?;
        let Some(ino) = s.entries.get(path) else {
            return Ok(None);
        };
        let Some(inode) = s.inodes.get(ino) else {
            return Ok(None);
        };
        let len = usize::try_from(inode.len).map_err(io::Error::other)?;
        let mut out = vec![0u8; len];
        copy_out(inode, 0, &mut out);
        Ok(Some(out))
    }

    fn disk_used_ratio(&self, _path: &Path) -> io::Result<f64> {
        let s = self.disk()?;
        if s.capacity == u64::MAX || s.capacity == 0 {
            return Ok(0.0);
        }
        #[allow(clippy::cast_precision_loss)] // A ratio of test-sized numbers.
        Ok((s.used as f64 / s.capacity as f64).min(1.0))
    }
}

#[cfg(test)]
mod tests;
