//! `keyward validate`: check policy documents, worlds and test files, and print every finding
//! with its file, statement and field.

use super::{BAD_INPUT, OK};
use crate::policy::{parse_policy, Finding, ParseOptions, PolicyKind, Severity};
use crate::request::Request;
use crate::world::World;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How to read a bare policy document.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Kind {
    /// A key policy if any statement names a principal, else an identity policy.
    Auto,
    /// A KMS key policy.
    Key,
    /// An IAM identity policy.
    Identity,
}

pub fn run(paths: &[PathBuf], kind: Kind, max_key_policy_bytes: usize) -> u8 {
    let options = ParseOptions {
        max_key_policy_bytes,
    };
    let mut files = Vec::new();
    for p in paths {
        match crate::json::files_under(p, &["json"]) {
            Ok(f) => files.extend(f),
            Err(e) => {
                eprintln!("keyward: {e}");
                return BAD_INPUT;
            }
        }
    }
    let (mut errors, mut warnings) = (0usize, 0usize);
    for file in &files {
        for f in validate_file(file, kind, &options) {
            match f.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            println!("{f}");
        }
    }
    println!(
        "{} files checked: {errors} errors, {warnings} warnings",
        files.len()
    );
    if errors > 0 {
        BAD_INPUT
    } else {
        OK
    }
}

/// Every finding for one file: policy document, world or test-case file.
pub fn validate_file(file: &Path, kind: Kind, options: &ParseOptions) -> Vec<Finding> {
    let shown = file.display().to_string();
    let error = |message: String| {
        vec![Finding {
            severity: Severity::Error,
            place: shown.clone(),
            message,
        }]
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return error(format!("cannot read: {e}")),
    };
    let value = match crate::json::parse(&text) {
        Ok(v) => v,
        Err(e) => return error(format!("invalid JSON: {e}")),
    };
    let Some(obj) = value.as_object() else {
        return error("not a policy document, world or test file (not a JSON object)".into());
    };
    if obj.contains_key("Statement") {
        let kind = match kind {
            Kind::Key => PolicyKind::Key,
            Kind::Identity => PolicyKind::Identity,
            Kind::Auto => {
                if names_principals(&value) {
                    PolicyKind::Key
                } else {
                    PolicyKind::Identity
                }
            }
        };
        let findings = match parse_policy(&value, Some(&text), kind, options) {
            Ok((_, warnings)) => warnings,
            Err(errors) => errors,
        };
        return findings.into_iter().map(|f| f.within(&shown)).collect();
    }
    if let Some(cases) = obj.get("cases").and_then(Value::as_array) {
        let mut out = Vec::new();
        for (i, case) in cases.iter().enumerate() {
            let place = format!("{shown}: cases[{i}]");
            if let Some(w) = case.get("world") {
                match World::from_value(w, &format!("{place} world")) {
                    Ok(w) => out.extend(w.warnings),
                    Err(e) if case.get("expect_error").is_some() => drop(e),
                    Err(e) => out.extend(e.errors),
                }
            }
            if let Some(r) = case.get("request") {
                if let Err(e) = Request::from_value(r) {
                    if case.get("expect_error").is_none() {
                        out.push(Finding {
                            severity: Severity::Error,
                            place: format!("{place} request"),
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        return out;
    }
    if ["keys", "principals", "groups", "grants", "accounts"]
        .iter()
        .any(|k| obj.contains_key(*k))
    {
        return match World::load_with(file, options) {
            Ok(w) => w.warnings,
            Err(e) => e.errors,
        };
    }
    error("not a policy document ({\"Statement\": ...}), a world or a test file".into())
}

fn names_principals(policy: &Value) -> bool {
    let has = |s: &Value| s.get("Principal").is_some() || s.get("NotPrincipal").is_some();
    match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().any(has),
        Some(s) => has(s),
        None => false,
    }
}
