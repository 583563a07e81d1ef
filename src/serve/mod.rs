//! The sidecar HTTP server (docs/http-api.md): authorization decisions over HTTP, from the world that is
//! serving now, with hot reloads that never block or drop a check.
//!
//! - [`routes`]: the HTTP API — authorize, batch, world, health, metrics — and its error answers;
//! - [`reload`]: replacing the world (PUT, SIGHUP, file watching), compiled off the request path;
//! - [`auth`]: the admin bearer token; [`metrics`]: Prometheus counters and histograms;
//! - [`decision_log`]: JSON Lines of decisions, written by a thread of its own;
//! - [`encode`]: decisions written straight into the response buffer;
//! - [`status`]: where the serving world came from, the last reloads, readiness;
//! - [`conn`]: accepting connections within limits and timeouts.
//!
//! A check reads the serving engine through [`LiveEngine`] without locking; a reload compiles
//! the new world on a blocking thread and swaps it in atomically, so in-flight checks finish on
//! the world they started with and the next check sees the new one.

pub mod analysis;
pub mod auth;
pub mod conn;
pub mod decision_log;
pub mod encode;
pub mod metrics;
pub mod reload;
pub mod routes;
pub mod status;

use crate::engine::live::LiveEngine;
use crate::engine::Engine;
use auth::AdminToken;
use decision_log::{DecisionIds, DecisionLog, LogOptions, LogWriter};
use metrics::Metrics;
use status::{Status, WorldOrigin};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How the server is run; the command line fills it in.
#[derive(Debug)]
pub struct Config {
    /// The world file or directory, loaded at start and on SIGHUP or a change; `None` only
    /// with a bundle, whose first load the server then waits for.
    pub world: Option<PathBuf>,
    /// TCP address to listen on, if any.
    pub listen: Option<SocketAddr>,
    /// Unix socket path to listen on, if any.
    pub unix: Option<PathBuf>,
    /// When set, `PUT /v1/world` needs `Authorization: Bearer <token>`.
    pub admin_token: Option<AdminToken>,
    /// Largest body accepted on the authorize routes.
    pub max_body_bytes: usize,
    /// Largest body accepted by `PUT /v1/world`.
    pub max_world_bytes: usize,
    /// Batches with at least this many requests are decided on all cores (0: never).
    pub parallel_batch_min: usize,
    /// How much lower than checks reloads run (Linux nice increment, 0 to 19).
    pub reload_niceness: i32,
    /// Where to append the decision log, if anywhere.
    pub decision_log: Option<PathBuf>,
    /// How the decision log masks encryption contexts and how much it may queue.
    pub decision_log_options: LogOptions,
    /// Reload when the world file or directory changes.
    pub watch: bool,
    /// How long the world files must stay quiet after a change before it is reloaded.
    pub watch_debounce: Duration,
    /// How long shutdown waits for in-flight requests before giving up on them.
    pub shutdown_grace: Duration,
    /// How long `/ready` stays 200 while reloads from the world path fail.
    pub ready_grace: Duration,
    /// Connections open at once and the request-head (and keep-alive idle) timeout.
    pub limits: conn::Limits,
    /// Longest time to receive and answer an authorize request.
    pub request_timeout: Duration,
    /// Poll a world bundle over HTTP (docs/bundles.md).
    pub bundle: Option<crate::bundle::poll::Options>,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug)]
pub struct ServeError(pub String);

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// Everything the handlers share.
pub struct Shared {
    /// The engine serving now.
    pub live: LiveEngine,
    pub metrics: Arc<Metrics>,
    pub decision_log: Option<DecisionLog>,
    /// Where decision ids come from.
    pub ids: DecisionIds,
    pub admin_token: Option<AdminToken>,
    /// The world path reloads read.
    pub world_path: PathBuf,
    /// Where the serving world came from and how reloads went; updated right after each swap.
    pub status: Mutex<Status>,
    /// How long a failing reload from the world path leaves the server ready.
    pub ready_grace: Duration,
    /// Longest time to receive and answer an authorize request.
    pub request_timeout: Duration,
    /// Held for the whole of a reload, so reloads apply one at a time and in order.
    pub reload_lock: tokio::sync::Mutex<()>,
    pub max_body_bytes: usize,
    pub max_world_bytes: usize,
    /// Batches with at least this many requests are decided on all cores (0: never).
    pub parallel_batch_min: usize,
    /// How much lower than checks reloads run (Linux nice increment, 0 to 19).
    pub reload_niceness: i32,
    /// The bundle being polled, if the server serves one (docs/bundles.md).
    pub bundle: Option<Arc<crate::bundle::poll::Tracker>>,
}

impl Shared {
    /// State for a server whose first world is `engine`, loaded from `world_path` whose
    /// content had the fingerprint `found`.
    pub fn new(
        engine: Engine,
        world_path: PathBuf,
        compile_ms: f64,
        found: status::Fingerprint,
    ) -> Shared {
        Shared {
            live: LiveEngine::new(engine),
            metrics: Arc::new(Metrics::default()),
            decision_log: None,
            ids: DecisionIds::new(),
            admin_token: None,
            status: Mutex::new(Status::new(
                WorldOrigin {
                    version: 1,
                    source: world_path.display().to_string(),
                    trigger: "start",
                    compile_ms: status::round_ms(compile_ms),
                    hash: found.hash,
                },
                found.files,
            )),
            ready_grace: Duration::ZERO,
            request_timeout: Duration::from_secs(30),
            world_path,
            reload_lock: tokio::sync::Mutex::new(()),
            max_body_bytes: 1 << 20,
            max_world_bytes: 64 << 20,
            parallel_batch_min: 0,
            reload_niceness: reload::DEFAULT_RELOAD_NICENESS,
            bundle: None,
        }
    }

    /// Whether the server is ready: reloads from the world path are not failing (within the
    /// grace) and, with a bundle and no world to start from, the first bundle has loaded.
    pub fn is_ready(&self) -> bool {
        self.status().ready(self.ready_grace) && self.bundle.as_ref().is_none_or(|b| b.ready())
    }

    /// The reload state (a panic elsewhere while holding it leaves it readable).
    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Loads the world, starts listening, serves until SIGTERM or Ctrl-C, then drains in-flight
/// requests. Prints `keyward serve: listening on ...` to stderr once ready.
pub async fn run(config: Config) -> Result<(), ServeError> {
    // From here on SIGHUP (whose default action would end the process) is caught; one sent
    // while the world loads is handled as soon as the server is up.
    let hangups = reload::listen_for_sighup()
        .map_err(|e| ServeError(format!("cannot listen for SIGHUP: {e}")))?;
    // SIGUSR1 (whose default action would end the process too) reopens the decision log.
    let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        .map_err(|e| ServeError(format!("cannot listen for SIGUSR1: {e}")))?;
    metrics::mark_start();
    let started = std::time::Instant::now();
    let (engine, found, world_path) = match &config.world {
        Some(world) => {
            let world_path = world.clone();
            let (engine, found) = tokio::task::spawn_blocking(move || {
                // Hashed before loading: a change in between is seen as a change by the next reload.
                let found = status::fingerprint(&world_path);
                reload::load_file(&world_path).map(|e| (e, found))
            })
            .await
            .map_err(|e| ServeError(format!("loading the world failed: {e}")))?
            .map_err(|e| ServeError(format!("cannot load world {}:\n{e}", world.display())))?;
            (engine, found, world.clone())
        }
        // Only with a bundle: an empty world (every check an implicit deny) and not ready
        // until the first bundle loads.
        None => (
            Engine::compile(crate::world::World::default()),
            status::Fingerprint {
                hash: "none".into(),
                files: Vec::new(),
            },
            PathBuf::from("(no world: waiting for the first bundle)"),
        ),
    };
    let mut shared = Shared::new(
        engine,
        world_path,
        started.elapsed().as_secs_f64() * 1e3,
        found,
    );
    shared.ready_grace = config.ready_grace;
    shared.request_timeout = config.request_timeout;
    shared.admin_token = config.admin_token;
    shared.max_body_bytes = config.max_body_bytes;
    shared.max_world_bytes = config.max_world_bytes;
    shared.parallel_batch_min = config.parallel_batch_min;
    shared.reload_niceness = config.reload_niceness;
    shared.bundle = config.bundle.clone().map(|options| {
        Arc::new(crate::bundle::poll::Tracker::new(
            options,
            config.world.is_some(),
        ))
    });
    let mut log_writer: Option<LogWriter> = None;
    if let Some(path) = &config.decision_log {
        let (log, writer) = DecisionLog::open(
            path,
            shared.metrics.clone(),
            config.decision_log_options.clone(),
        )
        .map_err(|e| ServeError(format!("cannot open decision log {}: {e}", path.display())))?;
        shared.decision_log = Some(log);
        log_writer = Some(writer);
    }
    let shared = Arc::new(shared);

    // With a bundle, SIGHUP polls it at once instead of reloading the world path.
    let background = match &shared.bundle {
        Some(tracker) => spawn_bundle_poke(tracker.clone(), hangups),
        None => reload::spawn_signal_reloader(shared.clone(), hangups),
    };
    let poller = shared
        .bundle
        .clone()
        .map(|tracker| crate::bundle::poll::spawn(shared.clone(), tracker));
    let reopener = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                if let Some(log) = &shared.decision_log {
                    log.reopen();
                    tracing::info!("SIGUSR1: reopening the decision log");
                }
            }
        })
    };
    let watcher = match &config.world {
        Some(world) if config.watch && config.bundle.is_none() => Some(
            reload::watch(shared.clone(), config.watch_debounce)
                .map_err(|e| ServeError(format!("cannot watch {}: {e}", world.display())))?,
        ),
        _ => None,
    };
    let shutdown =
        shutdown_signal().map_err(|e| ServeError(format!("cannot listen for SIGTERM: {e}")))?;

    let app = routes::router(shared.clone());
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let permits = Arc::new(tokio::sync::Semaphore::new(config.limits.max_connections));
    let mut servers = tokio::task::JoinSet::new();
    if let Some(addr) = config.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServeError(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| ServeError(e.to_string()))?;
        let stop = stop_tx.subscribe();
        let (app, permits, metrics) = (app.clone(), permits.clone(), shared.metrics.clone());
        let limits = config.limits;
        servers.spawn(async move {
            conn::serve(listener, app, limits, permits, metrics, stop).await;
            Ok::<(), std::io::Error>(())
        });
        tracing::info!("listening on http://{bound}");
    }
    let mut socket_path = None;
    if let Some(path) = &config.unix {
        remove_stale_socket(path)?;
        let listener = tokio::net::UnixListener::bind(path)
            .map_err(|e| ServeError(format!("cannot listen on {}: {e}", path.display())))?;
        socket_path = Some(path.clone());
        let stop = stop_tx.subscribe();
        let (app, permits, metrics) = (app.clone(), permits.clone(), shared.metrics.clone());
        let limits = config.limits;
        servers.spawn(async move {
            conn::serve(listener, app, limits, permits, metrics, stop).await;
            Ok::<(), std::io::Error>(())
        });
        tracing::info!("listening on unix:{}", path.display());
    }
    drop(app);
    if servers.is_empty() {
        return Err(ServeError(
            "nothing to listen on: give --listen or --unix".into(),
        ));
    }
    {
        let world = shared.live.load();
        let w = world.engine.world();
        tracing::info!(
            "world version 1 from {}: {} keys, {} principals, {} grants",
            shared.world_path.display(),
            w.keys.len(),
            w.principals.len(),
            w.grants.len()
        );
    }

    // Serve until a shutdown signal or until a listener fails.
    let mut result = Ok(());
    tokio::select! {
        () = shutdown => tracing::info!("shutting down; draining in-flight requests"),
        Some(done) = servers.join_next() => {
            result = Err(ServeError(match done {
                Ok(Ok(())) => "a listener stopped".into(),
                Ok(Err(e)) => format!("a listener failed: {e}"),
                Err(e) => format!("a listener failed: {e}"),
            }));
        }
    }
    let _ = stop_tx.send(());
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while servers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "requests still open after {:?}; closing them",
            config.shutdown_grace
        );
        servers.abort_all();
        while servers.join_next().await.is_some() {}
    }
    background.abort();
    let _ = background.await;
    if let Some(poller) = poller {
        poller.abort();
        let _ = poller.await;
    }
    reopener.abort();
    let _ = reopener.await;
    if let Some(w) = watcher {
        w.stop().await;
    }
    if let Some(path) = socket_path {
        let _ = std::fs::remove_file(path);
    }
    drop(shared);
    // Every check has been answered: write out what the decision log still holds.
    if let Some(writer) = log_writer {
        let finished = tokio::task::spawn_blocking(move || writer.finish());
        if tokio::time::timeout(Duration::from_secs(5), finished)
            .await
            .is_err()
        {
            tracing::warn!("the decision log did not finish writing within 5 s");
        }
    }
    result
}

/// Wakes the bundle poller on every SIGHUP received on `hangups`.
fn spawn_bundle_poke(
    tracker: Arc<crate::bundle::poll::Tracker>,
    mut hangups: tokio::signal::unix::Signal,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: polling the bundle now");
            tracker.poll_now.notify_one();
        }
    })
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Removes a socket file left behind by an earlier run; refuses to remove anything else.
fn remove_stale_socket(path: &std::path::Path) -> Result<(), ServeError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)
            .map_err(|e| ServeError(format!("cannot remove old socket {}: {e}", path.display()))),
        Ok(_) => Err(ServeError(format!(
            "{} exists and is not a socket; not replacing it",
            path.display()
        ))),
        Err(_) => Ok(()),
    }
}
