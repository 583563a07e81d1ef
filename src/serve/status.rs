//! What the server knows about its world beyond the engine: where the serving world came from,
//! its content hash, how the last reload went, whether a `PUT /v1/world` pins it, and so whether
//! the server is ready (docs/operations.md, "Health and readiness").
//!
//! The version number grows by one each time a different world is swapped in; a reload whose
//! content hashes the same as the serving world's changes nothing and keeps the version.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Where the serving world came from, for `GET /v1/world` and `/health`.
#[derive(Clone, Debug)]
pub struct WorldOrigin {
    /// The version this describes.
    pub version: u64,
    /// The world path, or `PUT /v1/world`.
    pub source: String,
    /// What caused the load: `start`, `put`, `sighup` or `watch`.
    pub trigger: &'static str,
    /// Time to read, parse and compile the world, in milliseconds.
    pub compile_ms: f64,
    /// The content hash of what was loaded (`sha256:` and 16 hex digits).
    pub hash: String,
}

/// One reload attempt, as `/health` and `GET /v1/world` report it.
#[derive(Clone, Debug)]
pub struct ReloadRecord {
    pub time: SystemTime,
    /// `put`, `sighup` or `watch`.
    pub trigger: &'static str,
    /// The world path, or `PUT /v1/world`.
    pub source: String,
    /// `applied`, `unchanged` (same content hash), `pinned` (a file change ignored because a
    /// PUT pins the world and the file's content is what it was then) or `rejected`.
    pub outcome: &'static str,
    /// Why it was rejected.
    pub error: Option<String>,
}

/// The server's reload state; one per server, behind a mutex (touched only by reloads and by
/// the health routes, never by checks).
#[derive(Debug)]
pub struct Status {
    pub origin: WorldOrigin,
    /// The last reload attempt, whatever its outcome.
    pub last: Option<ReloadRecord>,
    /// The last rejected reload, kept after later successes.
    pub last_error: Option<ReloadRecord>,
    /// Since when reloads from the world path have been failing (cleared by any applied or
    /// unchanged reload).
    pub failing_since: Option<(Instant, SystemTime)>,
    /// Set while a `PUT /v1/world` pins the world: the fingerprint the world path had then.
    /// A watched change keeps the PUT world while the path still has this fingerprint.
    pub pinned_to: Option<String>,
    /// The `*.json` files of a world directory at its last load (empty for a world file).
    pub files: Vec<PathBuf>,
    /// When the serving world was last loaded or confirmed (start, or a reload that did not
    /// fail), for the reload-age gauge.
    pub confirmed: Instant,
}

impl Status {
    /// The state of a server that just loaded `origin`.
    pub fn new(origin: WorldOrigin, files: Vec<PathBuf>) -> Status {
        Status {
            origin,
            last: None,
            last_error: None,
            failing_since: None,
            pinned_to: None,
            files,
            confirmed: Instant::now(),
        }
    }

    /// Whether the server is ready: reloads from the world path are not failing, or have been
    /// failing for less than `grace`.
    pub fn ready(&self, grace: Duration) -> bool {
        match self.failing_since {
            None => true,
            Some((since, _)) => !grace.is_zero() && since.elapsed() < grace,
        }
    }

    /// Records a reload attempt.
    pub fn record(&mut self, record: ReloadRecord, from_path: bool) {
        if record.outcome == "rejected" {
            if from_path && self.failing_since.is_none() {
                self.failing_since = Some((Instant::now(), record.time));
            }
            self.last_error = Some(record.clone());
        } else {
            self.confirmed = Instant::now();
            if record.outcome != "pinned" {
                self.failing_since = None;
            }
        }
        self.last = Some(record);
    }
}

/// What the world path holds now: its content hash and, for a directory, its `*.json` files.
#[derive(Debug)]
pub struct Fingerprint {
    /// `sha256:` and 16 hex digits over the files' names and bytes, or an `unreadable: ...`
    /// description when they cannot be read.
    pub hash: String,
    /// The `*.json` files of a directory, sorted (empty for a file).
    pub files: Vec<PathBuf>,
}

/// Reads the world path (a file or a directory of `*.json` files) and hashes what it holds.
pub fn fingerprint(path: &Path) -> Fingerprint {
    let mut hasher = Sha256::new();
    let mut files = Vec::new();
    let read = (|| -> std::io::Result<()> {
        if std::fs::metadata(path)?.is_dir() {
            for entry in std::fs::read_dir(path)? {
                let p = entry?.path();
                if p.extension().is_some_and(|e| e == "json") {
                    files.push(p);
                }
            }
            files.sort();
            for f in &files {
                let bytes = std::fs::read(f)?;
                let name = f.file_name().unwrap_or_default().as_encoded_bytes();
                hasher.update((name.len() as u64).to_le_bytes());
                hasher.update(name);
                hasher.update((bytes.len() as u64).to_le_bytes());
                hasher.update(&bytes);
            }
        } else {
            hasher.update(std::fs::read(path)?);
        }
        Ok(())
    })();
    match read {
        Ok(()) => Fingerprint {
            hash: hex16(&hasher.finalize()),
            files,
        },
        Err(e) => Fingerprint {
            hash: format!("unreadable: {e}"),
            files,
        },
    }
}

/// The content hash of a world sent in a body.
pub fn hash_bytes(bytes: &[u8]) -> String {
    hex16(&Sha256::digest(bytes))
}

fn hex16(digest: &[u8]) -> String {
    let mut out = String::with_capacity(23);
    out.push_str("sha256:");
    for b in &digest[..8] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Rounds a millisecond figure to hundredths, so answers carry no float noise.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: &'static str) -> ReloadRecord {
        ReloadRecord {
            time: SystemTime::now(),
            trigger: "watch",
            source: "w.json".into(),
            outcome,
            error: (outcome == "rejected").then(|| "bad".to_owned()),
        }
    }

    #[test]
    fn readiness_follows_reloads_from_the_world_path() {
        let origin = WorldOrigin {
            version: 1,
            source: "w.json".into(),
            trigger: "start",
            compile_ms: 1.0,
            hash: hash_bytes(b"{}"),
        };
        let mut s = Status::new(origin, vec![]);
        assert!(s.ready(Duration::ZERO));
        // A rejected PUT is answered to its caller and does not unready the server.
        s.record(record("rejected"), false);
        assert!(s.ready(Duration::ZERO));
        s.record(record("rejected"), true);
        assert!(!s.ready(Duration::ZERO));
        assert!(s.ready(Duration::from_secs(3600)), "within the grace");
        s.record(record("pinned"), true);
        assert!(!s.ready(Duration::ZERO));
        s.record(record("applied"), true);
        assert!(s.ready(Duration::ZERO));
        assert_eq!(s.last_error.as_ref().unwrap().outcome, "rejected");
    }

    #[test]
    fn fingerprints_change_with_content_and_name_vanished_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        std::fs::write(dir.path().join("b.json"), "{}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let one = fingerprint(dir.path());
        assert!(
            one.hash.starts_with("sha256:") && one.hash.len() == 23,
            "{one:?}"
        );
        assert_eq!(one.files.len(), 2);
        assert_eq!(fingerprint(dir.path()).hash, one.hash);
        std::fs::write(dir.path().join("notes.txt"), "y").unwrap();
        assert_eq!(fingerprint(dir.path()).hash, one.hash, "only *.json counts");
        std::fs::write(dir.path().join("b.json"), "{ }").unwrap();
        assert_ne!(fingerprint(dir.path()).hash, one.hash);
        let gone = fingerprint(&dir.path().join("missing.json"));
        assert!(gone.hash.starts_with("unreadable"), "{gone:?}");
        assert_eq!(round_ms(12.345_678), 12.35);
    }
}
