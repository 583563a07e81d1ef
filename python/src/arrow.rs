//! Moving record batches between pyarrow and Rust through the Arrow C data interface: no copy of
//! the column buffers and no Python loop over rows. A batch crosses as a struct array
//! (`RecordBatch._export_to_c` / `_import_from_c`).

use arrow_array::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{
    Array, BinaryArray, LargeBinaryArray, LargeStringArray, RecordBatch, StringArray, StructArray,
};
use arrow_schema::DataType;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Takes a `pyarrow.RecordBatch` into Rust.
pub fn import_batch(batch: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    let mut array = FFI_ArrowArray::empty();
    let mut schema = FFI_ArrowSchema::empty();
    batch.call_method1(
        "_export_to_c",
        (
            &mut array as *mut FFI_ArrowArray as usize,
            &mut schema as *mut FFI_ArrowSchema as usize,
        ),
    )?;
    // SAFETY: pyarrow has just filled both structures with a valid export of the batch, and
    // `from_ffi` takes ownership of the array (its release callback runs when the data drops).
    let data = unsafe { from_ffi(array, &schema) }
        .map_err(|e| PyValueError::new_err(format!("not an Arrow record batch: {e}")))?;
    if !matches!(data.data_type(), DataType::Struct(_)) {
        return Err(PyValueError::new_err("expected a pyarrow.RecordBatch"));
    }
    Ok(RecordBatch::from(StructArray::from(data)))
}

/// Hands a record batch to pyarrow as a `pyarrow.RecordBatch`.
pub fn export_batch(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    let data = StructArray::from(batch).into_data();
    let (mut array, mut schema) =
        to_ffi(&data).map_err(|e| PyValueError::new_err(format!("cannot export: {e}")))?;
    let class = py.import("pyarrow")?.getattr("RecordBatch")?;
    // pyarrow moves the exported structures out (leaving them released), so dropping ours
    // afterwards frees nothing twice.
    class.call_method1(
        "_import_from_c",
        (
            &mut array as *mut FFI_ArrowArray as usize,
            &mut schema as *mut FFI_ArrowSchema as usize,
        ),
    )
}

/// A column of text, whichever of Arrow's string or binary types it was sent as.
pub enum Text<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
}

impl<'a> Text<'a> {
    /// The column `name` of `batch`: `Ok(None)` when absent, an error when not text.
    pub fn column(batch: &'a RecordBatch, name: &str) -> Result<Option<Text<'a>>, String> {
        let Some(col) = batch.column_by_name(name) else {
            return Ok(None);
        };
        let any = col.as_any();
        let text = match col.data_type() {
            DataType::Utf8 => any.downcast_ref().map(Text::Utf8),
            DataType::LargeUtf8 => any.downcast_ref().map(Text::LargeUtf8),
            DataType::Binary => any.downcast_ref().map(Text::Binary),
            DataType::LargeBinary => any.downcast_ref().map(Text::LargeBinary),
            DataType::Null => None,
            other => return Err(format!("column {name}: expected text, found {other}")),
        };
        Ok(text)
    }

    /// The column `name`, which must be there.
    pub fn required(batch: &'a RecordBatch, name: &str) -> Result<Text<'a>, String> {
        Text::column(batch, name)?.ok_or_else(|| format!("column {name} is missing"))
    }

    /// Row `i` as bytes, `None` when null.
    pub fn bytes(&self, i: usize) -> Option<&'a [u8]> {
        match self {
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::LargeUtf8(a) => a.is_valid(i).then(|| a.value(i).as_bytes()),
            Text::Binary(a) => a.is_valid(i).then(|| a.value(i)),
            Text::LargeBinary(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }

    /// Row `i` as text, `None` when null or not UTF-8.
    pub fn str(&self, i: usize) -> Option<&'a str> {
        match self {
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Text::LargeUtf8(a) => a.is_valid(i).then(|| a.value(i)),
            _ => self.bytes(i).and_then(|b| std::str::from_utf8(b).ok()),
        }
    }
}
