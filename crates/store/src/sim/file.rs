//! One simulated file: page-granular reads and writes against the shared disk state.

use std::io;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Inode, State, PAGE};
use crate::io::SegmentFile;

pub(super) const EIO: i32 = 5;

/// Splits `[offset, offset + len)` into (page, start in page, start in buffer, length) pieces.
fn pieces(offset: u64, len: usize) -> impl Iterator<Item = (u64, usize, usize, usize)> {
    let mut done = 0usize;
    std::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let at = offset + done as u64;
        #[allow(clippy::cast_possible_truncation)] // Remainder of a division by 4096.
        let in_page = (at % PAGE as u64) as usize;
        let n = (PAGE - in_page).min(len - done);
        let piece = (at / PAGE as u64, in_page, done, n);
        done += n;
        Some(piece)
    })
}

pub(super) fn copy_out(inode: &Inode, offset: u64, buf: &mut [u8]) {
    for (page, in_page, at, n) in pieces(offset, buf.len()) {
        match inode.pages.get(&page) {
            Some(p) => buf[at..at + n].copy_from_slice(&p[in_page..in_page + n]),
            None => buf[at..at + n].fill(0),
        }
    }
}

fn check_range(offset: u64, n: usize, len: u64) -> io::Result<()> {
    match offset.checked_add(n as u64) {
        Some(end) if end <= len => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "range outside the file",
        )),
    }
}

/// A handle on one simulated file.
#[derive(Debug)]
pub(super) struct SimFile {
    pub(super) state: Arc<Mutex<State>>,
    pub(super) inode: u64,
    pub(super) boot: u64,
    pub(super) len: u64,
}

impl SimFile {
    fn write_bytes(&self, offset: u64, data: Option<&[u8]>, n: usize) -> io::Result<()> {
        check_range(offset, n, self.len)?;
        let mut s = self.state.lock();
        let inode = s.inode(self)?;
        if inode.sparse {
            let fresh = pieces(offset, n)
                .filter(|p| !inode.pages.contains_key(&p.0))
                .count();
            s.reserve(fresh as u64 * PAGE as u64)?;
        }
        let inode = s.inode(self)?;
        let mut freed = 0u64;
        for (page, in_page, at, len) in pieces(offset, n) {
            inode.dirty.insert(page);
            if data.is_none() && len == PAGE {
                // A whole page of zeros is a hole (punched, or never written): no memory, no space.
                if inode.pages.remove(&page).is_some() && inode.sparse {
                    freed += PAGE as u64;
                }
                continue;
            }
            let p = inode
                .pages
                .entry(page)
                .or_insert_with(|| Box::new([0; PAGE]));
            match data {
                Some(d) => p[in_page..in_page + len].copy_from_slice(&d[at..at + len]),
                None => p[in_page..in_page + len].fill(0),
            }
        }
        s.used = s.used.saturating_sub(freed);
        Ok(())
    }
}

impl SegmentFile for SimFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_bytes(offset, Some(data), data.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.len)?;
        let mut s = self.state.lock();
        copy_out(s.inode(self)?, offset, buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.sync_range(0, self.len)
    }

    fn sync_range(&self, offset: u64, len: u64) -> io::Result<()> {
        let mut s = self.state.lock();
        let fail = std::mem::take(&mut s.fail_next_sync);
        let inode = s.inode(self)?;
        // Only the pages the range touches: any other dirty page may still be lost.
        let first = offset / PAGE as u64;
        let end = offset.saturating_add(len).div_ceil(PAGE as u64);
        let dirty: Vec<u64> = inode.dirty.range(first..end).copied().collect();
        for page in &dirty {
            inode.dirty.remove(page);
        }
        if fail {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        for page in dirty {
            match inode.pages.get(&page) {
                Some(p) => inode.durable.insert(page, p.clone()),
                None => inode.durable.remove(&page),
            };
        }
        Ok(())
    }

    fn zero_range(&self, offset: u64, len: u64) -> io::Result<()> {
        check_range(offset, 0, self.len)?;
        let len = len.min(self.len - offset);
        let n = usize::try_from(len).map_err(io::Error::other)?;
        self.write_bytes(offset, None, n)
    }
}
