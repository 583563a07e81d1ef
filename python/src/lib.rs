//! keyward for Python: worlds, the compiled engine, Arrow-native batches and CloudTrail mapping,
//! for notebooks and for Spark executors (python/keyward/spark.py). The Python package
//! `keyward` wraps this native module (`keyward._native`) with dict-friendly functions.
//!
//! Every decision is made by keyward's own engine and every CloudTrail record is read and mapped
//! by keyward's own replay code (docs/semantics.md §8); this crate only moves data between
//! Python, Arrow and those. The GIL is released while deciding.

mod arrow;
mod rows;

use keyward::engine::Engine as CoreEngine;
use keyward::{Request, World as CoreWorld};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A policy set: keys, their policies and grants, principals and their IAM policies
/// (docs/formats.md, "Worlds").
#[pyclass(module = "keyward._native", frozen)]
struct World {
    world: CoreWorld,
    /// SHA-256 of the text the world was read from, hex.
    digest: String,
}

#[pymethods]
impl World {
    /// Loads a world from a JSON file; raises `ValueError` naming the file and field when it is
    /// not a valid world, `OSError` when it cannot be read.
    #[classmethod]
    fn load(_cls: &Bound<'_, PyType>, path: &str) -> PyResult<World> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PyOSError::new_err(format!("{path}: {e}")))?;
        world_from(&text, path)
    }

    /// Reads a world from JSON text; `source` names it in error messages.
    #[classmethod]
    #[pyo3(signature = (text, source = "(world)"))]
    fn from_json(_cls: &Bound<'_, PyType>, text: &str, source: &str) -> PyResult<World> {
        world_from(text, source)
    }

    /// SHA-256 of the world's JSON text, hex: the key executors cache compiled engines by.
    #[getter]
    fn digest(&self) -> String {
        self.digest.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "World(keys={}, principals={}, digest={}…)",
            self.world.keys.len(),
            self.world.principals.len(),
            &self.digest[..12]
        )
    }
}

fn world_from(text: &str, source: &str) -> PyResult<World> {
    let world = CoreWorld::from_json(text, source)
        .map_err(|e| PyValueError::new_err(format!("{source}: {e}")))?;
    Ok(World {
        world,
        digest: hex(&Sha256::digest(text.as_bytes())),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A world compiled for fast checks. Compiling costs time once; checks are then microseconds.
#[pyclass(module = "keyward._native", frozen)]
struct Engine {
    engine: Arc<CoreEngine>,
}

#[pymethods]
impl Engine {
    /// Compiles `world`.
    #[new]
    fn new(py: Python<'_>, world: &World) -> Engine {
        let w = world.world.clone();
        let engine = py.detach(|| CoreEngine::compile(w));
        Engine {
            engine: Arc::new(engine),
        }
    }

    /// Decides one request given as JSON text (docs/formats.md, "Requests"); returns the
    /// decision as JSON text, as `keyward check` prints it. Raises `ValueError` on a bad request.
    fn check_json(&self, py: Python<'_>, request: &str) -> PyResult<String> {
        py.detach(|| decide_json(&self.engine, request))
            .map_err(PyValueError::new_err)
    }

    /// Decides many requests given as JSON texts, without the GIL; a bad request gives an
    /// `ImplicitDeny` whose `error` field says why, so one bad line does not lose the batch.
    fn check_batch_json(&self, py: Python<'_>, requests: Vec<String>) -> Vec<String> {
        py.detach(|| {
            requests
                .iter()
                .map(|r| decide_json(&self.engine, r).unwrap_or_else(|e| bad_request_json(&e)))
                .collect()
        })
    }

    /// Decides an Arrow record batch of requests (columns principal, action, resource, and
    /// optionally context, encryption_context, grant_id, request_extra; the JSON ones as JSON
    /// text) and returns a record batch with the columns decision and reasons (JSON text), and
    /// error (why a row could not be read as a request; its decision is then `ImplicitDeny`).
    fn check_arrow<'py>(
        &self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let input = arrow::import_batch(batch)?;
        let out = py
            .detach(|| rows::check_batch(&self.engine, &input))
            .map_err(PyValueError::new_err)?;
        arrow::export_batch(py, out)
    }

    /// Replays a batch of CloudTrail log files (columns file: how reports name it, file_index:
    /// its position in the input order, content: its bytes, gzip or not) against this engine
    /// and, with `against`, a second one. Returns one row per record with what happened to it
    /// (see `keyward.spark`): the rows add up to `keyward replay --json`'s summary.
    #[pyo3(signature = (batch, against = None))]
    fn replay_files<'py>(
        &self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
        against: Option<&Engine>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let input = arrow::import_batch(batch)?;
        let against = against.map(|a| a.engine.clone());
        let out = py
            .detach(|| rows::replay_files(&self.engine, against.as_deref(), &input))
            .map_err(PyValueError::new_err)?;
        arrow::export_batch(py, out)
    }
}

/// Maps a batch of raw CloudTrail records (column record: one record's JSON text per row) to
/// requests, with keyward's own mapping (docs/semantics.md §8.3). Output columns: status
/// (request, not_kms, skipped, bad), reason, event_id, recorded (allowed, denied or the error
/// code), and the request columns principal, action, resource, context, encryption_context,
/// grant_id, request_extra that `Engine.check_arrow` takes.
#[pyfunction]
fn map_records<'py>(py: Python<'py>, batch: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let input = arrow::import_batch(batch)?;
    let out = py
        .detach(|| rows::map_records(&input))
        .map_err(PyValueError::new_err)?;
    arrow::export_batch(py, out)
}

fn decide_json(engine: &CoreEngine, text: &str) -> Result<String, String> {
    let (request, _warnings) = Request::from_json(text).map_err(|e| e.to_string())?;
    Ok(engine.decide(&request).to_value(None).to_string())
}

fn bad_request_json(error: &str) -> String {
    serde_json::json!({"decision": "ImplicitDeny", "reasons": [], "error": error}).to_string()
}

/// The native half of the `keyward` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<World>()?;
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(map_records, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
