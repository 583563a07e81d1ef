//! `keyward serve`: the sidecar HTTP server ; see [`crate::serve`].

use super::{BAD_INPUT, OK};
use crate::serve::auth::AdminToken;
use crate::serve::decision_log::{LogOptions, Mask};
use crate::serve::{self, Config};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `keyward serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The world: a JSON file or a directory of JSON files. Reloaded on SIGHUP and when it
    /// changes. With --bundle it is optional and only the world served until the first bundle
    /// loads (neither watched nor reloaded on SIGHUP).
    #[arg(long, short, required_unless_present = "bundle")]
    world: Option<PathBuf>,
    /// TCP address to listen on [default: 127.0.0.1:8181, unless --unix is given].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Unix socket to listen on (instead of TCP, unless --listen is also given).
    #[arg(long)]
    unix: Option<PathBuf>,
    /// File holding the bearer token that PUT /v1/world requires.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Largest request body accepted by the authorize routes, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Largest world accepted by PUT /v1/world, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_world_bytes: usize,
    /// Decide batches of at least this many requests on all cores; 0 decides every batch on the
    /// thread that received it.
    #[arg(long, default_value_t = 0)]
    parallel_batch_min: usize,
    /// Run reloads this much lower in CPU priority than checks (a nice increment, 0 to 19):
    /// higher keeps check latency steadier while a world compiles, lower makes reloads land
    /// sooner on a busy machine.
    #[arg(long, default_value_t = crate::serve::reload::DEFAULT_RELOAD_NICENESS,
          value_parser = clap::value_parser!(i32).range(0..=19))]
    reload_niceness: i32,
    /// Append every decision to this file as JSON Lines (written off the request path).
    #[arg(long)]
    decision_log: Option<PathBuf>,
    /// How the decision log writes encryption-context values: hash (sha256:<16 hex digits> of
    /// each value), drop (left out) or none (as sent).
    #[arg(long, value_enum, default_value_t = Mask::Hash)]
    decision_log_mask: Mask,
    /// Bytes of decisions that may wait for the decision-log writer; past this, decisions are
    /// dropped from the log and counted in keyward_decision_log_dropped_total.
    #[arg(long, default_value_t = crate::serve::decision_log::DEFAULT_QUEUE_BYTES)]
    decision_log_queue_bytes: usize,
    /// Do not reload when the world file or directory changes (SIGHUP still reloads).
    #[arg(long)]
    no_watch: bool,
    /// Quiet time after a change to the world files before reloading, in milliseconds.
    #[arg(long, default_value_t = 250)]
    watch_debounce_ms: u64,
    /// Worker threads [default: one per core].
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds to wait for in-flight requests on shutdown (SIGTERM, Ctrl-C).
    #[arg(long, default_value_t = 10)]
    shutdown_grace_secs: u64,
    /// How the server writes its own log lines to stderr: text, or json (one object a line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Connections open at once; one over the limit is closed at once [default: three quarters
    /// of the open-file limit].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request head; a keep-alive connection idle this long is
    /// closed too.
    #[arg(long, default_value_t = 30)]
    header_timeout_secs: u64,
    /// Seconds to receive and answer an authorize request (body included); past it the answer
    /// is 408 with a deny.
    #[arg(long, default_value_t = 30)]
    request_timeout_secs: u64,
    /// Seconds `/ready` keeps answering 200 while reloads from the world path fail (the old
    /// world keeps serving either way); 0 makes the server unready at the first failure.
    #[arg(long, default_value_t = 0)]
    ready_grace_secs: u64,
    /// Serve the world bundle at this http:// or https:// URL, polled with If-None-Match
    /// (docs/bundles.md). Without --world, /ready answers 503 until the first bundle loads.
    #[arg(long, value_name = "URL")]
    bundle: Option<String>,
    /// Time between bundle polls: 30s, 5m, 1500ms or plain seconds (each poll moved by up to a
    /// tenth either way); SIGHUP polls at once.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    bundle_poll: Duration,
    /// Require every bundle to carry an Ed25519 signature by this public key (SPKI PEM, as
    /// `openssl pkey -pubout` writes it).
    #[arg(long, value_name = "FILE", requires = "bundle")]
    bundle_public_key: Option<PathBuf>,
    /// Largest bundle accepted, compressed, in bytes.
    #[arg(long, default_value_t = 64 << 20, requires = "bundle")]
    bundle_max_bytes: usize,
    /// Largest bundle accepted once decompressed, in bytes.
    #[arg(long, default_value_t = 256 << 20, requires = "bundle")]
    bundle_max_unpacked_bytes: usize,
    /// Seconds one bundle download may take.
    #[arg(long, default_value_t = 60, requires = "bundle")]
    bundle_timeout_secs: u64,
}

/// A duration such as `30s`, `5m`, `1500ms`, `1h` or `30` (seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => t.split_at(at),
        None => (t, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 30s, 5m or 1500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m or h")),
    };
    if !(secs.is_finite() && secs >= 0.1) {
        return Err(format!("{text:?}: at least 100ms"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The format of the server's own log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// `<time> <LEVEL> <message> <fields>`, one event a line.
    Text,
    /// One JSON object a line: `timestamp`, `level`, `message` and the event's fields.
    Json,
}

/// Sends the server's log events (info and above) to stderr in `format`.
fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .with_ansi(false);
    // Fails only when a subscriber is already set (then events go there).
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Runs the server until SIGTERM or Ctrl-C; exits 0 after a clean shutdown, 2 when it cannot
/// start (bad world, address in use, unreadable token file).
pub fn run(args: Args) -> u8 {
    init_logging(args.log_format);
    let admin_token = match &args.admin_token_file {
        Some(path) => match AdminToken::from_file(path) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("keyward serve: {e}");
                return BAD_INPUT;
            }
        },
        None => None,
    };
    let listen = match (args.listen, &args.unix) {
        (Some(addr), _) => Some(addr),
        (None, Some(_)) => None,
        (None, None) => Some(SocketAddr::from(([127, 0, 0, 1], 8181))),
    };
    if let Some(addr) = listen {
        if !addr.ip().is_loopback() && admin_token.is_none() {
            tracing::warn!(
                "listening on {addr} beyond loopback without --admin-token-file; anyone who can reach it can replace the world"
            );
        }
    }
    let bundle = match &args.bundle {
        Some(url) => {
            let public_key = match &args.bundle_public_key {
                Some(path) => match crate::bundle::keys::read_verifying_key(path) {
                    Ok(k) => Some(k),
                    Err(e) => {
                        eprintln!("keyward serve: {e}");
                        return BAD_INPUT;
                    }
                },
                None => None,
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                eprintln!("keyward serve: --bundle {url}: give an http:// or https:// URL");
                return BAD_INPUT;
            }
            Some(crate::bundle::poll::Options {
                url: url.clone(),
                interval: args.bundle_poll,
                public_key,
                limits: crate::bundle::archive::Limits {
                    max_archive_bytes: args.bundle_max_bytes,
                    max_unpacked_bytes: args.bundle_max_unpacked_bytes,
                    ..crate::bundle::archive::Limits::default()
                },
                timeout: Duration::from_secs(args.bundle_timeout_secs.max(1)),
            })
        }
        None => None,
    };
    let config = Config {
        world: args.world,
        listen,
        unix: args.unix,
        admin_token,
        max_body_bytes: args.max_body_bytes,
        max_world_bytes: args.max_world_bytes,
        parallel_batch_min: args.parallel_batch_min,
        reload_niceness: args.reload_niceness,
        decision_log: args.decision_log,
        decision_log_options: LogOptions {
            mask: args.decision_log_mask,
            queue_bytes: args.decision_log_queue_bytes,
        },
        watch: !args.no_watch,
        watch_debounce: Duration::from_millis(args.watch_debounce_ms),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        ready_grace: Duration::from_secs(args.ready_grace_secs),
        limits: crate::serve::conn::Limits {
            max_connections: args
                .max_connections
                .unwrap_or_else(crate::serve::conn::default_max_connections)
                .max(1),
            header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
        },
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        bundle,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("keyward-serve");
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyward serve: cannot start the runtime: {e}");
            return BAD_INPUT;
        }
    };
    match runtime.block_on(serve::run(config)) {
        Ok(()) => {
            tracing::info!("stopped");
            OK
        }
        Err(e) => {
            eprintln!("keyward serve: {e}");
            BAD_INPUT
        }
    }
}
