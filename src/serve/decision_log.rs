//! The decision log (`--decision-log FILE`): one JSON line per decision with its `decision_id`,
//! the request, the decision and its reasons, the world version and the time the check took.
//!
//! Checks never wait for it: an entry is handed to a writer thread over a channel bounded in
//! bytes (`--decision-log-queue-bytes`), and when the writer falls behind the entry is dropped
//! and counted (`keyward_decision_log_dropped_total`) rather than slowing a check down or
//! growing memory. The writer turns entries into JSON, so the check path only moves values it
//! already has.
//!
//! The file only ever receives whole lines: lines are written in batches, and a batch that
//! cannot be written in full (a full disk) is cut back off the file and every line in it is
//! counted as dropped. The file is reopened on SIGUSR1 and when the path no longer names the
//! open file (rename rotation), so logrotate works with either `create` or `copytruncate`.
//!
//! Encryption-context values are masked before they are written (`--decision-log-mask`):
//! `hash` (the default) writes `sha256:` and 16 hex digits of each value, `drop` leaves the
//! encryption context out, `none` writes it as sent.

use super::metrics::Metrics;
use crate::decision::Decision;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Default bound on the bytes of entries waiting for the writer.
pub const DEFAULT_QUEUE_BYTES: usize = 64 << 20;

/// Lines gathered before they are written out together.
const WRITE_BATCH_BYTES: usize = 1 << 16;

/// How encryption-context values appear in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mask {
    /// As the caller sent them.
    None,
    /// Each value replaced by `sha256:` and 16 hex digits of it (keys kept).
    Hash,
    /// The encryption context left out.
    Drop,
}

/// One decided request, on its way to the log.
pub struct Entry {
    /// The decision id (also in the `x-keyward-decision-id` response header).
    pub id: String,
    /// The request as the client sent it.
    pub request: Value,
    pub decision: Decision,
    /// The version of the world that decided.
    pub version: u64,
    /// Time to decide, in microseconds.
    pub latency_us: u64,
    pub time: SystemTime,
    /// About how many bytes the entry holds (the request's size in the body); the queue bound
    /// counts this.
    pub size: usize,
}

/// The sending side of the decision log; cheap to share between handlers.
pub struct DecisionLog {
    sender: Sender<Entry>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    metrics: Arc<Metrics>,
    reopen: Arc<AtomicBool>,
}

/// The writer thread; [`LogWriter::finish`] writes out what is queued and closes the file.
pub struct LogWriter {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

/// Settings of the decision log.
#[derive(Clone, Debug)]
pub struct LogOptions {
    pub mask: Mask,
    /// Bound on the bytes of queued entries.
    pub queue_bytes: usize,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            mask: Mask::Hash,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

impl DecisionLog {
    /// Opens `path` for appending and starts the writer thread.
    pub fn open(
        path: &Path,
        metrics: Arc<Metrics>,
        options: LogOptions,
    ) -> std::io::Result<(DecisionLog, LogWriter)> {
        let file = open_append(path)?;
        let (sender, receiver) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let reopen = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let mut writer = Writer {
            path: path.to_path_buf(),
            file,
            pending: Vec::with_capacity(WRITE_BATCH_BYTES * 2),
            pending_lines: 0,
            pending_size: 0,
            failed: false,
            checked: Instant::now(),
            mask: options.mask,
            queued: queued.clone(),
            metrics: metrics.clone(),
            reopen: reopen.clone(),
        };
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("keyward-decision-log".into())
            .spawn(move || writer.run(receiver, &stopping))?;
        let log = DecisionLog {
            sender,
            queued,
            max_queued: options.queue_bytes,
            metrics,
            reopen,
        };
        Ok((log, LogWriter { thread, stop }))
    }

    /// Queues an entry without waiting; drops it (and counts the drop) when the queued entries
    /// would hold more than the bound.
    pub fn record(&self, entry: Entry) {
        let size = entry.size;
        let before = self.queued.fetch_add(size, Ordering::Relaxed);
        if before + size > self.max_queued || self.sender.send(entry).is_err() {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            self.metrics.count_log_dropped(1);
        }
    }

    /// Asks the writer to reopen the file (SIGUSR1), before its next write.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }
}

impl LogWriter {
    /// Writes out every entry queued so far, flushes and closes the file. Entries recorded
    /// after this are dropped (and counted).
    pub fn finish(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The writer thread's state.
struct Writer {
    path: PathBuf,
    file: File,
    /// Whole lines not yet written.
    pending: Vec<u8>,
    pending_lines: u64,
    /// The queue bytes the pending lines stand for.
    pending_size: usize,
    /// Whether a write failure was reported (reported once until a write succeeds again).
    failed: bool,
    /// When the path was last checked for rotation.
    checked: Instant,
    mask: Mask,
    queued: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
    reopen: Arc<AtomicBool>,
}

impl Writer {
    /// Writes entries as they come and writes out whenever the queue runs dry or a batch is
    /// full, so the file is current within a fraction of a second. Ends when every sender is
    /// gone or `stop` is set, after writing what is queued.
    fn run(&mut self, receiver: Receiver<Entry>, stop: &AtomicBool) {
        loop {
            match receiver.recv_timeout(Duration::from_millis(50)) {
                Ok(e) => {
                    self.add(e);
                    while let Ok(e) = receiver.try_recv() {
                        self.add(e);
                        if self.pending.len() >= WRITE_BATCH_BYTES {
                            self.write_out();
                        }
                    }
                    self.write_out();
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.write_out();
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        while let Ok(e) = receiver.try_recv() {
            self.add(e);
        }
        self.write_out();
    }

    fn add(&mut self, e: Entry) {
        self.pending_size += e.size;
        let line = line(e, self.mask);
        // Serializing a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.pending, &line);
        self.pending.push(b'\n');
        self.pending_lines += 1;
    }

    /// Writes the pending lines in one go; when that fails part way, cuts the file back to
    /// where it was so no partial line stays, and counts every pending line as dropped.
    fn write_out(&mut self) {
        self.follow_rotation();
        if self.pending.is_empty() {
            return;
        }
        let before = self.file.metadata().map(|m| m.len());
        match self.file.write_all(&self.pending) {
            Ok(()) => self.failed = false,
            Err(err) => {
                if let Ok(len) = before {
                    let _ = self.file.set_len(len);
                }
                self.metrics.count_log_dropped(self.pending_lines);
                if !self.failed {
                    tracing::error!(
                        "cannot write the decision log {}: {err}; lines are dropped and counted in keyward_decision_log_dropped_total",
                        self.path.display()
                    );
                    self.failed = true;
                }
            }
        }
        self.queued.fetch_sub(self.pending_size, Ordering::Relaxed);
        self.pending.clear();
        self.pending_lines = 0;
        self.pending_size = 0;
    }

    /// Reopens the file on request (SIGUSR1) or, checked once a second, when the path no longer
    /// names the open file (renamed or removed by a log rotation).
    fn follow_rotation(&mut self) {
        let asked = self.reopen.swap(false, Ordering::AcqRel);
        if !asked {
            if self.checked.elapsed() < Duration::from_secs(1) {
                return;
            }
            self.checked = Instant::now();
            let open = self.file.metadata().ok().map(|m| (m.dev(), m.ino()));
            let named = std::fs::metadata(&self.path)
                .ok()
                .map(|m| (m.dev(), m.ino()));
            if open.is_some() && open == named {
                return;
            }
        }
        match open_append(&self.path) {
            Ok(file) => self.file = file,
            Err(err) => tracing::error!(
                "cannot reopen the decision log {}: {err}; writing on to the open file",
                self.path.display()
            ),
        }
    }
}

/// The JSON line for an entry.
fn line(e: Entry, mask: Mask) -> Value {
    let mut line = e.decision.to_value(None);
    let millis = e
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    line["decision_id"] = e.id.into();
    line["time_ms"] = millis.into();
    line["world_version"] = e.version.into();
    line["latency_us"] = e.latency_us.into();
    let mut request = e.request;
    mask_request(&mut request, mask);
    line["request"] = request;
    line
}

/// Masks the encryption context of a request: the `encryption_context` object and the
/// `kms:EncryptionContext:*` keys of `context`.
pub fn mask_request(request: &mut Value, mask: Mask) {
    let Value::Object(fields) = request else {
        return;
    };
    match mask {
        Mask::None => {}
        Mask::Drop => {
            fields.remove("encryption_context");
            if let Some(Value::Object(context)) = fields.get_mut("context") {
                context.retain(|k, _| !is_context_key(k));
            }
        }
        Mask::Hash => {
            if let Some(Value::Object(ec)) = fields.get_mut("encryption_context") {
                ec.values_mut().for_each(hash_value);
            }
            if let Some(Value::Object(context)) = fields.get_mut("context") {
                for (k, v) in context.iter_mut() {
                    if is_context_key(k) {
                        hash_value(v);
                    }
                }
            }
        }
    }
}

fn is_context_key(key: &str) -> bool {
    key.get(..22)
        .is_some_and(|p| p.eq_ignore_ascii_case("kms:EncryptionContext:"))
}

/// Replaces a value (or each string of a list) by its hash.
fn hash_value(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(hash_value),
        Value::String(s) => *v = Value::String(hash_text(s.as_bytes())),
        other => *other = Value::String(hash_text(other.to_string().as_bytes())),
    }
}

fn hash_text(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::from("sha256:");
    for b in &digest[..8] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Decision ids: a random prefix drawn at start and a counter, so ids are unique within a run
/// and, with overwhelming likelihood, across runs.
pub struct DecisionIds {
    prefix: u64,
    next: AtomicU64,
}

impl DecisionIds {
    /// A new series with a random prefix.
    pub fn new() -> DecisionIds {
        DecisionIds {
            prefix: random_u64(),
            next: AtomicU64::new(1),
        }
    }

    /// The next id, `<16 hex digits>-<counter>`.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}-{n}", self.prefix)
    }
}

impl Default for DecisionIds {
    fn default() -> DecisionIds {
        DecisionIds::new()
    }
}

/// 64 random bits from the kernel, or from the clock and process id when that fails.
fn random_u64() -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok()
    {
        return u64::from_le_bytes(bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_encryption_context_values() {
        let request = json!({
            "principal": "p",
            "encryption_context": {"tenant": "acme", "n": 5},
            "context": {"kms:encryptioncontext:tenant": "acme", "aws:SourceVpce": "vpce-1",
                        "kms:EncryptionContextKeys": ["tenant"]},
        });
        let mut hashed = request.clone();
        mask_request(&mut hashed, Mask::Hash);
        let h = hashed["encryption_context"]["tenant"].as_str().unwrap();
        assert!(h.starts_with("sha256:") && h.len() == 23, "{hashed}");
        assert_ne!(h, "acme");
        assert_eq!(hashed["context"]["kms:encryptioncontext:tenant"], h);
        assert!(hashed["encryption_context"]["n"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(hashed["context"]["aws:SourceVpce"], "vpce-1");
        assert_eq!(
            hashed["context"]["kms:EncryptionContextKeys"],
            json!(["tenant"])
        );

        let mut dropped = request.clone();
        mask_request(&mut dropped, Mask::Drop);
        assert!(dropped.get("encryption_context").is_none());
        assert!(dropped["context"]
            .get("kms:encryptioncontext:tenant")
            .is_none());
        assert_eq!(dropped["context"]["aws:SourceVpce"], "vpce-1");

        let mut kept = request.clone();
        mask_request(&mut kept, Mask::None);
        assert_eq!(kept, request);
    }

    #[test]
    fn decision_ids_are_unique() {
        let ids = DecisionIds::new();
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
        assert_eq!(a.split('-').next().unwrap().len(), 16);
        assert_ne!(DecisionIds::new().next(), a, "a new run draws a new prefix");
    }
}
