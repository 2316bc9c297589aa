//! Every consume queue of the store, by topic and queue id.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::open_files::OpenFiles;
use super::queue::{Bounds, ConsumeQueue, FlushWork};
use super::scan::QueueDir;
use crate::error::{Result, StoreError};
use crate::io::{FileKind, FileLayer};

/// Folder under the store root holding the queues.
const DIR: &str = "consumequeue";

/// From this many queues to sync in one flush on, one sync of the whole file system replaces the
/// per-file syncs: each fdatasync is a disk round trip (about 0.1 ms on a fast SSD), so 100,000 dirty
/// queues would take seconds per flush, while one `syncfs` writes them all in one batch.
const SYNC_FILESYSTEM_FROM: usize = 64;

type Topics = HashMap<String, BTreeMap<u32, Arc<ConsumeQueue>>>;

/// The registry of consume queues. Lookups take a read lock; creating or removing queues a write
/// lock.
pub struct ConsumeQueues {
    /// `<root>/consumequeue`.
    base: PathBuf,
    layer: Arc<dyn FileLayer>,
    per_file: u64,
    topics: RwLock<Topics>,
    /// The cap on open active handles, shared by every queue.
    files: Arc<OpenFiles>,
}

impl fmt::Debug for ConsumeQueues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics = self.topics.read();
        f.debug_struct("ConsumeQueues")
            .field("base", &self.base)
            .field("topics", &topics.len())
            .field("queues", &topics.values().map(BTreeMap::len).sum::<usize>())
            .field("open_files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ConsumeQueues {
    /// Loads every queue under `<root>/consumequeue` (see [`super::scan`] for what is checked).
    ///
    /// `min_offset` of each queue is the first written entry on disk; entries retention had skipped
    /// without deleting their file come back, so re-apply [`ConsumeQueue::delete_before_physical`]
    /// with the commit log's minimum after opening.
    ///
    /// # Errors
    /// `ForeignFile` for anything in the folder tree that the store did not write (naming it),
    /// `CorruptConsumeQueue` for a damaged queue (recovery can [`rebuild`](Self::rebuild) it or
    /// wipe the folder and re-dispatch), `Config` for `entries_per_file == 0`, I/O errors.
    ///
    /// At most `max_open_files` queue files are held open at once (at least one).
    pub fn load(
        root: &Path,
        layer: Arc<dyn FileLayer>,
        entries_per_file: u64,
        max_open_files: usize,
    ) -> Result<ConsumeQueues> {
        if entries_per_file == 0 {
            return Err(StoreError::Config(
                "consume_queue_entries_per_file must be positive".into(),
            ));
        }
        let base = root.join(DIR);
        let files = OpenFiles::new(max_open_files);
        let names = list_dir(layer.as_ref(), &base)?;
        let scan_topic = |topic: &String| -> Result<Vec<(u32, PathBuf, Bounds)>> {
            let tdir = base.join(topic);
            let mut queues = Vec::new();
            for qname in list_dir(layer.as_ref(), &tdir)? {
                let qdir = tdir.join(&qname);
                let queue_id = parse_queue_id(&qname).ok_or_else(|| StoreError::ForeignFile {
                    path: qdir.clone(),
                    detail: "not a queue folder (expected a queue id)".into(),
                })?;
                let bounds = QueueDir {
                    layer: layer.as_ref(),
                    dir: &qdir,
                    topic,
                    queue_id,
                    per_file: entries_per_file,
                }
                .scan()?;
                queues.push((queue_id, qdir, bounds));
            }
            Ok(queues)
        };
        let scanned = par_map(&names, scan_topic)?;
        let mut topics = Topics::new();
        for (topic, queues) in names.into_iter().zip(scanned) {
            for (queue_id, qdir, bounds) in queues {
                let cq = ConsumeQueue::new(
                    &topic,
                    queue_id,
                    qdir,
                    layer.clone(),
                    entries_per_file,
                    bounds,
                    files.clone(),
                );
                topics
                    .entry(topic.clone())
                    .or_default()
                    .insert(queue_id, cq);
            }
        }
        let queues: usize = topics.values().map(BTreeMap::len).sum();
        tracing::debug!(topics = topics.len(), queues, "consume queues loaded");
        Ok(ConsumeQueues {
            base,
            layer,
            per_file: entries_per_file,
            topics: RwLock::new(topics),
            files,
        })
    }

    #[must_use]
    pub fn get(&self, topic: &str, queue_id: u32) -> Option<Arc<ConsumeQueue>> {
        self.topics
            .read()
            .get(topic)
            .and_then(|q| q.get(&queue_id))
            .cloned()
    }

    /// The queue, created empty if new (its folder appears with its first entry).
    ///
    /// # Errors
    /// `Config` when `topic` cannot be a folder name (empty, `.`, `..`, or containing `/` or NUL);
    /// the broker's topic validation rejects those long before.
    pub fn get_or_create(&self, topic: &str, queue_id: u32) -> Result<Arc<ConsumeQueue>> {
        if let Some(q) = self.get(topic, queue_id) {
            return Ok(q);
        }
        check_topic(topic)?;
        let mut topics = self.topics.write();
        let queues = topics.entry(topic.to_owned()).or_default();
        let q = queues
            .entry(queue_id)
            .or_insert_with(|| self.empty_queue(topic, queue_id));
        Ok(q.clone())
    }

    /// Every queue, ordered by topic then queue id.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<ConsumeQueue>> {
        let topics = self.topics.read();
        let mut names: Vec<&String> = topics.keys().collect();
        names.sort();
        names
            .into_iter()
            .flat_map(|t| topics[t].values().cloned())
            .collect()
    }

    /// The queues of `topic`, by queue id.
    #[must_use]
    pub fn queues_of(&self, topic: &str) -> Vec<Arc<ConsumeQueue>> {
        self.topics
            .read()
            .get(topic)
            .map(|q| q.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Deletes a topic's queues and their files. Handles still held elsewhere ignore further puts.
    ///
    /// # Errors
    /// I/O errors deleting files; the topic is unregistered either way.
    pub fn remove_topic(&self, topic: &str) -> Result<()> {
        let Some(queues) = self.topics.write().remove(topic) else {
            return Ok(());
        };
        for q in queues.values() {
            q.remove_files()?;
        }
        let tdir = self.base.join(topic);
        if let Err(e) = self.layer.remove_dir(&tdir) {
            tracing::debug!(dir = %tdir.display(), error = %e, "topic folder not removed");
        }
        sync_dir_if_exists(self.layer.as_ref(), &self.base)?;
        tracing::info!(topic, queues = queues.len(), "consume queues removed");
        Ok(())
    }

    /// Deletes one queue's files (whatever is in its folder) and registers it anew, empty; the
    /// first put re-creates it at that put's offset. For recovery of a queue found corrupt:
    /// re-dispatch the commit log from its start afterwards. Handles to the old queue ignore
    /// further puts.
    ///
    /// # Errors
    /// `Config` for an unusable topic name, I/O errors.
    pub fn rebuild(&self, topic: &str, queue_id: u32) -> Result<Arc<ConsumeQueue>> {
        check_topic(topic)?;
        // Under the write lock, so no put can re-create a file while the folder is being emptied.
        let mut topics = self.topics.write();
        if let Some(old) = topics.get_mut(topic).and_then(|q| q.remove(&queue_id)) {
            old.remove_files()?;
        }
        let qdir = self.base.join(topic).join(queue_id.to_string());
        for name in self
            .layer
            .list(&qdir)
            .map_err(|e| StoreError::io(&qdir, e))?
        {
            let path = qdir.join(name);
            self.layer
                .remove(&path)
                .map_err(|e| StoreError::io(&path, e))?;
        }
        if let Err(e) = self.layer.remove_dir(&qdir) {
            tracing::debug!(dir = %qdir.display(), error = %e, "queue folder not removed");
        }
        tracing::warn!(topic, queue_id, "consume queue discarded for rebuilding");
        let q = self.empty_queue(topic, queue_id);
        topics
            .entry(topic.to_owned())
            .or_default()
            .insert(queue_id, q.clone());
        Ok(q)
    }

    /// `(topic, queue id) -> max_offset` for every queue: the commit log's next queue offsets.
    #[must_use]
    pub fn next_offsets(&self) -> HashMap<(String, u32), u64> {
        let topics = self.topics.read();
        let mut out = HashMap::with_capacity(topics.values().map(BTreeMap::len).sum());
        for (topic, queues) in topics.iter() {
            for (&id, q) in queues {
                out.insert((topic.clone(), id), q.max_offset());
            }
        }
        out
    }

    /// Flushes every queue; keeps going past a failure and returns the first error. With many
    /// queues to sync, one sync of the whole file system does it (see `SYNC_FILESYSTEM_FROM`).
    ///
    /// # Errors
    /// The first I/O error met; what was not synced is retried by the next flush.
    pub fn flush_all(&self) -> Result<()> {
        let mut dirty: Vec<(Arc<ConsumeQueue>, FlushWork)> = Vec::new();
        for q in self.all() {
            if let Some(work) = q.take_flush_work() {
                dirty.push((q, work));
            }
        }
        if dirty.len() >= SYNC_FILESYSTEM_FROM {
            return match self.layer.sync_filesystem(&self.base) {
                Ok(()) => Ok(()),
                Err(e) => {
                    tracing::error!(queues = dirty.len(), error = %e, "consume-queue flush failed");
                    for (q, work) in dirty {
                        q.return_flush_work(work);
                    }
                    Err(StoreError::io(&self.base, e))
                }
            };
        }
        let mut first_err = None;
        for (q, work) in dirty {
            if let Err(e) = q.sync_flush_work(work) {
                tracing::error!(topic = q.topic(), queue = q.queue_id(), error = %e, "consume-queue flush failed");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// How many queue files may be open at once, and how many are.
    #[must_use]
    pub fn open_files(&self) -> (usize, usize) {
        (self.files.cap(), self.files.open())
    }

    fn empty_queue(&self, topic: &str, queue_id: u32) -> Arc<ConsumeQueue> {
        let dir = self.base.join(topic).join(queue_id.to_string());
        ConsumeQueue::new(
            topic,
            queue_id,
            dir,
            self.layer.clone(),
            self.per_file,
            Bounds::default(),
            self.files.clone(),
        )
    }
}

/// Topic folders scanned at once: at start-up with a cold page cache every folder listing and
/// queue scan waits on a few small reads, so 100,000 queues scanned one by one took a minute; in
/// flight together they keep the disk busy.
const SCAN_THREADS: usize = 16;

/// `f` over every item, on up to [`SCAN_THREADS`] threads (one for a few items); results in order.
/// The first error met stops the work and is returned.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let threads = SCAN_THREADS.min(items.len() / 4);
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, Result<R>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let r = f(item);
                        let failed = r.is_err();
                        out.push((i, r));
                        if failed {
                            // Stop every worker: one failure fails the whole.
                            next.store(items.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut all: Vec<(usize, Result<R>)> = results.into_iter().flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    // Complete unless an item failed, whose error `collect` returns.
    all.into_iter().map(|(_, r)| r).collect()
}

/// A topic becomes a folder name, so it must not be able to leave `consumequeue/`.
fn check_topic(topic: &str) -> Result<()> {
    if topic.is_empty() || topic == "." || topic == ".." || topic.contains(['/', '\0']) {
        return Err(StoreError::Config(format!(
            "topic {topic:?} cannot name a consume-queue folder"
        )));
    }
    Ok(())
}

/// Lists a folder of the tree; a plain file where a folder belongs is foreign. (The disk layer
/// fails to list a file; a layer that lists it as empty is caught by opening it.)
fn list_dir(layer: &dyn FileLayer, dir: &Path) -> Result<Vec<String>> {
    let foreign = || StoreError::ForeignFile {
        path: dir.to_owned(),
        detail: "a file where a folder is expected".into(),
    };
    match layer.list(dir) {
        Ok(names) if names.is_empty() && layer.open(dir, FileKind::ConsumeQueue).is_ok() => {
            Err(foreign())
        }
        Ok(names) => Ok(names),
        Err(e) if e.kind() == ErrorKind::NotADirectory => Err(foreign()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

fn sync_dir_if_exists(layer: &dyn FileLayer, dir: &Path) -> Result<()> {
    match layer.sync_dir(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(StoreError::io(dir, e)),
        _ => Ok(()),
    }
}

/// A queue id folder name: the decimal form `u32::to_string` writes, nothing else.
fn parse_queue_id(name: &str) -> Option<u32> {
    let id: u32 = name.parse().ok()?;
    (id.to_string() == name).then_some(id)
}
