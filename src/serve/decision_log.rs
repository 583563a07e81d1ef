//! The decision log (`--decision-log FILE`): one JSON line per decision with the request, the
//! decision and its reasons, the world version and the time the check took.
//!
//! Checks never wait for it: an entry is handed to a writer thread over a bounded channel, and
//! when the writer falls behind the entry is dropped and counted
//! (`keyward_decision_log_dropped_total`) rather than slowing a check down. The writer turns
//! entries into JSON, so the check path only moves values it already has.

use super::metrics::Metrics;
use crate::decision::Decision;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Entries that may wait for the writer before new ones are dropped.
const QUEUE: usize = 65_536;

/// One decided request, on its way to the log.
pub struct Entry {
    /// The request as the client sent it.
    pub request: Value,
    pub decision: Decision,
    /// The version of the world that decided.
    pub version: u64,
    /// Time to decide, in microseconds.
    pub latency_us: u64,
    pub time: SystemTime,
}

/// The sending side of the decision log; cheap to share between handlers.
pub struct DecisionLog {
    sender: SyncSender<Entry>,
    metrics: Arc<Metrics>,
}

/// The writer thread; [`LogWriter::finish`] writes out what is queued and closes the file.
pub struct LogWriter {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl DecisionLog {
    /// Opens `path` for appending and starts the writer thread.
    pub fn open(path: &Path, metrics: Arc<Metrics>) -> std::io::Result<(DecisionLog, LogWriter)> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("keyward-decision-log".into())
            .spawn(move || write_entries(receiver, file, &stopping))?;
        Ok((DecisionLog { sender, metrics }, LogWriter { thread, stop }))
    }

    /// Queues an entry without waiting; drops it (and counts the drop) when the queue is full.
    pub fn record(&self, entry: Entry) {
        match self.sender.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.count_log_dropped()
            }
        }
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

/// The writer loop: writes entries as they come and flushes whenever the queue runs dry, so the
/// file is current within a fraction of a second without a flush per line. Ends when every
/// sender is gone or `stop` is set, after writing what is queued.
fn write_entries(receiver: Receiver<Entry>, file: File, stop: &AtomicBool) {
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut failed = false;
    loop {
        let entry = match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => {
                flush(&mut out, &mut failed);
                if stop.load(Ordering::Acquire) {
                    break;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        write_line(&mut out, entry, &mut failed);
        while let Ok(e) = receiver.try_recv() {
            write_line(&mut out, e, &mut failed);
        }
        flush(&mut out, &mut failed);
    }
    flush(&mut out, &mut failed);
}

fn write_line(out: &mut BufWriter<File>, e: Entry, failed: &mut bool) {
    let mut line = e.decision.to_value(None);
    let millis = e
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    line["time_ms"] = millis.into();
    line["world_version"] = e.version.into();
    line["latency_us"] = e.latency_us.into();
    line["request"] = e.request;
    let result = serde_json::to_writer(&mut *out, &line)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"));
    if let Err(err) = result {
        report(failed, &err.to_string());
    }
}

fn flush(out: &mut BufWriter<File>, failed: &mut bool) {
    if let Err(err) = out.flush() {
        report(failed, &err.to_string());
    }
}

/// Reports the first write failure (a full disk would otherwise print once per decision).
fn report(failed: &mut bool, message: &str) {
    if !*failed {
        eprintln!("keyward serve: cannot write the decision log: {message}");
        *failed = true;
    }
}
