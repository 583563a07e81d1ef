//! The HTTP API (docs/http-api.md) and its answers.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/authorize[?explain]` | a decision (the decision format (docs/formats.md)), plus `warnings` for unknown request fields |
//! | `POST /v1/authorize/batch` | `{"decisions": [...]}`, in request order, all from one world |
//! | `PUT /v1/world` | `{"version": N, ...}` once the new world serves; 400 with `errors` if rejected |
//! | `GET /v1/world` | version, hash, load time, source, counts and warnings of the serving world, and the last reloads |
//! | `GET /health` | liveness: always 200, `status` `ok` or `degraded`, with the last reload and its error |
//! | `GET /ready` | readiness: 200, or 503 while reloads from the world path fail |
//! | `GET /metrics` | Prometheus text |
//!
//! Authorization answers fail closed: every answer of the authorize routes carries a
//! `decision`, and anything but a clean evaluation — a malformed body (400), a body over the
//! limit (413), a failure inside keyward (200 with an `error`) — carries `ImplicitDeny`.
//! Authorize answers name the world version that decided in the `x-keyward-world-version`
//! header.

use super::decision_log::Entry;
use super::metrics::{outcome_index, ErrorKind, Route, Trigger, WorldGauges};
use super::reload::{self, ReloadError, Source};
use super::status::ReloadRecord;
use super::{encode, Shared};
use crate::decision::{Decision, Explanation};
use crate::engine::Engine;
use crate::request::{Request, RequestError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::handler::Handler;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The header naming the world version that decided.
pub const VERSION_HEADER: &str = "x-keyward-world-version";

/// The header carrying the decision id (a batch's id; its items are `<id>.<index>` in the
/// decision log).
pub const DECISION_ID_HEADER: &str = "x-keyward-decision-id";

/// The server's routes over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    let body_limit = DefaultBodyLimit::max(shared.max_body_bytes);
    let check_guard = middleware::from_fn_with_state(
        BodyGuard {
            shared: shared.clone(),
            limit: shared.max_body_bytes,
            deny: true,
            timeout: Some(shared.request_timeout),
        },
        guard_body,
    );
    // The token is checked before the (possibly large) world body is read.
    let put = put_world
        .layer(DefaultBodyLimit::max(shared.max_world_bytes))
        .layer(middleware::from_fn_with_state(
            BodyGuard {
                shared: shared.clone(),
                limit: shared.max_world_bytes,
                deny: false,
                timeout: None,
            },
            guard_body,
        ))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            require_admin,
        ));
    Router::new()
        .route(
            "/v1/authorize",
            post(authorize).layer(body_limit).layer(check_guard.clone()),
        )
        .route(
            "/v1/authorize/batch",
            post(authorize_batch).layer(body_limit).layer(check_guard),
        )
        .route("/v1/world", get(get_world).put(put))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/who-can", get(super::analysis::who_can))
        .route("/v1/what-can", get(super::analysis::what_can))
        .with_state(shared)
}

/// `POST /v1/authorize`: one request, one decision.
async fn authorize(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let id = s.ids.next();
    let explain = wants_explanation(&uri);
    let mut response = match body {
        Ok(body) if explain || body.len() > INLINE_BODY_BYTES => {
            let (shared, id) = (s.clone(), id.clone());
            tokio::task::spawn_blocking(move || {
                authorize_one(&shared, &body, explain, started, &id)
            })
            .await
            .unwrap_or_else(|_| failed_closed(&s, s.live.load().version))
        }
        Ok(body) => authorize_one(&s, &body, explain, started, &id),
        Err(rejection) => body_rejected(&s, &rejection, true),
    };
    s.metrics.observe(Route::Authorize, started.elapsed());
    set_decision_id(&mut response, id);
    response
}

/// Bodies up to this size are decided on the async worker that received them; larger ones and
/// explanations, whose cost grows with the request, are decided on the blocking pool so a slow
/// request never stalls the others (`/health` included).
const INLINE_BODY_BYTES: usize = 8 << 10;

/// Names the decision in the answer's headers.
fn set_decision_id(response: &mut Response, id: String) {
    if let Ok(v) = HeaderValue::try_from(id) {
        response.headers_mut().insert(DECISION_ID_HEADER, v);
    }
}

fn authorize_one(s: &Shared, body: &[u8], explain: bool, started: Instant, id: &str) -> Response {
    let value = match parse_body(body) {
        Ok(v) => v,
        Err(message) => return bad_request(s, message, "(request)", true),
    };
    let (request, warnings) = match Request::from_value(&value) {
        Ok(r) => r,
        Err(e) => return bad_request(s, e.to_string(), &e.field, true),
    };
    let installed = s.live.load();
    let version = installed.version;
    let Some((decision, explanation)) = decide(&installed.engine, &request, explain) else {
        drop(installed);
        return failed_closed(s, version);
    };
    drop(installed);
    s.metrics.count_check(decision.outcome);
    let mut out = Vec::with_capacity(256);
    write_answer(&mut out, &decision, explanation.as_ref(), &warnings);
    if let Some(log) = &s.decision_log {
        log.record(Entry {
            id: id.to_owned(),
            request: value,
            decision,
            version,
            latency_us: micros(started),
            time: SystemTime::now(),
            size: body.len() + ENTRY_OVERHEAD,
        });
    }
    bytes_response(StatusCode::OK, out, Some(version))
}

/// Appends one decision's answer: the decision format (docs/formats.md) JSON, with the explanation when asked for and warnings
/// about unknown request fields.
fn write_answer(
    out: &mut Vec<u8>,
    decision: &Decision,
    explanation: Option<&Explanation>,
    warnings: &[String],
) {
    match explanation {
        None => encode::write_decision(out, decision, warnings),
        Some(x) => {
            let mut v = decision.to_value(Some(x));
            if !warnings.is_empty() {
                v["warnings"] = warnings.to_vec().into();
            }
            // Serializing a `Value` into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &v);
        }
    }
}

/// `POST /v1/authorize/batch`: `{"requests": [...]}` → `{"decisions": [...]}`, every decision
/// from the same world, one per request in request order. A malformed request gets a deny with
/// an `error` naming `requests[i].field` in its place; the others are decided. A body that is
/// not a batch at all is a 400.
async fn authorize_batch(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let id = s.ids.next();
    let explain = wants_explanation(&uri);
    let mut response = match body {
        Ok(body) if explain || body.len() > INLINE_BODY_BYTES => {
            let (shared, id) = (s.clone(), id.clone());
            tokio::task::spawn_blocking(move || {
                authorize_many(&shared, &body, explain, started, &id)
            })
            .await
            .unwrap_or_else(|_| failed_closed(&s, s.live.load().version))
        }
        Ok(body) => authorize_many(&s, &body, explain, started, &id),
        Err(rejection) => body_rejected(&s, &rejection, true),
    };
    s.metrics.observe(Route::Batch, started.elapsed());
    set_decision_id(&mut response, id);
    response
}

/// Bytes a decision-log entry holds beyond its request (the decision, the id, the times).
const ENTRY_OVERHEAD: usize = 512;

fn authorize_many(s: &Shared, body: &[u8], explain: bool, started: Instant, id: &str) -> Response {
    let value = match parse_body(body) {
        Ok(v) => v,
        Err(message) => return bad_request(s, message, "(body)", true),
    };
    let Value::Object(mut fields) = value else {
        return bad_request(
            s,
            "the body must be an object {\"requests\": [...]}".into(),
            "(body)",
            true,
        );
    };
    let items = match fields.remove("requests") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            let message = format!(
                "field requests: must be an array of requests, found {}",
                crate::json::type_name(&other)
            );
            return bad_request(s, message, "requests", true);
        }
        None => return bad_request(s, "field requests: missing".into(), "requests", true),
    };
    let unknown: Vec<String> = fields
        .keys()
        .map(|k| format!("field {k}: unknown field, ignored"))
        .collect();
    let parallel = s.parallel_batch_min > 0 && items.len() >= s.parallel_batch_min;
    let requests = read_requests(&items, parallel);
    let installed = s.live.load();
    let version = installed.version;
    let engine = &installed.engine;
    let mut out = Vec::with_capacity(64 + 160 * requests.len());
    out.extend_from_slice(b"{\"decisions\":[");
    let mut decisions = Vec::with_capacity(requests.len());
    if parallel {
        let parts: Vec<Decided> = requests
            .par_chunks(PARALLEL_CHUNK)
            .enumerate()
            .map(|(n, chunk)| decide_all(s, engine, chunk, n * PARALLEL_CHUNK, explain))
            .collect();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&part.out);
            decisions.extend(part.decisions);
        }
    } else {
        let part = decide_all(s, engine, &requests, 0, explain);
        out.extend_from_slice(&part.out);
        decisions = part.decisions;
    }
    out.push(b']');
    if !unknown.is_empty() {
        out.extend_from_slice(b",\"warnings\":");
        let _ = serde_json::to_writer(&mut out, &unknown);
    }
    out.push(b'}');
    drop(installed);
    if let Some(log) = &s.decision_log {
        let latency_us = micros(started);
        let time = SystemTime::now();
        let size = body.len() / items.len().max(1) + ENTRY_OVERHEAD;
        for (i, (request, decision)) in items.into_iter().zip(decisions).enumerate() {
            if let Some(decision) = decision {
                log.record(Entry {
                    id: format!("{id}.{i}"),
                    request,
                    decision,
                    version,
                    latency_us,
                    time,
                    size,
                });
            }
        }
    }
    bytes_response(StatusCode::OK, out, Some(version))
}

/// Requests per rayon task when a batch is decided in parallel.
const PARALLEL_CHUNK: usize = 32;

/// A request read from a batch, with warnings about its unknown fields, or why it is malformed.
type Read = Result<(Request, Vec<String>), RequestError>;

/// Reads every request of a batch; a malformed one stays in its place as an error.
fn read_requests(items: &[Value], parallel: bool) -> Vec<Read> {
    if parallel {
        items.par_iter().map(Request::from_value).collect()
    } else {
        items.iter().map(Request::from_value).collect()
    }
}

/// A run of decided requests: their answers, comma-separated, and the decisions for the log.
struct Decided {
    out: Vec<u8>,
    decisions: Vec<Option<Decision>>,
}

/// Decides `requests` in order against `engine`, counting each outcome; `first` is the
/// position of `requests[0]` in the batch. A malformed request gets a deny with an `error`
/// and the `field` at fault (`requests[i].field`) in its place.
fn decide_all(
    s: &Shared,
    engine: &Engine,
    requests: &[Read],
    first: usize,
    explain: bool,
) -> Decided {
    let mut out = Vec::with_capacity(160 * requests.len());
    let mut decisions = Vec::with_capacity(requests.len());
    let mut counts = [0u64; 3];
    for (i, read) in requests.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (request, warnings) = match read {
            Ok(r) => r,
            Err(e) => {
                s.metrics.count_error(ErrorKind::BadRequest);
                let field = format!("requests[{}].{}", first + i, e.field);
                let entry = json!({
                    "decision": "ImplicitDeny",
                    "reasons": [],
                    "error": format!("{field}: {}", e.message),
                    "field": field,
                });
                let _ = serde_json::to_writer(&mut out, &entry);
                decisions.push(None);
                continue;
            }
        };
        match decide(engine, request, explain) {
            Some((decision, explanation)) => {
                counts[outcome_index(decision.outcome)] += 1;
                write_answer(&mut out, &decision, explanation.as_ref(), warnings);
                decisions.push(Some(decision));
            }
            None => {
                s.metrics.count_failed_closed();
                s.metrics.count_error(ErrorKind::Internal);
                let _ = serde_json::to_writer(&mut out, &internal_deny());
                decisions.push(None);
            }
        }
    }
    s.metrics.count_checks(counts);
    Decided { out, decisions }
}

/// Decides a request; `None` when evaluation failed inside keyward (the caller answers a deny).
fn decide(
    engine: &Engine,
    request: &Request,
    explain: bool,
) -> Option<(Decision, Option<Explanation>)> {
    catch_unwind(AssertUnwindSafe(|| {
        if explain {
            let (d, x) = crate::reference::explain(engine.world(), request);
            (d, Some(x))
        } else {
            (engine.decide(request), None)
        }
    }))
    .ok()
}

/// `PUT /v1/world`: compile the body's world and swap it in.
async fn put_world(State(s): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            s.metrics.count_reload(Trigger::Put, false);
            return body_rejected(&s, &rejection, false);
        }
    };
    match reload::reload(&s, Source::Body(body), Trigger::Put).await {
        Ok(done) => {
            let installed = s.live.load();
            let mut out = json!({
                "version": done.version,
                "hash": done.hash,
                "outcome": done.outcome,
                "compile_ms": done.compile_ms,
                "warnings": done.warnings,
            });
            if installed.version == done.version {
                out["counts"] = counts(&installed.engine);
            }
            json_response(StatusCode::OK, &out, None)
        }
        Err(ReloadError::Invalid(errors)) => {
            s.metrics.count_error(ErrorKind::BadRequest);
            let list: Vec<Value> = errors
                .errors
                .iter()
                .map(|f| json!({"place": f.place, "message": f.message, "text": f.to_string()}))
                .collect();
            let out = json!({
                "error": "world rejected; the previous world keeps serving",
                "errors": list,
                "version": s.live.load().version,
            });
            json_response(StatusCode::BAD_REQUEST, &out, None)
        }
        Err(ReloadError::Internal(message)) => {
            s.metrics.count_error(ErrorKind::Internal);
            let out = json!({"error": message, "version": s.live.load().version});
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &out, None)
        }
    }
}

/// What [`guard_body`] enforces on a route.
#[derive(Clone)]
struct BodyGuard {
    shared: Arc<Shared>,
    /// Largest body accepted.
    limit: usize,
    /// Whether error answers carry a deny (the authorize routes).
    deny: bool,
    /// Longest time to receive and answer the request.
    timeout: Option<std::time::Duration>,
}

/// Answers 413 at once when `Content-Length` declares a body over the limit (without waiting
/// for it), and 408 when the request is not received and answered within the timeout.
async fn guard_body(
    State(g): State<BodyGuard>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u128>().ok());
    if declared.is_some_and(|n| n > g.limit as u128) {
        g.shared.metrics.count_error(ErrorKind::TooLarge);
        let message =
            "the body is larger than the server's limit (--max-body-bytes, --max-world-bytes)";
        return error_response(StatusCode::PAYLOAD_TOO_LARGE, message.into(), None, g.deny);
    }
    let Some(limit) = g.timeout else {
        return next.run(request).await;
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            g.shared.metrics.count_error(ErrorKind::BadRequest);
            let message = format!(
                "the request was not received and answered within {} s (--request-timeout-secs)",
                limit.as_secs()
            );
            error_response(StatusCode::REQUEST_TIMEOUT, message, None, g.deny)
        }
    }
}

/// Lets a request through to an admin route only with the configured bearer token.
async fn require_admin(
    State(s): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    if let Some(token) = &s.admin_token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        if !token.accepts(given) {
            s.metrics.count_error(ErrorKind::Unauthorized);
            let out =
                json!({"error": "this route needs the header Authorization: Bearer <admin token>"});
            let mut response = json_response(StatusCode::UNAUTHORIZED, &out, None);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// `GET /v1/world`: what is serving, where it came from and how the last reloads went.
async fn get_world(State(s): State<Arc<Shared>>) -> Response {
    let installed = s.live.snapshot();
    let loaded = installed.engine.loaded_at;
    let mut out = json!({
        "version": installed.version,
        "loaded_at": rfc3339(loaded),
        "loaded_at_unix": unix_seconds(loaded),
        "counts": counts(&installed.engine),
        "warnings": installed
            .engine
            .world()
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    });
    let st = s.status();
    if st.origin.version == installed.version {
        out["hash"] = st.origin.hash.clone().into();
        out["source"] = st.origin.source.clone().into();
        out["trigger"] = st.origin.trigger.into();
        out["compile_ms"] = st.origin.compile_ms.into();
    }
    out["pinned"] = st.pinned_to.is_some().into();
    out["last_reload"] = record_json(st.last.as_ref());
    out["last_reload_error"] = record_json(st.last_error.as_ref());
    drop(st);
    out["ready"] = s.is_ready().into();
    if let Some(bundle) = &s.bundle {
        out["bundle"] = bundle.to_json();
    }
    json_response(StatusCode::OK, &out, Some(installed.version))
}

/// A reload attempt as JSON (`null` when there was none).
fn record_json(record: Option<&ReloadRecord>) -> Value {
    let Some(r) = record else {
        return Value::Null;
    };
    let mut out = json!({
        "time": rfc3339(r.time),
        "trigger": r.trigger,
        "source": r.source,
        "outcome": r.outcome,
    });
    if let Some(e) = &r.error {
        out["error"] = e.clone().into();
    }
    out
}

/// `GET /health`: liveness. Always 200 while the server answers; `status` is `degraded` when
/// the server is not ready (reloads from the world path failing), with the last reload and the
/// last reload error.
async fn health(State(s): State<Arc<Shared>>) -> Response {
    let version = s.live.load().version;
    let ready = s.is_ready();
    let st = s.status();
    let mut out = json!({
        "status": if ready { "ok" } else { "degraded" },
        "ready": ready,
        "world_version": version,
        "world_hash": st.origin.hash,
        "world_source": st.origin.source,
        "last_reload": record_json(st.last.as_ref()),
        "last_reload_error": record_json(st.last_error.as_ref()),
    });
    drop(st);
    if let Some(bundle) = &s.bundle {
        out["bundle"] = bundle.to_json();
    }
    json_response(StatusCode::OK, &out, None)
}

/// `GET /ready`: readiness. 200 when a world serves and reloads from the world path are not
/// failing (or have failed for less than `--ready-grace-secs`), else 503 with the reason.
async fn ready(State(s): State<Arc<Shared>>) -> Response {
    let version = s.live.load().version;
    if let Some(bundle) = s.bundle.as_ref().filter(|b| !b.ready()) {
        let out = json!({
            "ready": false,
            "world_version": version,
            "reason": format!("no bundle has loaded yet from {}", bundle.options.url),
            "bundle": bundle.to_json(),
        });
        return json_response(StatusCode::SERVICE_UNAVAILABLE, &out, None);
    }
    let st = s.status();
    if st.ready(s.ready_grace) {
        return json_response(
            StatusCode::OK,
            &json!({"ready": true, "world_version": version}),
            None,
        );
    }
    let mut out = json!({"ready": false, "world_version": version});
    if let Some(r) = &st.last_error {
        out["reason"] = format!(
            "the last reload from {} failed; version {version} keeps serving",
            r.source
        )
        .into();
        out["last_reload_error"] = record_json(Some(r));
    }
    drop(st);
    json_response(StatusCode::SERVICE_UNAVAILABLE, &out, None)
}

/// `GET /metrics`.
async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let installed = s.live.snapshot();
    let age_seconds = s.status().confirmed.elapsed().as_secs_f64();
    let ready = s.is_ready();
    let gauges = WorldGauges {
        version: installed.version,
        loaded_at: unix_seconds(installed.engine.loaded_at),
        counts: count_list(&installed.engine),
        age_seconds,
        ready,
    };
    let mut text = s.metrics.render(&gauges);
    if let Some(bundle) = &s.bundle {
        bundle.render_metrics(&mut text);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn count_list(engine: &Engine) -> Vec<(&'static str, usize)> {
    let w = engine.world();
    vec![
        ("accounts", w.accounts.len()),
        ("keys", w.keys.len()),
        ("aliases", w.keys.iter().map(|k| k.aliases.len()).sum()),
        ("principals", w.principals.len()),
        ("groups", w.groups.len()),
        ("grants", w.grants.len()),
        ("organizations", w.organizations.len()),
        ("organization_policies", w.org_policies.len()),
        ("vpc_endpoints", w.vpc_endpoints.len()),
        ("sessions", w.sessions.len()),
    ]
}

fn counts(engine: &Engine) -> Value {
    Value::Object(
        count_list(engine)
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n.into()))
            .collect(),
    )
}

/// Parses a body as strict JSON (duplicate keys are errors).
fn parse_body(body: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    crate::json::parse(text).map_err(|e| format!("invalid JSON: {e}"))
}

/// Whether the query asks for an explanation: `?explain`, `?explain=true` or `?explain=1`.
fn wants_explanation(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|kv| matches!(kv, "explain" | "explain=true" | "explain=1"))
    })
}

/// A 400 answer naming the field at fault; on the authorize routes it also carries a deny.
fn bad_request(s: &Shared, message: String, field: &str, deny: bool) -> Response {
    s.metrics.count_error(ErrorKind::BadRequest);
    error_response(StatusCode::BAD_REQUEST, message, Some(field), deny)
}

/// The answer to a body that could not be read: 413 over the limit, else 400.
fn body_rejected(s: &Shared, rejection: &BytesRejection, deny: bool) -> Response {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        s.metrics.count_error(ErrorKind::TooLarge);
        let message =
            "the body is larger than the server's limit (--max-body-bytes, --max-world-bytes)";
        error_response(status, message.into(), None, deny)
    } else {
        s.metrics.count_error(ErrorKind::BadRequest);
        error_response(
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {rejection}"),
            None,
            deny,
        )
    }
}

/// A check that failed inside keyward, answered as a deny.
fn failed_closed(s: &Shared, version: u64) -> Response {
    s.metrics.count_failed_closed();
    s.metrics.count_error(ErrorKind::Internal);
    json_response(StatusCode::OK, &internal_deny(), Some(version))
}

fn internal_deny() -> Value {
    json!({
        "decision": "ImplicitDeny",
        "reasons": [],
        "error": "keyward failed while evaluating this request; denied (fail closed)",
    })
}

fn error_response(
    status: StatusCode,
    message: String,
    field: Option<&str>,
    deny: bool,
) -> Response {
    let mut out = Map::new();
    if deny {
        out.insert("decision".into(), "ImplicitDeny".into());
        out.insert("reasons".into(), Value::Array(Vec::new()));
    }
    out.insert("error".into(), message.into());
    if let Some(f) = field {
        out.insert("field".into(), f.into());
    }
    json_response(status, &Value::Object(out), None)
}

fn json_response(status: StatusCode, value: &Value, version: Option<u64>) -> Response {
    // Serializing a `Value` cannot fail; the fallback keeps the answer a deny regardless.
    let body = serde_json::to_vec(value).unwrap_or_else(|_| {
        br#"{"decision":"ImplicitDeny","reasons":[],"error":"cannot encode the answer"}"#.to_vec()
    });
    bytes_response(status, body, version)
}

/// A JSON answer from its encoded body.
fn bytes_response(status: StatusCode, body: Vec<u8>, version: Option<u64>) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(v) = version {
        response
            .headers_mut()
            .insert(VERSION_HEADER, HeaderValue::from(v));
    }
    response
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A time as RFC 3339 in UTC, to the millisecond (`2026-11-22T09:30:00.123Z`).
fn rfc3339(t: SystemTime) -> String {
    let t = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_199_250);
        assert_eq!(rfc3339(t), "2024-02-29T23:59:59.250Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn explain_query() {
        let yes = [
            "/v1/authorize?explain",
            "/v1/authorize?a=b&explain=true",
            "/v1/authorize?explain=1",
        ];
        for u in yes {
            assert!(wants_explanation(&u.parse().unwrap()), "{u}");
        }
        for u in [
            "/v1/authorize",
            "/v1/authorize?explain=false",
            "/v1/authorize?explained",
        ] {
            assert!(!wants_explanation(&u.parse().unwrap()), "{u}");
        }
    }
}
