//! Accepting connections within limits (docs/operations.md, "Connections"): at most
//! `max_connections` open at once (one over the limit is closed at once and counted), and a
//! connection that does not complete a request head within `header_timeout` is closed; the same
//! timer closes a keep-alive connection left idle that long. Shutdown stops accepting and lets
//! the open connections finish their requests.

use super::metrics::Metrics;
use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Semaphore};

/// Connection limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once, over every listener.
    pub max_connections: usize,
    /// Time to receive a request head, and the longest a keep-alive connection may stay idle.
    pub header_timeout: Duration,
}

/// The default connection limit: three quarters of the open-file limit (each connection holds
/// a descriptor; the rest stay for the world files, the decision log and the watcher).
pub fn default_max_connections() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    (soft / 4 * 3).clamp(16, 100_000)
}

/// Serves `app` on `listener` until `stop` fires, then waits for open connections to finish.
pub async fn serve<L: Listener>(
    mut listener: L,
    app: Router,
    limits: Limits,
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    mut stop: broadcast::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    loop {
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.recv() => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.count_connection_rejected();
            drop(io);
            continue;
        };
        let open = metrics.connection_opened();
        let service = TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
