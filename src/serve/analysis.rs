//! `GET /v1/who-can` and `GET /v1/what-can` (docs/http-api.md, docs/analysis.md): the analysis
//! commands answered from the live world. The analysis index is built once per installed world
//! and kept beside it.

use super::Shared;
use crate::actions::ActionSet;
use crate::analysis::{analysed_actions, Analyzer, Index};
use crate::arn::Caller;
use crate::engine::Engine;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The index of the most recently analysed world, with the engine that holds that world.
static INDEX: Mutex<Option<(Arc<Engine>, Arc<Index>)>> = Mutex::new(None);

fn index_for(engine: &Arc<Engine>) -> Arc<Index> {
    if let Ok(guard) = INDEX.lock() {
        if let Some((e, i)) = guard.as_ref() {
            if Arc::ptr_eq(e, engine) {
                return i.clone();
            }
        }
    }
    let index = Arc::new(Index::build(engine.world()));
    if let Ok(mut guard) = INDEX.lock() {
        *guard = Some((engine.clone(), index.clone()));
    }
    index
}

fn answer(status: StatusCode, body: &Value, version: Option<u64>) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(v) = version {
        r.headers_mut()
            .insert(super::routes::VERSION_HEADER, HeaderValue::from(v));
    }
    r
}

fn bad(field: &str, message: String) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        &json!({"error": message, "field": field}),
        None,
    )
}

fn wanted(params: &[(String, String)]) -> Result<ActionSet, String> {
    let mut set = ActionSet::EMPTY;
    let mut any = false;
    for (k, v) in params {
        if k != "action" {
            continue;
        }
        any = true;
        let named = ActionSet::matching(v);
        set.0 |= named.0;
        if named == ActionSet::EMPTY {
            return Err(format!("no KMS action matches {v:?}"));
        }
    }
    Ok(if any {
        ActionSet(set.0 & analysed_actions().0)
    } else {
        analysed_actions()
    })
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `GET /v1/who-can?key=ARN&action=kms:Decrypt…`.
pub async fn who_can(
    State(s): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let installed = s.live.snapshot();
    let Some(key) = param(&params, "key").map(str::to_owned) else {
        return bad("key", "the key query parameter is required".into());
    };
    let set = match wanted(&params) {
        Ok(s) => s,
        Err(e) => return bad("action", e),
    };
    let version = installed.version;
    let run = move || {
        let engine = &installed.engine;
        let index = index_for(engine);
        let an = Analyzer::with_index(engine.world(), &index);
        match an.resolve_key(&key) {
            Some(k) => answer(
                StatusCode::OK,
                &an.who_can(k, set).to_json(engine.world()),
                Some(version),
            ),
            None => answer(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("the world holds no key {key:?}"), "field": "key"}),
                Some(version),
            ),
        }
    };
    tokio::task::spawn_blocking(run).await.unwrap_or_else(|_| {
        answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "analysis failed"}),
            None,
        )
    })
}

/// `GET /v1/what-can?principal=ARN&action=…`.
pub async fn what_can(
    State(s): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let installed = s.live.snapshot();
    let Some(principal) = param(&params, "principal") else {
        return bad(
            "principal",
            "the principal query parameter is required".into(),
        );
    };
    let caller = match Caller::parse(principal) {
        Ok(c) => c,
        Err(e) => return bad("principal", e),
    };
    let set = match wanted(&params) {
        Ok(s) => s,
        Err(e) => return bad("action", e),
    };
    let version = installed.version;
    let run = move || {
        let engine = &installed.engine;
        let index = index_for(engine);
        let an = Analyzer::with_index(engine.world(), &index);
        answer(
            StatusCode::OK,
            &an.what_can(&caller, set).to_json(engine.world()),
            Some(version),
        )
    };
    tokio::task::spawn_blocking(run).await.unwrap_or_else(|_| {
        answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "analysis failed"}),
            None,
        )
    })
}
