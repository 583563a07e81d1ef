//! Strict JSON reading: like `serde_json::from_str::<Value>`, but a repeated key in an object is an
//! error instead of silently keeping the last value (docs/semantics.md §1.1: a policy member may appear only
//! once, and a silent misread of a policy is a security bug).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Parses `text` as one JSON value, rejecting duplicate object keys. A leading UTF-8 byte order
/// mark, which some editors write, is skipped.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let StrictValue(value) = StrictValue::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// `bytes` as UTF-8 text without a leading byte order mark; invalid UTF-8 is an error giving
/// the line, column and byte offset of the first bad byte.
pub fn utf8_text(bytes: &[u8]) -> Result<&str, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        // Valid UTF-8 up to `at`: count characters for the column.
        let column =
            std::str::from_utf8(&before[line_start..]).map_or(0, |t| t.chars().count()) + 1;
        format!("not valid UTF-8 at line {line}, column {column} (byte {at})")
    })
}

/// Reads a text file: it must be a regular file (a FIFO would block the reader forever; a
/// directory or a dangling symbolic link cannot be read), in UTF-8, with or without a byte order
/// mark. The error says why, without the path (callers name the file).
pub fn read_text_file(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            format!("cannot read: a symbolic link whose target cannot be read: {e}")
        } else {
            format!("cannot read: {e}")
        }
    })?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err("cannot read: a directory, not a file".into());
    }
    if !ft.is_file() {
        return Err("cannot read: not a regular file (a FIFO, socket or device)".into());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    utf8_text(&bytes)
        .map(str::to_owned)
        .map_err(|e| format!("cannot read: {e}"))
}

/// How an error message names the type of a JSON value ("a string", "an array", …).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `path` itself when it is a file; else every file below it, recursively and sorted, whose
/// extension is one of `extensions`.
pub fn files_under(
    path: &std::path::Path,
    extensions: &[&str],
) -> Result<Vec<std::path::PathBuf>, String> {
    fn walk(
        path: &std::path::Path,
        extensions: &[&str],
        out: &mut Vec<std::path::PathBuf>,
    ) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_dir() {
            out.push(path.to_path_buf());
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            // A `*.json` entry is listed whatever it is, so that a directory, FIFO or dangling
            // link by that name is reported by its reader rather than silently left out.
            if p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                out.push(p);
            } else if p.is_dir() {
                walk(&p, extensions, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(path, extensions, &mut out)?;
    Ok(out)
}

/// A JSON value deserialized with duplicate-key detection.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_mark_is_skipped_and_bad_utf8_located() {
        assert_eq!(parse("\u{feff}{\"a\": 1}").unwrap()["a"], 1);
        assert_eq!(utf8_text(b"\xEF\xBB\xBF{}").unwrap(), "{}");
        let e = utf8_text(b"{\n  \"a\": \"\xff\"}").unwrap_err();
        assert!(e.contains("line 2, column 9 (byte 10)"), "{e}");
    }

    #[test]
    fn rejects_duplicate_keys_anywhere() {
        assert!(super::parse(r#"{"a": 1, "b": {"c": 1, "c": 2}}"#)
            .unwrap_err()
            .to_string()
            .contains("duplicate key \"c\""));
        assert!(super::parse(r#"{"a": [1, {"x": true}]}"#).is_ok());
        assert!(super::parse(r#"{"a": 1} {"#).is_err());
    }
}
