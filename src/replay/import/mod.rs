//! Building a world (docs/formats.md (Worlds)) from the AWS CLI's own JSON outputs, so that a real account can be
//! decided and replayed without hand-editing: `aws kms describe-key`, `get-key-policy`,
//! `list-grants`, `list-aliases`, `list-resource-tags`, `list-keys`, and
//! `aws iam get-account-authorization-details`.
//!
//! Each file is recognized by its shape (`KeyMetadata`, `Policy`, `Grants`, `Aliases`, `Tags`,
//! `Keys`, `UserDetailList`…), or read as the kind the caller names. Two outputs do not say which
//! key they describe — `get-key-policy` and `list-resource-tags` — so their key is given as
//! `KEY=FILE` or found in the file's path (a key id or `mrk-` id as a file or folder name, as in
//! `keys/1234abcd-…/policy.json`). Key ids are turned into ARNs with the `describe-key` or
//! `list-keys` outputs. Everything is gathered first and resolved at the end, so files may come
//! in any order.
//!
//! This lives beside replay because importing an account is the first step of replaying its
//! logs; it shares nothing else with it.

mod iam;
mod kms;
mod org;

use serde_json::{Map, Value};
use std::path::Path;

/// The AWS CLI outputs keyward reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `aws kms describe-key`: `{"KeyMetadata": {...}}`.
    DescribeKey,
    /// `aws kms get-key-policy`: `{"Policy": "<json>", "PolicyName": "default"}`.
    KeyPolicy,
    /// `aws kms list-grants`: `{"Grants": [...]}`.
    ListGrants,
    /// `aws kms list-aliases`: `{"Aliases": [...]}`.
    ListAliases,
    /// `aws kms list-resource-tags`: `{"Tags": [{"TagKey", "TagValue"}]}`.
    ListResourceTags,
    /// `aws kms list-keys`: `{"Keys": [{"KeyId", "KeyArn"}]}`.
    ListKeys,
    /// `aws iam get-account-authorization-details`.
    AuthorizationDetails,
    /// `aws organizations describe-organization`: `{"Organization": {...}}`.
    DescribeOrganization,
    /// `aws organizations list-roots`: `{"Roots": [...]}`.
    ListRoots,
    /// `aws organizations list-organizational-units-for-parent`.
    ListOrganizationalUnits,
    /// `aws organizations list-accounts-for-parent`.
    ListAccountsForParent,
    /// `aws organizations list-policies`: `{"Policies": [{"Id", "Type", …}]}`.
    ListPolicies,
    /// `aws organizations describe-policy`: `{"Policy": {"PolicySummary", "Content"}}`.
    DescribePolicy,
    /// `aws organizations list-targets-for-policy`: `{"Targets": [...]}`.
    ListTargetsForPolicy,
    /// `aws ec2 describe-vpc-endpoints`: `{"VpcEndpoints": [...]}`.
    DescribeVpcEndpoints,
}

impl Kind {
    /// The AWS CLI command that prints this output.
    pub fn command(self) -> &'static str {
        match self {
            Kind::DescribeKey => "aws kms describe-key",
            Kind::KeyPolicy => "aws kms get-key-policy",
            Kind::ListGrants => "aws kms list-grants",
            Kind::ListAliases => "aws kms list-aliases",
            Kind::ListResourceTags => "aws kms list-resource-tags",
            Kind::ListKeys => "aws kms list-keys",
            Kind::AuthorizationDetails => "aws iam get-account-authorization-details",
            Kind::DescribeOrganization => "aws organizations describe-organization",
            Kind::ListRoots => "aws organizations list-roots",
            Kind::ListOrganizationalUnits => {
                "aws organizations list-organizational-units-for-parent"
            }
            Kind::ListAccountsForParent => "aws organizations list-accounts-for-parent",
            Kind::ListPolicies => "aws organizations list-policies",
            Kind::DescribePolicy => "aws organizations describe-policy",
            Kind::ListTargetsForPolicy => "aws organizations list-targets-for-policy",
            Kind::DescribeVpcEndpoints => "aws ec2 describe-vpc-endpoints",
        }
    }

    /// Recognizes an output by its top-level fields.
    pub fn detect(value: &Value) -> Option<Kind> {
        let o = value.as_object()?;
        let has = |k: &str| o.contains_key(k);
        let summaries = o
            .get("Policies")
            .and_then(Value::as_array)
            .and_then(|p| p.first())
            .is_some_and(|p| p.get("Type").is_some());
        Some(if has("KeyMetadata") {
            Kind::DescribeKey
        } else if o
            .get("Policy")
            .is_some_and(|p| p.get("PolicySummary").is_some())
        {
            Kind::DescribePolicy
        } else if has("Organization") {
            Kind::DescribeOrganization
        } else if has("Roots") {
            Kind::ListRoots
        } else if has("OrganizationalUnits") {
            Kind::ListOrganizationalUnits
        } else if has("Accounts") {
            Kind::ListAccountsForParent
        } else if has("Targets") {
            Kind::ListTargetsForPolicy
        } else if has("VpcEndpoints") {
            Kind::DescribeVpcEndpoints
        } else if summaries {
            Kind::ListPolicies
        } else if has("Policy") {
            Kind::KeyPolicy
        } else if has("Grants") {
            Kind::ListGrants
        } else if has("Aliases") {
            Kind::ListAliases
        } else if has("Tags") {
            Kind::ListResourceTags
        } else if has("Keys") {
            Kind::ListKeys
        } else if [
            "UserDetailList",
            "RoleDetailList",
            "GroupDetailList",
            "Policies",
        ]
        .iter()
        .any(|k| has(k))
        {
            Kind::AuthorizationDetails
        } else {
            return None;
        })
    }
}

/// What an import produced: the world, and what the user should know about it.
#[derive(Debug, Default)]
pub struct Imported {
    pub world: Value,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

/// Gathers AWS CLI outputs and builds a world from them.
#[derive(Debug, Default)]
pub struct Importer {
    kms: kms::Kms,
    iam: iam::Iam,
    org: org::Org,
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl Importer {
    /// An empty importer.
    pub fn new() -> Importer {
        Importer::default()
    }

    /// Reads a file, or every `*.json` file under a folder (recursively, in name order). `kind`
    /// forces how files are read (otherwise by shape); `key` names the key of a key policy or tag
    /// list (otherwise found in the path).
    pub fn add_path(&mut self, path: &Path, kind: Option<Kind>, key: Option<&str>) {
        if path.is_dir() {
            let mut files = Vec::new();
            collect_json(path, &mut files, &mut self.errors);
            files.sort();
            if files.is_empty() {
                self.errors.push(format!(
                    "{}: the folder holds no *.json files",
                    path.display()
                ));
            }
            for f in files {
                self.add_file(&f, kind, key);
            }
        } else {
            self.add_file(path, kind, key);
        }
    }

    fn add_file(&mut self, path: &Path, kind: Option<Kind>, key: Option<&str>) {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return self.errors.push(format!("{shown}: cannot read: {e}")),
        };
        let value = match crate::json::parse(&text) {
            Ok(v) => v,
            Err(e) => return self.errors.push(format!("{shown}: invalid JSON: {e}")),
        };
        self.add_value(&value, &shown, kind, key);
    }

    /// Adds one parsed output; `source` names it in messages (and may hold the key id).
    pub fn add_value(
        &mut self,
        value: &Value,
        source: &str,
        kind: Option<Kind>,
        key: Option<&str>,
    ) {
        let Some(detected) = Kind::detect(value) else {
            return self.errors.push(format!(
                "{source}: not an output keyward imports (expected the JSON of describe-key, get-key-policy, list-grants, list-aliases, list-resource-tags, list-keys, get-account-authorization-details, an organizations command or describe-vpc-endpoints)"
            ));
        };
        let kind = kind.unwrap_or(detected);
        if kind != detected {
            return self.errors.push(format!(
                "{source}: expected the output of `{}`, found that of `{}`",
                kind.command(),
                detected.command()
            ));
        }
        let Some(o) = value.as_object() else { return };
        let errors = &mut self.errors;
        match kind {
            Kind::DescribeKey => self.kms.describe_key(o, source, errors),
            Kind::KeyPolicy => self.kms.key_policy(o, source, key, errors),
            Kind::ListGrants => self.kms.grants(o, source, errors),
            Kind::ListAliases => self.kms.aliases(o, source, errors),
            Kind::ListResourceTags => self.kms.tags(o, source, key, errors),
            Kind::ListKeys => self.kms.list_keys(o, source, errors),
            Kind::AuthorizationDetails => self.iam.add(o, source, errors),
            Kind::DescribeOrganization => self.org.organization(o, source, errors),
            Kind::ListRoots => self.org.roots(o, source, errors),
            Kind::ListOrganizationalUnits => self.org.children(o, source, key, false, errors),
            Kind::ListAccountsForParent => self.org.children(o, source, key, true, errors),
            Kind::ListPolicies => self.org.list_policies(o),
            Kind::DescribePolicy => self.org.describe_policy(o, source, errors),
            Kind::ListTargetsForPolicy => self.org.targets(o, source, key, errors),
            Kind::DescribeVpcEndpoints => self.org.endpoints(o, &mut self.warnings, source),
        }
    }

    /// Resolves everything gathered into a world. The world loads with
    /// [`crate::world::World::from_value`] when `errors` is empty.
    pub fn finish(self) -> Imported {
        let mut imported = Imported {
            errors: self.errors,
            warnings: self.warnings,
            ..Imported::default()
        };
        let mut world = Map::new();
        let (keys, grants) = self
            .kms
            .finish(&mut imported.warnings, &mut imported.errors);
        let (principals, groups) = self
            .iam
            .finish(&mut imported.warnings, &mut imported.errors);
        world.insert("keys".into(), Value::Array(keys));
        if !principals.is_empty() {
            world.insert("principals".into(), Value::Array(principals));
        }
        if !groups.is_empty() {
            world.insert("groups".into(), Value::Array(groups));
        }
        if !grants.is_empty() {
            world.insert("grants".into(), Value::Array(grants));
        }
        self.org.finish(&mut world, &mut imported.warnings);
        imported.world = Value::Object(world);
        imported
    }
}

fn collect_json(dir: &Path, out: &mut Vec<std::path::PathBuf>, errors: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(format!("{}: cannot read folder: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if p.is_dir() {
            collect_json(&p, out, errors);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// A KMS key id in a piece of text: a UUID (`1234abcd-12ab-34cd-56ef-1234567890ab`) or a
/// multi-Region key id (`mrk-` and 32 hex digits).
fn key_id_in(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    for start in 0..b.len() {
        if b[start..].starts_with(b"mrk-")
            && b.len() >= start + 36
            && b[start + 4..start + 36].iter().all(u8::is_ascii_hexdigit)
        {
            let end = start + 36;
            if b.get(end).is_none_or(|c| !c.is_ascii_hexdigit()) {
                return Some(&text[start..end]);
            }
        }
        if b.len() >= start + 36 && (start == 0 || !b[start - 1].is_ascii_hexdigit()) {
            let s = &b[start..start + 36];
            let shape = s.iter().enumerate().all(|(i, c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    *c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
            if shape && b.get(start + 36).is_none_or(|c| !c.is_ascii_hexdigit()) {
                return Some(&text[start..start + 36]);
            }
        }
    }
    None
}

/// A policy document as the AWS CLI prints it: an object, a JSON string, or (from the raw API)
/// a URL-encoded JSON string.
fn policy_document(v: &Value) -> Result<Value, String> {
    match v {
        Value::Object(_) => Ok(v.clone()),
        Value::String(s) => {
            if let Ok(doc) = crate::json::parse(s) {
                return Ok(doc);
            }
            let decoded = percent_decode(s)
                .ok_or("a policy string that is neither JSON nor URL-encoded JSON")?;
            crate::json::parse(&decoded)
                .map_err(|e| format!("a URL-encoded policy that is not valid JSON: {e}"))
        }
        _ => Err("a policy document must be an object or a string".into()),
    }
}

/// Decodes `%XX` escapes (and `+` as a space, as form encoding writes it).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_key_ids_in_paths() {
        assert_eq!(
            key_id_in("keys/1234abcd-12ab-34cd-56ef-1234567890ab/policy.json"),
            Some("1234abcd-12ab-34cd-56ef-1234567890ab")
        );
        assert_eq!(
            key_id_in("policy-mrk-1234abcd12ab34cd56ef1234567890ab.json"),
            Some("mrk-1234abcd12ab34cd56ef1234567890ab")
        );
        assert_eq!(key_id_in("policy.json"), None);
        assert_eq!(key_id_in("x1234abcd-12ab-34cd-56ef-1234567890abc"), None);
    }

    #[test]
    fn reads_policy_documents_in_every_form() {
        let obj = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        assert_eq!(policy_document(&obj).unwrap(), obj);
        assert_eq!(policy_document(&Value::from(obj.to_string())).unwrap(), obj);
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(policy_document(&Value::from(encoded)).unwrap(), obj);
        assert!(policy_document(&Value::from("%ZZ")).is_err());
    }
}
