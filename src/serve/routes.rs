//! The HTTP API (SPEC B.6) and its answers.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/authorize[?explain]` | a decision (B.3), plus `warnings` for unknown request fields |
//! | `POST /v1/authorize/batch` | `{"decisions": [...]}`, in request order, all from one world |
//! | `PUT /v1/world` | `{"version": N, ...}` once the new world serves; 400 with `errors` if rejected |
//! | `GET /v1/world` | version, load time, source and counts of the serving world |
//! | `GET /health` | 200 `{"status": "ok"}` (a world is always loaded once the server listens) |
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

/// The server's routes over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    let body_limit = DefaultBodyLimit::max(shared.max_body_bytes);
    // The token is checked before the (possibly large) world body is read.
    let put = put_world
        .layer(DefaultBodyLimit::max(shared.max_world_bytes))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            require_admin,
        ));
    Router::new()
        .route("/v1/authorize", post(authorize).layer(body_limit))
        .route(
            "/v1/authorize/batch",
            post(authorize_batch).layer(body_limit),
        )
        .route("/v1/world", get(get_world).put(put))
        .route("/health", get(health))
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
    let response = match body {
        Ok(body) => authorize_one(&s, &body, wants_explanation(&uri), started),
        Err(rejection) => body_rejected(&s, &rejection, true),
    };
    s.metrics.observe(Route::Authorize, started.elapsed());
    response
}

fn authorize_one(s: &Shared, body: &[u8], explain: bool, started: Instant) -> Response {
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
            request: value,
            decision,
            version,
            latency_us: micros(started),
            time: SystemTime::now(),
        });
    }
    bytes_response(StatusCode::OK, out, Some(version))
}

/// Appends one decision's answer: B.3 JSON, with the explanation when asked for and warnings
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
/// from the same world. A malformed request anywhere rejects the whole batch (400, naming
/// `requests[i].field`), so an answer never lines up with the wrong request.
async fn authorize_batch(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let response = match body {
        Ok(body) => authorize_many(&s, &body, wants_explanation(&uri), started),
        Err(rejection) => body_rejected(&s, &rejection, true),
    };
    s.metrics.observe(Route::Batch, started.elapsed());
    response
}

fn authorize_many(s: &Shared, body: &[u8], explain: bool, started: Instant) -> Response {
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
    let requests = match read_requests(&items, parallel) {
        Ok(r) => r,
        Err((i, e)) => {
            let field = format!("requests[{i}].{}", e.field);
            return bad_request(s, format!("{field}: {}", e.message), &field, true);
        }
    };
    let installed = s.live.load();
    let version = installed.version;
    let engine = &installed.engine;
    let mut out = Vec::with_capacity(64 + 160 * requests.len());
    out.extend_from_slice(b"{\"decisions\":[");
    let mut decisions = Vec::with_capacity(requests.len());
    if parallel {
        let parts: Vec<Decided> = requests
            .par_chunks(PARALLEL_CHUNK)
            .map(|chunk| decide_all(s, engine, chunk, explain))
            .collect();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&part.out);
            decisions.extend(part.decisions);
        }
    } else {
        let part = decide_all(s, engine, &requests, explain);
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
        for (request, decision) in items.into_iter().zip(decisions) {
            if let Some(decision) = decision {
                log.record(Entry {
                    request,
                    decision,
                    version,
                    latency_us,
                    time,
                });
            }
        }
    }
    bytes_response(StatusCode::OK, out, Some(version))
}

/// Requests per rayon task when a batch is decided in parallel.
const PARALLEL_CHUNK: usize = 32;

/// A request read from a batch, with warnings about its unknown fields.
type Read = (Request, Vec<String>);

/// Reads every request of a batch; on error, the first malformed one (by position).
fn read_requests(items: &[Value], parallel: bool) -> Result<Vec<Read>, (usize, RequestError)> {
    let read = |(i, item): (usize, &Value)| Request::from_value(item).map_err(|e| (i, e));
    if parallel {
        let all: Result<Vec<_>, _> = items.par_iter().enumerate().map(read).collect();
        // Which error rayon stops at is not fixed; name the first one, as the sequential path does.
        all.or_else(|_| items.iter().enumerate().map(read).collect())
    } else {
        items.iter().enumerate().map(read).collect()
    }
}

/// A run of decided requests: their answers, comma-separated, and the decisions for the log.
struct Decided {
    out: Vec<u8>,
    decisions: Vec<Option<Decision>>,
}

/// Decides `requests` in order against `engine`, counting each outcome.
fn decide_all(
    s: &Shared,
    engine: &Engine,
    requests: &[(Request, Vec<String>)],
    explain: bool,
) -> Decided {
    let mut out = Vec::with_capacity(160 * requests.len());
    let mut decisions = Vec::with_capacity(requests.len());
    let mut counts = [0u64; 3];
    for (i, (request, warnings)) in requests.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
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

/// `GET /v1/world`: what is serving.
async fn get_world(State(s): State<Arc<Shared>>) -> Response {
    let installed = s.live.snapshot();
    let loaded = installed.engine.loaded_at;
    let mut out = json!({
        "version": installed.version,
        "loaded_at": rfc3339(loaded),
        "loaded_at_unix": unix_seconds(loaded),
        "counts": counts(&installed.engine),
        "warnings": installed.engine.world().warnings.len(),
    });
    if let Ok(origin) = s.origin.lock() {
        if origin.version == installed.version {
            out["source"] = origin.source.clone().into();
            out["trigger"] = origin.trigger.into();
            out["compile_ms"] = origin.compile_ms.into();
        }
    }
    json_response(StatusCode::OK, &out, Some(installed.version))
}

/// `GET /health`.
async fn health(State(s): State<Arc<Shared>>) -> Response {
    let version = s.live.load().version;
    json_response(
        StatusCode::OK,
        &json!({"status": "ok", "world_version": version}),
        None,
    )
}

/// `GET /metrics`.
async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let installed = s.live.snapshot();
    let gauges = WorldGauges {
        version: installed.version,
        loaded_at: unix_seconds(installed.engine.loaded_at),
        counts: count_list(&installed.engine),
    };
    let text = s.metrics.render(&gauges);
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
