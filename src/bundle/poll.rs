//! `keyward serve --bundle URL`: polls a bundle server and swaps each new bundle in through the
//! same path as every reload (docs/bundles.md, "Serving from a bundle").
//!
//! Each poll sends `If-None-Match` with the `ETag` of the last bundle it processed; `304 Not
//! Modified` ends the poll. A new bundle is downloaded up to a size cap, unpacked and checked
//! in memory ([`super::archive::unpack`]), loaded and swapped in. Whatever goes wrong (the
//! server down, an HTTP error, a bad signature, a world that does not load), the world serving
//! keeps serving and the failure is reported in `/health`, `GET /v1/world` and the metrics.

use super::archive::{self, Limits};
use crate::serve::metrics::Trigger;
use crate::serve::reload::{self, Source};
use crate::serve::Shared;
use ed25519_dalek::VerifyingKey;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// How the server polls its bundle.
#[derive(Clone, Debug)]
pub struct Options {
    /// The bundle's URL (`http://` or `https://`).
    pub url: String,
    /// Time between polls (each one moved by up to a tenth either way, so a fleet spreads out).
    pub interval: Duration,
    /// When set, every bundle must carry an Ed25519 signature by this key.
    pub public_key: Option<VerifyingKey>,
    /// Bounds on the download and on unpacking.
    pub limits: Limits,
    /// Longest time one download may take.
    pub timeout: Duration,
}

/// The results a poll can have, as the `result` label of `keyward_bundle_polls_total`.
pub const RESULTS: [&str; 6] = [
    "loaded",
    "unchanged",
    "not_modified",
    "rejected",
    "http_error",
    "unreachable",
];

/// What the server knows about its bundle; one per server.
#[derive(Debug, Default)]
pub struct State {
    /// The revision of the bundle serving (none yet: `None`).
    pub revision: Option<String>,
    /// The `ETag` it was served with.
    pub etag: Option<String>,
    /// Its content hash.
    pub hash: Option<String>,
    /// How its signature was checked (`ed25519-verified`, ...).
    pub signature: Option<&'static str>,
    /// When it was swapped in or confirmed.
    pub loaded_at: Option<SystemTime>,
    /// The `ETag` of the last bundle processed, good or bad, sent as `If-None-Match`.
    seen_etag: Option<String>,
    /// When the last poll ended, and its result (one of [`RESULTS`]).
    pub last_poll: Option<(SystemTime, &'static str)>,
    /// The last failed poll: when, and why.
    pub last_error: Option<(SystemTime, String)>,
    /// Whether the last poll failed (the error is in `last_error`).
    pub failing: bool,
    /// Polls by result, in the order of [`RESULTS`].
    pub polls: [u64; 6],
}

/// The bundle poller's shared state: its options, what it knows, and a way to poll now.
pub struct Tracker {
    pub options: Options,
    /// Whether a world was given as well (`--world`): then the server is ready before the
    /// first bundle loads.
    pub has_fallback: bool,
    state: Mutex<State>,
    /// Wakes the poller before its interval is up (SIGHUP).
    pub poll_now: Notify,
}

impl Tracker {
    pub fn new(options: Options, has_fallback: bool) -> Tracker {
        Tracker {
            options,
            has_fallback,
            state: Mutex::new(State::default()),
            poll_now: Notify::new(),
        }
    }

    /// The state (readable even after a panic elsewhere while it was held).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ready to serve: a bundle has loaded, or a world was given to start with.
    pub fn ready(&self) -> bool {
        self.has_fallback || self.state().revision.is_some()
    }

    /// The bundle's status for `/health` and `GET /v1/world`.
    pub fn to_json(&self) -> Value {
        let st = self.state();
        json!({
            "url": self.options.url,
            "poll_seconds": self.options.interval.as_secs_f64(),
            "revision": st.revision,
            "etag": st.etag,
            "hash": st.hash,
            "signature": st.signature,
            "loaded_at": st.loaded_at.map(rfc3339),
            "last_poll": st.last_poll.map(|(t, _)| rfc3339(t)),
            "last_result": st.last_poll.map(|(_, r)| r),
            "failing": st.failing,
            "last_error": st.last_error.as_ref().map(|(t, e)| json!({"time": rfc3339(*t), "error": e})),
        })
    }

    /// The bundle metrics in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let st = self.state();
        let _ = writeln!(
            out,
            "# HELP keyward_bundle_polls_total Bundle polls, by result.\n# TYPE keyward_bundle_polls_total counter"
        );
        for (result, n) in RESULTS.iter().zip(st.polls) {
            let _ = writeln!(out, "keyward_bundle_polls_total{{result=\"{result}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP keyward_bundle_info Always 1; the labels name the bundle serving.\n# TYPE keyward_bundle_info gauge"
        );
        let _ = writeln!(
            out,
            "keyward_bundle_info{{revision=\"{}\",etag=\"{}\",hash=\"{}\"}} 1",
            label(st.revision.as_deref()),
            label(st.etag.as_deref()),
            label(st.hash.as_deref())
        );
        let _ = writeln!(
            out,
            "# HELP keyward_bundle_last_poll_timestamp_seconds When the last bundle poll ended, in seconds since the Unix epoch.\n# TYPE keyward_bundle_last_poll_timestamp_seconds gauge"
        );
        let _ = writeln!(
            out,
            "keyward_bundle_last_poll_timestamp_seconds {}",
            st.last_poll.map_or(0.0, |(t, _)| unix_seconds(t))
        );
        let _ = writeln!(
            out,
            "# HELP keyward_bundle_loaded_timestamp_seconds When the bundle serving was loaded or last confirmed, in seconds since the Unix epoch.\n# TYPE keyward_bundle_loaded_timestamp_seconds gauge"
        );
        let _ = writeln!(
            out,
            "keyward_bundle_loaded_timestamp_seconds {}",
            st.loaded_at.map_or(0.0, unix_seconds)
        );
        let _ = writeln!(
            out,
            "# HELP keyward_bundle_failing 1 while the last bundle poll failed (the world serving is kept).\n# TYPE keyward_bundle_failing gauge"
        );
        let _ = writeln!(out, "keyward_bundle_failing {}", u8::from(st.failing));
    }

    fn finish(&self, result: &'static str, error: Option<String>) {
        let now = SystemTime::now();
        let mut st = self.state();
        st.last_poll = Some((now, result));
        if let Some(i) = RESULTS.iter().position(|r| *r == result) {
            st.polls[i] += 1;
        }
        st.failing = error.is_some();
        if let Some(e) = error {
            st.last_error = Some((now, e));
        }
    }
}

/// A Prometheus label value: quotes, backslashes and newlines escaped.
fn label(v: Option<&str>) -> String {
    v.unwrap_or("")
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What one download brought.
enum Fetched {
    /// `304 Not Modified`.
    NotModified,
    /// A bundle and its `ETag`.
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
}

/// Why a download failed: the poll result and the message.
struct FetchError(&'static str, String);

/// Downloads the bundle (blocking), sending `If-None-Match: etag` when given.
fn fetch(
    agent: &ureq::Agent,
    options: &Options,
    etag: Option<&str>,
) -> Result<Fetched, FetchError> {
    let mut request = agent.get(&options.url);
    if let Some(tag) = etag {
        request = request.set("If-None-Match", tag);
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            return Err(FetchError(
                "http_error",
                format!("GET {} answered {code} {}", options.url, r.status_text()),
            ))
        }
        Err(e) => {
            return Err(FetchError(
                "unreachable",
                format!("GET {} failed: {e}", options.url),
            ))
        }
    };
    if response.status() == 304 {
        return Ok(Fetched::NotModified);
    }
    if response.status() != 200 {
        return Err(FetchError(
            "http_error",
            format!(
                "GET {} answered {} {}, not 200",
                options.url,
                response.status(),
                response.status_text()
            ),
        ));
    }
    let cap = options.limits.max_archive_bytes;
    if let Some(len) = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        if len > cap as u64 {
            return Err(FetchError(
                "rejected",
                format!("the bundle is {len} bytes, over the limit of {cap}"),
            ));
        }
    }
    let etag = response.header("ETag").map(str::to_owned);
    let mut bytes = Vec::new();
    response
        .into_reader()
        .take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            FetchError(
                "unreachable",
                format!("reading {} failed: {e}", options.url),
            )
        })?;
    if bytes.len() > cap {
        return Err(FetchError(
            "rejected",
            format!("the bundle is over the limit of {cap} bytes"),
        ));
    }
    Ok(Fetched::Body { bytes, etag })
}

/// Polls once: download, check, load and swap in; records the result.
pub async fn poll_once(shared: &Arc<Shared>, tracker: &Arc<Tracker>, agent: &ureq::Agent) {
    let url = tracker.options.url.clone();
    let seen = tracker.state().seen_etag.clone();
    let fetched = {
        let (agent, options) = (agent.clone(), tracker.options.clone());
        tokio::task::spawn_blocking(move || fetch(&agent, &options, seen.as_deref())).await
    };
    let (bytes, etag) = match fetched {
        Ok(Ok(Fetched::NotModified)) => {
            // The same bundle as last time: the one serving (confirmed), or the bad one that
            // was refused (still refused).
            let mut st = tracker.state();
            let error = if st.etag == st.seen_etag {
                st.loaded_at = Some(SystemTime::now());
                None
            } else {
                Some(
                    st.last_error
                        .as_ref()
                        .map_or_else(String::new, |(_, e)| e.clone()),
                )
            };
            drop(st);
            tracker.finish("not_modified", error);
            return;
        }
        Ok(Ok(Fetched::Body { bytes, etag })) => (bytes, etag),
        Ok(Err(FetchError(result, message))) => {
            tracing::warn!(result, "bundle poll: {message}; the world serving is kept");
            tracker.finish(result, Some(message));
            return;
        }
        Err(join) => {
            let message = format!("the bundle download failed inside keyward: {join}");
            tracing::error!("{message}");
            tracker.finish("unreachable", Some(message));
            return;
        }
    };
    let unpacked = {
        let (limits, key, source) = (
            tracker.options.limits,
            tracker.options.public_key,
            url.clone(),
        );
        tokio::task::spawn_blocking(move || archive::unpack(&bytes, &limits, key.as_ref(), &source))
            .await
            .map_err(|e| format!("unpacking the bundle failed inside keyward: {e}"))
            .and_then(|r| r.map_err(|e| e.to_string()))
    };
    let bundle = match unpacked {
        Ok(b) => b,
        Err(message) => {
            tracing::error!("bundle refused: {message}; the world serving is kept");
            tracker.state().seen_etag = etag;
            tracker.finish("rejected", Some(message));
            return;
        }
    };
    let revision = bundle.manifest.revision.clone();
    let source = Source::Bundle {
        files: bundle.files,
        hash: bundle.hash.clone(),
        label: format!("bundle {url} (revision {revision})"),
    };
    match reload::reload(shared, source, Trigger::Bundle).await {
        Ok(done) => {
            {
                let mut st = tracker.state();
                st.revision = Some(revision.clone());
                st.etag = etag.clone();
                st.seen_etag = etag;
                st.hash = Some(bundle.hash);
                st.signature = Some(bundle.trust.as_str());
                st.loaded_at = Some(SystemTime::now());
            }
            let result = if done.outcome == "applied" {
                "loaded"
            } else {
                "unchanged"
            };
            tracing::info!(
                revision = %revision,
                "bundle revision {revision} {result}; world version {}",
                done.version
            );
            tracker.finish(result, None);
        }
        Err(e) => {
            tracker.state().seen_etag = etag;
            let message = format!("{url}: the world does not load:\n{}", e.text());
            tracker.finish("rejected", Some(message));
        }
    }
}

/// Polls now and then every interval (jittered), or at once on [`Tracker::poll_now`], until
/// the task is aborted.
pub fn spawn(shared: Arc<Shared>, tracker: Arc<Tracker>) -> tokio::task::JoinHandle<()> {
    let agent = ureq::AgentBuilder::new()
        .timeout(tracker.options.timeout)
        .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
        .build();
    tokio::spawn(async move {
        let mut jitter = Jitter::new();
        loop {
            poll_once(&shared, &tracker, &agent).await;
            let wait = jitter.spread(tracker.options.interval);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = tracker.poll_now.notified() => {}
            }
        }
    })
}

/// Spreads poll times by up to a tenth of the interval either way, so sidecars started
/// together do not poll together.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Jitter(h.finish() | 1)
    }

    fn spread(&mut self, interval: Duration) -> Duration {
        // xorshift64: plenty for spreading timers.
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64; // in [0, 1)
        interval.mul_f64(0.9 + 0.2 * unit)
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn rfc3339(t: SystemTime) -> String {
    let t = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_tenth() {
        let mut j = Jitter::new();
        let base = Duration::from_secs(30);
        let waits: Vec<Duration> = (0..1000).map(|_| j.spread(base)).collect();
        assert!(waits
            .iter()
            .all(|w| *w >= base.mul_f64(0.9) && *w <= base.mul_f64(1.1)));
        assert!(waits.iter().any(|w| *w < base) && waits.iter().any(|w| *w > base));
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label(Some("a\"b\\c\nd")), "a\\\"b\\\\c\\nd");
        assert_eq!(label(None), "");
    }
}
