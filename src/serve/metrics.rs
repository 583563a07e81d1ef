//! The server's counters and latency histograms, rendered by hand in the Prometheus text format
//! (version 0.0.4) for `GET /metrics`. Every counter is a relaxed atomic: recording costs a few
//! uncontended adds on the check path and never takes a lock.

use crate::decision::Outcome;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds: from 1 µs (a check) to 1 s.
const BUCKETS: [f64; 16] = [
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.1,
    0.5,
    1.0,
];

/// The routes whose handling time is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/authorize`.
    Authorize,
    /// `POST /v1/authorize/batch`.
    Batch,
}

/// Why a request was answered with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed JSON, a wrong field type, an unreadable body (400).
    BadRequest,
    /// The body was over the size limit (413).
    TooLarge,
    /// An admin route without the right bearer token (401).
    Unauthorized,
    /// A failure inside keyward; the check was answered with a deny.
    Internal,
}

/// What triggered a world reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `PUT /v1/world`.
    Put,
    /// SIGHUP.
    Sighup,
    /// A change to the world file or directory.
    Watch,
    /// A new bundle from `--bundle` (docs/bundles.md).
    Bundle,
}

impl Trigger {
    /// The trigger's label value and log word.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Put => "put",
            Trigger::Sighup => "sighup",
            Trigger::Watch => "watch",
            Trigger::Bundle => "bundle",
        }
    }
}

/// A cumulative latency histogram with fixed buckets.
#[derive(Default)]
struct Histogram {
    /// Count of observations in each bucket (not cumulative), plus one for `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count.load(Relaxed));
    }
}

/// Everything `GET /metrics` reports.
#[derive(Default)]
pub struct Metrics {
    /// Decisions by outcome: Allow, ExplicitDeny, ImplicitDeny.
    checks: [AtomicU64; 3],
    /// Checks answered with a deny because keyward failed inside.
    checks_failed_closed: AtomicU64,
    /// Errors by [`ErrorKind`].
    errors: [AtomicU64; 4],
    /// Handling time of `POST /v1/authorize` and `POST /v1/authorize/batch`.
    latency: [Histogram; 2],
    /// Reloads by trigger (put, sighup, watch, bundle) and result (ok, failed).
    reloads: [[AtomicU64; 2]; 4],
    /// Decision-log lines lost: the writer fell behind or the file could not be written.
    log_dropped: AtomicU64,
    /// Connections closed at once because the connection limit was reached.
    connections_rejected: AtomicU64,
}

impl Metrics {
    /// Counts one decision.
    pub fn count_check(&self, outcome: Outcome) {
        self.checks[outcome_index(outcome)].fetch_add(1, Relaxed);
    }

    /// Counts the decisions of a batch at once: `counts` is Allow, ExplicitDeny, ImplicitDeny
    /// (one atomic add per outcome per batch, not per decision).
    pub fn count_checks(&self, counts: [u64; 3]) {
        for (counter, n) in self.checks.iter().zip(counts) {
            if n > 0 {
                counter.fetch_add(n, Relaxed);
            }
        }
    }

    /// Counts a check answered with a deny because of an internal failure.
    pub fn count_failed_closed(&self) {
        self.checks_failed_closed.fetch_add(1, Relaxed);
    }

    /// Counts an error answer.
    pub fn count_error(&self, kind: ErrorKind) {
        self.errors[kind as usize].fetch_add(1, Relaxed);
    }

    /// Records how long a route took to answer.
    pub fn observe(&self, route: Route, d: Duration) {
        self.latency[route as usize].observe(d);
    }

    /// Counts a reload attempt.
    pub fn count_reload(&self, trigger: Trigger, ok: bool) {
        self.reloads[trigger as usize][usize::from(!ok)].fetch_add(1, Relaxed);
    }

    /// Counts `n` decision-log lines that were lost (queue full or write failed).
    pub fn count_log_dropped(&self, n: u64) {
        self.log_dropped.fetch_add(n, Relaxed);
    }

    /// Counts a connection closed because the limit was reached.
    pub fn count_connection_rejected(&self) {
        self.connections_rejected.fetch_add(1, Relaxed);
    }

    /// Failed reloads so far, over every trigger.
    pub fn reloads_failed(&self) -> u64 {
        self.reloads.iter().map(|r| r[1].load(Relaxed)).sum()
    }

    /// The metrics in the Prometheus text format; `world` is the serving world's version, load
    /// time (seconds since the epoch) and object counts.
    pub fn render(&self, world: &WorldGauges) -> String {
        let mut out = String::with_capacity(4096);
        let o = &mut out;
        header(
            o,
            "keyward_checks_total",
            "counter",
            "Authorization decisions made, by outcome.",
        );
        for (i, outcome) in ["Allow", "ExplicitDeny", "ImplicitDeny"].iter().enumerate() {
            let _ = writeln!(
                o,
                "keyward_checks_total{{decision=\"{outcome}\"}} {}",
                self.checks[i].load(Relaxed)
            );
        }
        header(
            o,
            "keyward_checks_failed_closed_total",
            "counter",
            "Checks answered with a deny because keyward failed inside.",
        );
        let _ = writeln!(
            o,
            "keyward_checks_failed_closed_total {}",
            self.checks_failed_closed.load(Relaxed)
        );
        header(
            o,
            "keyward_errors_total",
            "counter",
            "Requests answered with an error, by kind.",
        );
        for (i, kind) in ["bad_request", "too_large", "unauthorized", "internal"]
            .iter()
            .enumerate()
        {
            let _ = writeln!(
                o,
                "keyward_errors_total{{kind=\"{kind}\"}} {}",
                self.errors[i].load(Relaxed)
            );
        }
        header(
            o,
            "keyward_request_duration_seconds",
            "histogram",
            "Time to answer an authorization request, from body read to response built.",
        );
        self.latency[Route::Authorize as usize].render(
            o,
            "keyward_request_duration_seconds",
            "route=\"authorize\"",
        );
        self.latency[Route::Batch as usize].render(
            o,
            "keyward_request_duration_seconds",
            "route=\"batch\"",
        );
        header(
            o,
            "keyward_reloads_total",
            "counter",
            "World reloads, by trigger and result.",
        );
        for trigger in [
            Trigger::Put,
            Trigger::Sighup,
            Trigger::Watch,
            Trigger::Bundle,
        ] {
            for (j, result) in ["ok", "failed"].iter().enumerate() {
                let n = self.reloads[trigger as usize][j].load(Relaxed);
                let _ = writeln!(
                    o,
                    "keyward_reloads_total{{trigger=\"{}\",result=\"{result}\"}} {n}",
                    trigger.as_str()
                );
            }
        }
        header(
            o,
            "keyward_decision_log_dropped_total",
            "counter",
            "Decision-log lines lost: the queue was full or the file could not be written.",
        );
        let _ = writeln!(
            o,
            "keyward_decision_log_dropped_total {}",
            self.log_dropped.load(Relaxed)
        );
        header(
            o,
            "keyward_connections_rejected_total",
            "counter",
            "Connections closed at once because --max-connections were open.",
        );
        let _ = writeln!(
            o,
            "keyward_connections_rejected_total {}",
            self.connections_rejected.load(Relaxed)
        );
        header(
            o,
            "keyward_world_version",
            "gauge",
            "Version of the world serving now (1 at start, +1 per reload).",
        );
        let _ = writeln!(o, "keyward_world_version {}", world.version);
        header(
            o,
            "keyward_world_loaded_timestamp_seconds",
            "gauge",
            "When the serving world was compiled, in seconds since the Unix epoch.",
        );
        let _ = writeln!(
            o,
            "keyward_world_loaded_timestamp_seconds {}",
            world.loaded_at
        );
        header(
            o,
            "keyward_world_objects",
            "gauge",
            "Objects in the serving world, by kind.",
        );
        for (kind, n) in &world.counts {
            let _ = writeln!(o, "keyward_world_objects{{kind=\"{kind}\"}} {n}");
        }
        header(
            o,
            "keyward_world_reload_age_seconds",
            "gauge",
            "Seconds since the world was last loaded or confirmed from its source (start or a reload that did not fail).",
        );
        let _ = writeln!(
            o,
            "keyward_world_reload_age_seconds {:.3}",
            world.age_seconds
        );
        header(
            o,
            "keyward_ready",
            "gauge",
            "1 when GET /ready answers 200, 0 while reloads from the world path fail.",
        );
        let _ = writeln!(o, "keyward_ready {}", u8::from(world.ready));
        header(
            o,
            "keyward_build_info",
            "gauge",
            "Always 1; the labels name the keyward build.",
        );
        let _ = writeln!(
            o,
            "keyward_build_info{{version=\"{}\",rust_version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_RUST_VERSION")
        );
        render_process(o);
        out
    }
}

/// The position of an outcome in [`Metrics::count_checks`]' array.
pub fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Allow => 0,
        Outcome::ExplicitDeny => 1,
        Outcome::ImplicitDeny => 2,
    }
}

/// The serving world as `/metrics` shows it.
pub struct WorldGauges {
    pub version: u64,
    /// When it was compiled, in seconds since the Unix epoch.
    pub loaded_at: f64,
    pub counts: Vec<(&'static str, usize)>,
    /// Seconds since the last reload that applied or confirmed the world (or since start).
    pub age_seconds: f64,
    /// Whether `/ready` answers 200.
    pub ready: bool,
}

/// When the process started serving, in seconds since the Unix epoch; set by [`mark_start`].
static STARTED: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

/// Records the process start time for `process_start_time_seconds` (first call wins).
pub fn mark_start() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let _ = STARTED.set(now);
}

/// The process figures Prometheus clients usually export, read from `/proc/self` (Linux);
/// a figure that cannot be read is left out.
fn render_process(o: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // SAFETY: sysconf only reads its integer argument.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after the command name.
    if let (Some(u), Some(s), true) = (fields.get(11), fields.get(12), ticks > 0) {
        if let (Ok(u), Ok(s)) = (u.parse::<f64>(), s.parse::<f64>()) {
            header(
                o,
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent, in seconds.",
            );
            let _ = writeln!(o, "process_cpu_seconds_total {}", (u + s) / ticks as f64);
        }
    }
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    // SAFETY: sysconf only reads its integer argument.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if let Some(Ok(pages)) = statm.split_whitespace().nth(1).map(str::parse::<u64>) {
        header(
            o,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size, in bytes.",
        );
        let _ = writeln!(
            o,
            "process_resident_memory_bytes {}",
            pages * page.max(0) as u64
        );
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        header(o, "process_open_fds", "gauge", "Open file descriptors.");
        let _ = writeln!(o, "process_open_fds {}", dir.count());
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        header(
            o,
            "process_max_fds",
            "gauge",
            "The limit on open file descriptors.",
        );
        let _ = writeln!(o, "process_max_fds {}", limit.rlim_cur);
    }
    if let Some(started) = STARTED.get() {
        header(
            o,
            "process_start_time_seconds",
            "gauge",
            "When the process started, in seconds since the Unix epoch.",
        );
        let _ = writeln!(o, "process_start_time_seconds {started}");
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_everything() {
        let m = Metrics::default();
        m.observe(Route::Authorize, Duration::from_nanos(800));
        m.observe(Route::Authorize, Duration::from_micros(30));
        m.observe(Route::Authorize, Duration::from_secs(3));
        let text = m.render(&WorldGauges {
            version: 7,
            loaded_at: 1.5,
            counts: vec![("keys", 2)],
            age_seconds: 4.0,
            ready: false,
        });
        assert!(
            text.contains("keyward_world_reload_age_seconds 4.000\n"),
            "{text}"
        );
        assert!(text.contains("keyward_ready 0\n"));
        assert!(text.contains("keyward_build_info{version=\""));
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_open_fds "));
        assert!(text.contains(
            "keyward_request_duration_seconds_bucket{route=\"authorize\",le=\"0.000001\"} 1\n"
        ));
        assert!(text.contains(
            "keyward_request_duration_seconds_bucket{route=\"authorize\",le=\"0.00005\"} 2\n"
        ));
        assert!(text
            .contains("keyward_request_duration_seconds_bucket{route=\"authorize\",le=\"1\"} 2\n"));
        assert!(text.contains(
            "keyward_request_duration_seconds_bucket{route=\"authorize\",le=\"+Inf\"} 3\n"
        ));
        assert!(text.contains("keyward_request_duration_seconds_count{route=\"authorize\"} 3\n"));
        assert!(text.contains("keyward_world_version 7\n"));
        assert!(text.contains("keyward_world_objects{kind=\"keys\"} 2\n"));
    }

    #[test]
    fn reloads_are_counted_by_trigger_and_result() {
        let m = Metrics::default();
        m.count_reload(Trigger::Sighup, true);
        m.count_reload(Trigger::Put, false);
        m.count_reload(Trigger::Put, false);
        let text = m.render(&WorldGauges {
            version: 1,
            loaded_at: 0.0,
            counts: vec![],
            age_seconds: 0.0,
            ready: true,
        });
        assert!(text.contains("keyward_reloads_total{trigger=\"sighup\",result=\"ok\"} 1\n"));
        assert!(text.contains("keyward_reloads_total{trigger=\"put\",result=\"failed\"} 2\n"));
        assert_eq!(m.reloads_failed(), 2);
    }
}
