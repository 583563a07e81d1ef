//! Replacing the serving world: from a `PUT /v1/world` body, or from the world path on SIGHUP
//! and when its files change.
//!
//! Every reload reads, validates and compiles the new world on a blocking thread, away from the
//! request path, then swaps it in atomically. A world that does not load is rejected whole:
//! its errors are logged and counted, and the old world keeps serving. Reloads run one at a
//! time, in the order they were asked for.

use super::metrics::Trigger;
use super::status::{self, ReloadRecord, WorldOrigin};
use super::Shared;
use crate::engine::Engine;
use crate::policy::{Finding, Severity};
use crate::world::{LoadError, World};
use axum::body::Bytes;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Where a new world comes from.
pub enum Source {
    /// The world path given at start (a file or a directory).
    Path,
    /// A request body holding a world (docs/formats.md).
    Body(Bytes),
    /// The world files of a bundle, checked and unpacked (docs/bundles.md), with their content
    /// hash and how the reload names them.
    Bundle {
        files: Vec<(String, String)>,
        hash: String,
        label: String,
    },
}

/// The outcome of a reload that did not fail.
#[derive(Clone, Debug)]
pub struct Reloaded {
    /// The version serving after it.
    pub version: u64,
    /// Time to read, parse and compile it, in milliseconds (rounded).
    pub compile_ms: f64,
    /// Warnings found while loading it.
    pub warnings: Vec<String>,
    /// The content hash of the serving world.
    pub hash: String,
    /// `applied`, `unchanged` or `pinned` (see [`ReloadRecord::outcome`]).
    pub outcome: &'static str,
}

/// Why a reload was rejected.
#[derive(Debug)]
pub enum ReloadError {
    /// The world does not load; the errors name their places.
    Invalid(LoadError),
    /// Loading failed inside keyward.
    Internal(String),
}

impl ReloadError {
    /// The errors as one text.
    pub fn text(&self) -> String {
        match self {
            ReloadError::Invalid(e) => e.to_string(),
            ReloadError::Internal(m) => m.clone(),
        }
    }
}

/// How much lower than the request threads a reload runs by default (a Linux nice increment):
/// checks win the CPU while a big world compiles, and the compile still gets a share when every
/// core is busy, so a reload is slower under load but never stalls.
pub const DEFAULT_RELOAD_NICENESS: i32 = 10;

/// Runs `work` on a thread of its own at lower CPU priority and waits for it without blocking
/// the runtime; `Err` says the work panicked.
async fn off_the_request_path<T: Send + 'static>(
    niceness: i32,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("keyward-reload".into())
        .spawn(move || {
            lower_priority(niceness);
            let _ = tx.send(work());
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start the reload thread: {e}"));
    }
    rx.await
        .map_err(|_| "the reload thread panicked".to_owned())
}

/// Lowers the calling thread's CPU priority by `niceness` (on Linux nice is per thread).
fn lower_priority(niceness: i32) {
    if niceness <= 0 {
        return;
    }
    // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling thread.
    // Failure (e.g. a seccomp filter) leaves the priority as it was, which is harmless.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, niceness.min(19));
    }
}

/// Reads and compiles the world at `path`.
pub fn load_file(path: &Path) -> Result<Engine, LoadError> {
    World::load(path).map(Engine::compile)
}

/// Parses and compiles a world sent in a request body.
fn load_body(body: &[u8]) -> Result<Engine, LoadError> {
    let text = std::str::from_utf8(body).map_err(|e| LoadError {
        errors: vec![Finding {
            severity: Severity::Error,
            place: "request body".into(),
            message: format!("not UTF-8: {e}"),
        }],
    })?;
    World::from_json(text, "request body").map(Engine::compile)
}

/// What a reload found before swapping anything in.
enum Prepared {
    /// Nothing to swap: `unchanged` (same content hash) or `pinned` (a PUT pins the world and
    /// the file is as it was then).
    Skip(&'static str),
    /// A new engine to swap in, with its content hash, the directory's files (for a world
    /// path) and the world path's fingerprint when a PUT is about to pin it.
    Load {
        engine: Box<Engine>,
        hash: String,
        files: Option<Vec<PathBuf>>,
        pin: Option<String>,
    },
}

/// What the serving world is, as a reload needs to know it.
struct Serving {
    hash: String,
    pinned_to: Option<String>,
    files: Vec<PathBuf>,
}

/// Reads, hashes and compiles the new world (on the reload thread). A watched change that
/// removed a file of a world directory is an error: a deploy that deletes and then writes
/// must not serve the smaller world in between (a SIGHUP loads it on purpose).
fn prepare(
    source: Source,
    path: &Path,
    serving: &Serving,
    trigger: Trigger,
) -> Result<Prepared, LoadError> {
    match source {
        Source::Body(body) => {
            let hash = status::hash_bytes(&body);
            if hash == serving.hash {
                return Ok(Prepared::Skip("unchanged"));
            }
            let engine = load_body(&body)?;
            let pin = Some(status::fingerprint(path).hash);
            Ok(Prepared::Load {
                engine: Box::new(engine),
                hash,
                files: None,
                pin,
            })
        }
        Source::Bundle { files, hash, .. } => {
            if hash == serving.hash {
                return Ok(Prepared::Skip("unchanged"));
            }
            let engine = World::from_texts(&files).map(Engine::compile)?;
            Ok(Prepared::Load {
                engine: Box::new(engine),
                hash,
                files: None,
                pin: None,
            })
        }
        Source::Path => {
            let found = status::fingerprint(path);
            if trigger == Trigger::Watch && serving.pinned_to.as_deref() == Some(&found.hash) {
                return Ok(Prepared::Skip("pinned"));
            }
            if found.hash == serving.hash {
                return Ok(Prepared::Skip("unchanged"));
            }
            if trigger == Trigger::Watch {
                let vanished: Vec<String> = serving
                    .files
                    .iter()
                    .filter(|f| !found.files.contains(f))
                    .map(|f| f.display().to_string())
                    .collect();
                if !vanished.is_empty() {
                    return Err(LoadError {
                        errors: vanished
                            .into_iter()
                            .map(|place| Finding {
                                severity: Severity::Error,
                                place,
                                message: "this world file vanished; keeping the old world until it is back (send SIGHUP to load the world without it)".into(),
                            })
                            .collect(),
                    });
                }
            }
            let engine = load_file(path)?;
            Ok(Prepared::Load {
                engine: Box::new(engine),
                hash: found.hash,
                files: Some(found.files),
                pin: None,
            })
        }
    }
}

/// Loads a new world from `source`, swaps it in and records the reload; on failure the old
/// world keeps serving. Identical content changes nothing (the version stays); a watched change
/// is ignored while a `PUT /v1/world` pins the world and the file is as it was at the PUT.
pub async fn reload(
    shared: &Arc<Shared>,
    source: Source,
    trigger: Trigger,
) -> Result<Reloaded, ReloadError> {
    let _one_at_a_time = shared.reload_lock.lock().await;
    let started = Instant::now();
    let path = shared.world_path.clone();
    let from_path = matches!(source, Source::Path);
    let origin_source = match &source {
        Source::Path => path.display().to_string(),
        Source::Body(_) => "PUT /v1/world".to_owned(),
        Source::Bundle { label, .. } => label.clone(),
    };
    let serving = {
        let st = shared.status();
        Serving {
            hash: st.origin.hash.clone(),
            pinned_to: st.pinned_to.clone(),
            files: st.files.clone(),
        }
    };
    let prepared = off_the_request_path(shared.reload_niceness, move || {
        prepare(source, &path, &serving, trigger)
    })
    .await;
    let compile_ms = status::round_ms(started.elapsed().as_secs_f64() * 1e3);
    let result = match prepared {
        Ok(Ok(Prepared::Skip(outcome))) => {
            let installed = shared.live.load();
            let mut st = shared.status();
            if from_path && outcome == "unchanged" {
                st.pinned_to = None;
            }
            tracing::info!(
                trigger = trigger.as_str(),
                outcome,
                "world from {origin_source} ({}) {outcome}; version {} keeps serving",
                trigger.as_str(),
                installed.version
            );
            Ok(Reloaded {
                version: installed.version,
                compile_ms,
                warnings: world_warnings(&installed.engine),
                hash: st.origin.hash.clone(),
                outcome,
            })
        }
        Ok(Ok(Prepared::Load {
            engine,
            hash,
            files,
            pin,
        })) => {
            let warnings = world_warnings(&engine);
            let version = shared.live.swap(*engine);
            let mut st = shared.status();
            st.origin = WorldOrigin {
                version,
                source: origin_source.clone(),
                trigger: trigger.as_str(),
                compile_ms,
                hash: hash.clone(),
            };
            st.pinned_to = pin;
            if let Some(files) = files {
                st.files = files;
            }
            tracing::info!(
                version,
                trigger = trigger.as_str(),
                compile_ms,
                hash = %hash,
                "world version {version} from {origin_source} ({}, {compile_ms} ms, {hash})",
                trigger.as_str()
            );
            Ok(Reloaded {
                version,
                compile_ms,
                warnings,
                hash,
                outcome: "applied",
            })
        }
        Ok(Err(errors)) => {
            tracing::error!(
                trigger = trigger.as_str(),
                "rejected world from {origin_source} ({}); the old world keeps serving:\n{errors}",
                trigger.as_str()
            );
            Err(ReloadError::Invalid(errors))
        }
        Err(join) => {
            tracing::error!(
                "loading the world from {origin_source} failed inside keyward ({join}); the old world keeps serving"
            );
            Err(ReloadError::Internal(format!(
                "loading the world failed inside keyward: {join}"
            )))
        }
    };
    let record = ReloadRecord {
        time: SystemTime::now(),
        trigger: trigger.as_str(),
        source: origin_source,
        outcome: match &result {
            Ok(done) => done.outcome,
            Err(_) => "rejected",
        },
        error: result.as_ref().err().map(ReloadError::text),
    };
    shared.status().record(record, from_path);
    shared.metrics.count_reload(trigger, result.is_ok());
    result
}

fn world_warnings(engine: &Engine) -> Vec<String> {
    engine
        .world()
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Listens for SIGHUP. From this call on a SIGHUP no longer ends the process; the ones that
/// arrive before [`spawn_signal_reloader`] runs are kept and handled then.
pub fn listen_for_sighup() -> std::io::Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup())
}

/// Reloads the world from its path on every SIGHUP received on `hangups`.
pub fn spawn_signal_reloader(
    shared: Arc<Shared>,
    mut hangups: tokio::signal::unix::Signal,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let _ = reload(&shared, Source::Path, Trigger::Sighup).await;
        }
    })
}

/// A running watch of the world path; dropping it stops the watch.
pub struct WorldWatch {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl WorldWatch {
    /// Stops watching and waits for a reload in progress to finish.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Watches the world path and reloads after its files change and then stay quiet for
/// `debounce` (editors and deploy tools write a file in several steps).
///
/// The directory holding the world (or the world directory itself) is watched, not the file,
/// so a file replaced by a rename (as editors and config-management tools do) is still
/// followed, and so is a world reached through symlinks that are swapped (as Kubernetes does
/// with mounted ConfigMaps: `world.json -> ..data/world.json`, `..data` renamed over).
pub fn watch(shared: Arc<Shared>, debounce: Duration) -> notify::Result<WorldWatch> {
    let given = std::path::absolute(&shared.world_path).map_err(notify::Error::io)?;
    let interest = Interest::of(&given);
    let dir = match &interest {
        Interest::Directory => given.clone(),
        Interest::File { .. } => given
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/")),
    };
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !changes_content(&event.kind) {
            return;
        }
        if event.paths.iter().any(|p| interest.covers(p)) {
            // A full channel already holds a pending change: nothing is lost.
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Wait until the files have been quiet for `debounce`.
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_quiet) => break,
                }
            }
            let _ = reload(&shared, Source::Path, Trigger::Watch).await;
        }
    });
    Ok(WorldWatch {
        _watcher: watcher,
        task,
    })
}

/// Which changes in the watched directory may change the world.
enum Interest {
    /// A world directory: its `*.json` files.
    Directory,
    /// A world file: that name, or anything at all when the file is a symlink (what it points
    /// to may change through another name).
    File {
        name: std::ffi::OsString,
        symlink: bool,
    },
}

impl Interest {
    fn of(path: &Path) -> Interest {
        if path.is_dir() {
            return Interest::Directory;
        }
        let symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let name = path.file_name().map(|n| n.to_owned()).unwrap_or_default();
        Interest::File { name, symlink }
    }

    fn covers(&self, changed: &Path) -> bool {
        let name = changed.file_name().unwrap_or_default();
        // `..data` and its kin: the symlink swap of a Kubernetes volume.
        let volume_swap = name.to_string_lossy().starts_with("..");
        match self {
            Interest::Directory => volume_swap || changed.extension().is_some_and(|e| e == "json"),
            Interest::File {
                name: world,
                symlink,
            } => *symlink || name == world.as_os_str(),
        }
    }
}

/// Whether a file event may have changed what the world files hold (reads do not).
fn changes_content(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    match kind {
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => !matches!(
            kind,
            EventKind::Modify(notify::event::ModifyKind::Metadata(_))
        ),
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    }
}
