//! `keyward validate`: check policy documents, worlds and test files, and print every finding
//! with its file, statement and field.

use super::{count, paint, Paint, BAD_INPUT, OK};
use crate::policy::{parse_policy, Finding, ParseOptions, PolicyKind, Severity};
use crate::replay::import::{Importer, Kind as ImportKind};
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
    let summary = format!(
        "{} checked: {}, {}",
        count(files.len(), "file", "files"),
        count(errors, "error", "errors"),
        count(warnings, "warning", "warnings")
    );
    let style = match (errors, warnings) {
        (0, 0) => Paint::Ok,
        (0, _) => Paint::Warn,
        _ => Paint::Bad,
    };
    println!("{}", paint(style, &summary));
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
    let text = match crate::json::read_text_file(file) {
        Ok(t) => t,
        Err(e) => return error(e),
    };
    let value = match crate::json::parse(&text) {
        Ok(v) => v,
        Err(e) => return error(format!("invalid JSON: {e}")),
    };
    // A policy document given as a JSON string, as the world loader accepts a key's `policy`.
    if let Value::String(doc) = &value {
        return match crate::json::parse(doc) {
            Ok(v) if v.get("Statement").is_some() => {
                policy_findings(&v, doc, kind, options, &shown)
            }
            _ => error("a JSON string that is not a policy document".into()),
        };
    }
    let Some(obj) = value.as_object() else {
        return error("not a policy document, world or test file (not a JSON object)".into());
    };
    if let Some(kind) = crate::replay::import::Kind::detect(&value) {
        if !obj.contains_key("Statement") {
            return aws_cli_findings(&value, kind, options, &shown);
        }
    }
    if obj.contains_key("Statement") {
        return policy_findings(&value, &text, kind, options, &shown);
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
    if obj.contains_key("Records") {
        return error(
            "a CloudTrail log, not a policy, world or test file: replay it with `keyward replay`"
                .into(),
        );
    }
    error("not a policy document ({\"Statement\": ...}), a world, a test file or an AWS CLI output keyward imports".into())
}

/// The findings for one policy document; `text` is its JSON as written (for the size limit).
fn policy_findings(
    policy: &Value,
    text: &str,
    kind: Kind,
    options: &ParseOptions,
    shown: &str,
) -> Vec<Finding> {
    let kind = match kind {
        Kind::Key => PolicyKind::Key,
        Kind::Identity => PolicyKind::Identity,
        Kind::Auto if names_principals(policy) => PolicyKind::Key,
        Kind::Auto => PolicyKind::Identity,
    };
    let findings = match parse_policy(policy, Some(text), kind, options) {
        Ok((_, warnings)) => warnings,
        Err(errors) => errors,
    };
    findings.into_iter().map(|f| f.within(shown)).collect()
}

/// The findings for an AWS CLI output that `keyward import` reads: the key policy inside
/// `get-key-policy`'s output is checked as a key policy; the other outputs are imported on
/// their own and the world they make is loaded, so every error `import` or a world would report
/// is found. Warnings about what a lone file leaves out (a key without its policy) are not
/// findings about the file.
fn aws_cli_findings(
    value: &Value,
    kind: ImportKind,
    options: &ParseOptions,
    shown: &str,
) -> Vec<Finding> {
    let error = |place: String, message: String| Finding {
        severity: Severity::Error,
        place,
        message,
    };
    if kind == ImportKind::KeyPolicy {
        let place = format!("{shown}: Policy");
        return match &value["Policy"] {
            Value::String(doc) => match crate::json::parse(doc) {
                Ok(v) => policy_findings(&v, doc, Kind::Key, options, &place),
                Err(e) => vec![error(place, format!("not a JSON policy document: {e}"))],
            },
            v @ Value::Object(_) => policy_findings(v, &v.to_string(), Kind::Key, options, &place),
            _ => vec![error(
                place,
                "must be the key policy as a JSON string".into(),
            )],
        };
    }
    let mut importer = Importer::new();
    // A stand-in key for outputs that do not name theirs (list-resource-tags).
    let key = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
    importer.add_value(value, shown, Some(kind), Some(key));
    let imported = importer.finish();
    let mut out: Vec<Finding> = imported
        .errors
        .into_iter()
        .map(|e| error(shown.to_owned(), e))
        .collect();
    if out.is_empty() {
        match World::from_value(&imported.world, shown) {
            Ok(w) if kind == ImportKind::AuthorizationDetails => out.extend(w.warnings),
            Ok(_) => {}
            Err(e) => out.extend(e.errors),
        }
    }
    out
}

fn names_principals(policy: &Value) -> bool {
    let has = |s: &Value| s.get("Principal").is_some() || s.get("NotPrincipal").is_some();
    match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().any(has),
        Some(s) => has(s),
        None => false,
    }
}
