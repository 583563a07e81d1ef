//! Loading a world from JSON (docs/formats.md (Worlds)): one file, a directory of `*.json` files merged, or an
//! inline value. Every error names the file, the object (key, principal, grant) and the field.

mod guardrails;

use super::*;
use crate::json::type_name;
use crate::policy::{parse_policy, ParseOptions, PolicyKind, Severity};
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

/// Why a world could not be loaded: every error found, each naming its place.
#[derive(Debug, Clone)]
pub struct LoadError {
    pub errors: Vec<Finding>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn one(place: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError {
            errors: vec![Finding {
                severity: Severity::Error,
                place: place.into(),
                message: message.into(),
            }],
        }
    }
}

impl World {
    /// Loads a world from a JSON file, or from a directory whose `*.json` files are merged.
    pub fn load(path: impl AsRef<Path>) -> Result<World, LoadError> {
        World::load_with(path.as_ref(), &ParseOptions::default())
    }

    /// [`World::load`] with explicit validation settings.
    pub fn load_with(path: &Path, options: &ParseOptions) -> Result<World, LoadError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path)
            .map_err(|e| LoadError::one(&shown, format!("cannot read: {e}")))?;
        let mut files = Vec::new();
        if meta.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| LoadError::one(&shown, format!("cannot read directory: {e}")))?;
            for entry in entries {
                let entry = entry
                    .map_err(|e| LoadError::one(&shown, format!("cannot read directory: {e}")))?;
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "json") {
                    // Every *.json entry is part of the world: one that cannot be read as a
                    // regular file is an error, never a smaller world.
                    files.push(p);
                }
            }
            files.sort();
            if files.is_empty() {
                return Err(LoadError::one(
                    &shown,
                    "directory holds no *.json world files",
                ));
            }
        } else {
            files.push(path.to_path_buf());
        }
        let mut builder = Builder::new(*options);
        for file in &files {
            let name = file.display().to_string();
            // Every *.json entry is part of the world: one that cannot be read as a regular file
            // is an error, never a smaller world.
            let text = crate::json::read_text_file(file).map_err(|e| LoadError::one(&name, e))?;
            let value = crate::json::parse(&text)
                .map_err(|e| LoadError::one(&name, format!("invalid JSON: {e}")))?;
            builder.add(&value, &name);
        }
        builder.finish()
    }

    /// Builds a world from a JSON value; `source` names it in messages.
    pub fn from_value(value: &Value, source: &str) -> Result<World, LoadError> {
        let mut builder = Builder::new(ParseOptions::default());
        builder.add(value, source);
        builder.finish()
    }

    /// Parses a world from JSON text.
    pub fn from_json(text: &str, source: &str) -> Result<World, LoadError> {
        let value = crate::json::parse(text)
            .map_err(|e| LoadError::one(source, format!("invalid JSON: {e}")))?;
        World::from_value(&value, source)
    }

    /// Builds a world from named JSON texts merged in the given order, as [`World::load`] merges
    /// the files of a directory (a world bundle unpacked in memory); each name is the place its
    /// errors are reported at.
    pub fn from_texts(files: &[(String, String)]) -> Result<World, LoadError> {
        let mut builder = Builder::new(ParseOptions::default());
        for (name, text) in files {
            let value = crate::json::parse(text)
                .map_err(|e| LoadError::one(name, format!("invalid JSON: {e}")))?;
            builder.add(&value, name);
        }
        builder.finish()
    }
}

/// The longest ARN AWS accepts (IAM and KMS identifiers are at most 2,048 characters).
pub const MAX_ARN_BYTES: usize = 2048;

/// The partition of `arn` as written, if it is an ARN.
fn partition_of(arn: &str) -> Option<&str> {
    split_arn(arn).map(|p| p[1])
}

/// Every `AWS` principal written in a policy document's statements, with its statement index.
fn policy_principals(doc: &Value) -> Vec<(usize, String)> {
    let parsed;
    let doc = match doc {
        Value::String(s) => match crate::json::parse(s) {
            Ok(v) => {
                parsed = v;
                &parsed
            }
            Err(_) => return Vec::new(),
        },
        v => v,
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for (i, st) in statements.into_iter().enumerate() {
        for field in ["Principal", "NotPrincipal"] {
            let Some(aws) = st.get(field).and_then(|p| p.get("AWS")) else {
                continue;
            };
            match aws {
                Value::String(s) => out.push((i, s.clone())),
                Value::Array(items) => out.extend(
                    items
                        .iter()
                        .filter_map(|v| v.as_str())
                        .map(|s| (i, s.to_owned())),
                ),
                _ => {}
            }
        }
    }
    out
}

/// Whether a partition name reads as one (`aws`, `aws-cn`, `aws-us-gov`, ...).
fn is_partition(p: &str) -> bool {
    p.starts_with("aws") && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

/// Whether a Region name reads as one (`us-east-1`).
fn is_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The fields of a grant in a world: those of a ListGrants entry.
pub const GRANT_FIELDS: &[&str] = &[
    "KeyId",
    "GrantId",
    "Name",
    "CreationDate",
    "GranteePrincipal",
    "GranteeServicePrincipal",
    "RetiringPrincipal",
    "RetiringServicePrincipal",
    "IssuingAccount",
    "Operations",
    "Constraints",
];

struct Builder {
    world: World,
    options: ParseOptions,
    errors: Vec<Finding>,
    /// Where each key, principal, group and grant was defined, to name both places on a clash.
    defined_in: HashMap<String, String>,
    /// Organization policies read so far, placed in their organization once all files are read.
    pending_policies: Vec<guardrails::PendingPolicy>,
}

impl Builder {
    fn new(options: ParseOptions) -> Builder {
        Builder {
            world: World::default(),
            options,
            errors: Vec::new(),
            defined_in: HashMap::new(),
            pending_policies: Vec::new(),
        }
    }

    fn error(&mut self, place: String, message: impl Into<String>) {
        self.errors.push(Finding {
            severity: Severity::Error,
            place,
            message: message.into(),
        });
    }

    fn warn(&mut self, place: String, message: impl Into<String>) {
        self.world.warnings.push(Finding {
            severity: Severity::Warning,
            place,
            message: message.into(),
        });
    }

    fn finish(mut self) -> Result<World, LoadError> {
        self.finish_guardrails();
        let keys: std::collections::HashSet<&str> =
            self.world.keys.iter().map(|k| k.arn.as_str()).collect();
        for (i, g) in self.world.grants.iter().enumerate() {
            if !keys.contains(g.key.as_str()) {
                self.errors.push(Finding {
                    severity: Severity::Error,
                    place: format!("grants[{i}] ({}) field KeyId", g.grant_id),
                    message: format!("names key {:?}, which is not in the world", g.key),
                });
            }
        }
        let mut missing = Vec::new();
        for p in &self.world.principals {
            for g in &p.groups {
                if !self.world.groups.contains_key(g) {
                    missing.push((p.arn.clone(), g.clone()));
                }
            }
        }
        for (p, g) in missing {
            self.warn(
                format!("principal {p} field groups"),
                format!("group {g} is not in the world: its policies are not applied"),
            );
        }
        if !self.errors.is_empty() {
            return Err(LoadError {
                errors: self.errors,
            });
        }
        self.world.index();
        Ok(self.world)
    }

    /// Records that `id` is defined at `place`; an error naming both places if it already was.
    fn define(&mut self, what: &str, id: &str, place: &str) -> bool {
        let tag = format!("{what} {id}");
        if let Some(first) = self.defined_in.get(&tag) {
            let first = first.clone();
            self.error(
                place.to_owned(),
                format!("{tag} is defined twice: first at {first}"),
            );
            return false;
        }
        self.defined_in.insert(tag, place.to_owned());
        true
    }

    fn add(&mut self, value: &Value, source: &str) {
        let Some(obj) = value.as_object() else {
            self.error(
                source.to_owned(),
                format!("a world must be a JSON object, found {}", type_name(value)),
            );
            return;
        };
        for (k, v) in obj {
            let place = format!("{source}: {k}");
            let Some(items) = v.as_array() else {
                if matches!(
                    k.as_str(),
                    "accounts"
                        | "keys"
                        | "principals"
                        | "groups"
                        | "grants"
                        | "organizations"
                        | "organization_policies"
                        | "vpc_endpoints"
                        | "sessions"
                ) {
                    self.error(place, format!("must be an array, found {}", type_name(v)));
                } else {
                    self.warn(place, "unknown world field, ignored");
                }
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let place = format!("{source}: {k}[{i}]");
                let Some(o) = item.as_object() else {
                    self.error(
                        place,
                        format!("must be an object, found {}", type_name(item)),
                    );
                    continue;
                };
                match k.as_str() {
                    "accounts" => self.account(o, place),
                    "keys" => self.key(o, place),
                    "principals" => self.principal(o, place),
                    "groups" => self.group(o, place),
                    "grants" => self.grant(o, place),
                    "organizations" => self.organization(o, place),
                    "organization_policies" => self.org_policy(o, place),
                    "vpc_endpoints" => self.vpc_endpoint(o, place),
                    "sessions" => self.session(o, place),
                    _ => {
                        self.warn(format!("{source}: {k}"), "unknown world field, ignored");
                        break;
                    }
                }
            }
        }
    }

    fn unknown_fields(&mut self, o: &Map<String, Value>, place: &str, known: &[&str]) {
        for k in o.keys() {
            if !known.contains(&k.as_str()) {
                self.warn(format!("{place} field {k}"), "unknown field, ignored");
            }
        }
    }

    fn string(
        &mut self,
        o: &Map<String, Value>,
        place: &str,
        field: &str,
        required: bool,
    ) -> Option<String> {
        match o.get(field) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.error(
                    format!("{place} field {field}"),
                    format!("must be a string, found {}", type_name(v)),
                );
                None
            }
            None => {
                if required {
                    self.error(format!("{place} field {field}"), "missing");
                }
                None
            }
        }
    }

    fn string_list(&mut self, o: &Map<String, Value>, place: &str, field: &str) -> Vec<String> {
        match o.get(field) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    match v.as_str() {
                        Some(s) => out.push(s.to_owned()),
                        None => self.error(
                            format!("{place} field {field}[{i}]"),
                            format!("must be a string, found {}", type_name(v)),
                        ),
                    }
                }
                out
            }
            Some(v) => {
                self.error(
                    format!("{place} field {field}"),
                    format!("must be an array of strings, found {}", type_name(v)),
                );
                Vec::new()
            }
        }
    }

    fn string_map(
        &mut self,
        o: &Map<String, Value>,
        place: &str,
        field: &str,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match o.get(field) {
            None => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    match v.as_str() {
                        Some(s) => {
                            out.insert(k.clone(), s.to_owned());
                        }
                        None => self.error(
                            format!("{place} field {field}.{k}"),
                            format!("must be a string, found {}", type_name(v)),
                        ),
                    }
                }
            }
            // AWS CLI shape: [{"TagKey": .., "TagValue": ..}] or [{"Key": .., "Value": ..}]
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let k = item
                        .get("TagKey")
                        .or_else(|| item.get("Key"))
                        .and_then(Value::as_str);
                    let v = item
                        .get("TagValue")
                        .or_else(|| item.get("Value"))
                        .and_then(Value::as_str);
                    match (k, v) {
                        (Some(k), Some(v)) => {
                            out.insert(k.to_owned(), v.to_owned());
                        }
                        _ => self.error(
                            format!("{place} field {field}[{i}]"),
                            "must be {\"TagKey\": string, \"TagValue\": string}",
                        ),
                    }
                }
            }
            Some(v) => self.error(
                format!("{place} field {field}"),
                format!("must be an object of strings, found {}", type_name(v)),
            ),
        }
        out
    }

    fn policy(&mut self, value: &Value, place: &str, kind: PolicyKind) -> Option<Policy> {
        let (doc, text) = match value {
            Value::String(s) => match crate::json::parse(s) {
                Ok(v) => (v, Some(s.as_str())),
                Err(e) => {
                    self.error(
                        place.to_owned(),
                        format!("policy string is not valid JSON: {e}"),
                    );
                    return None;
                }
            },
            v => (v.clone(), None),
        };
        match parse_policy(&doc, text, kind, &self.options) {
            Ok((p, warnings)) => {
                for w in warnings {
                    self.world.warnings.push(w.within(place));
                }
                Some(p)
            }
            Err(errors) => {
                self.errors
                    .extend(errors.into_iter().map(|e| e.within(place)));
                None
            }
        }
    }

    fn policies(&mut self, o: &Map<String, Value>, place: &str, field: &str) -> Vec<Policy> {
        match o.get(field) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    self.policy(v, &format!("{place} {field}[{i}]"), PolicyKind::Identity)
                })
                .collect(),
            Some(v) => {
                self.error(
                    format!("{place} field {field}"),
                    format!("must be an array of policies, found {}", type_name(v)),
                );
                Vec::new()
            }
        }
    }

    fn account(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(o, &place, &["id", "org_id", "org_paths"]);
        let Some(id) = self.string(o, &place, "id", true) else {
            return;
        };
        if !crate::arn::is_account_id(&id) {
            self.error(
                format!("{place} field id"),
                format!("{id:?} is not a 12-digit account id"),
            );
            return;
        }
        let org_id = self.string(o, &place, "org_id", false);
        let org_paths = self.string_list(o, &place, "org_paths");
        if self.define("account", &id, &place) {
            self.world.accounts.insert(
                id.clone(),
                Account {
                    id,
                    org_id,
                    org_paths,
                },
            );
        }
    }

    fn key(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(o, &place, &["arn", "policy", "aliases", "tags", "metadata"]);
        let Some(arn) = self.string(o, &place, "arn", true) else {
            return;
        };
        let place = format!("{place} ({arn})");
        let Some([_, partition, "kms", region, account, res]) = split_arn(&arn) else {
            self.error(
                format!("{place} field arn"),
                format!("{arn:?} is not a KMS key ARN"),
            );
            return;
        };
        if arn.len() > MAX_ARN_BYTES {
            self.error(
                format!("{place} field arn"),
                format!(
                    "longer than {MAX_ARN_BYTES} bytes ({}), the most AWS accepts for an ARN",
                    arn.len()
                ),
            );
            return;
        }
        if !res.starts_with("key/")
            || res.len() <= 4
            || !crate::arn::is_account_id(account)
            || !is_region(region)
            || !is_partition(partition)
            || !res.is_ascii()
        {
            self.error(
                format!("{place} field arn"),
                format!("{arn:?} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"),
            );
            return;
        }
        if let Some(doc) = o.get("policy") {
            for (i, p) in policy_principals(doc) {
                if let Some(other) = partition_of(&p).filter(|q| *q != partition) {
                    self.error(
                        format!("{place} policy statement {i} field Principal"),
                        format!(
                            "{p:?} is in partition {other}, the key in {partition}: a principal \
                             never crosses partitions (MalformedPolicyDocumentException)"
                        ),
                    );
                }
            }
        }
        let policy = match o.get("policy") {
            Some(v) => self.policy(v, &format!("{place} policy"), PolicyKind::Key),
            None => {
                self.warn(
                    format!("{place} field policy"),
                    "key has no key policy: every request on it is denied",
                );
                None
            }
        };
        let aliases = self.string_list(o, &place, "aliases");
        for (i, a) in aliases.iter().enumerate() {
            let name = a.strip_prefix("alias/").unwrap_or("");
            if name.is_empty()
                || a.len() > 256
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
            {
                self.error(
                    format!("{place} field aliases[{i}]"),
                    format!(
                        "{a:?} is not an alias name (alias/ followed by [A-Za-z0-9/_-], \
                         at most 256 characters)"
                    ),
                );
            }
        }
        let tags = self.string_map(o, &place, "tags");
        let metadata = self.metadata(o.get("metadata"), &place);
        if self.define("key", &arn, &place) {
            self.world.keys.push(Key {
                partition: partition.into(),
                region: region.into(),
                account: account.into(),
                arn,
                policy,
                aliases,
                tags,
                metadata,
            });
        }
    }

    fn metadata(&mut self, value: Option<&Value>, place: &str) -> KeyMetadata {
        let mut m = KeyMetadata::default();
        let Some(value) = value else { return m };
        let Some(o) = value.as_object() else {
            self.error(
                format!("{place} field metadata"),
                format!("must be an object, found {}", type_name(value)),
            );
            return m;
        };
        let place = format!("{place} metadata");
        for (k, v) in o {
            let target = match k.as_str() {
                "KeySpec" | "CustomerMasterKeySpec" => &mut m.key_spec,
                "KeyUsage" => &mut m.key_usage,
                "Origin" => &mut m.origin,
                "KeyState" => &mut m.key_state,
                "KeyManager" => &mut m.key_manager,
                "MultiRegion" => {
                    match v.as_bool() {
                        Some(b) => m.multi_region = b,
                        None => self.error(
                            format!("{place} field MultiRegion"),
                            format!("must be a boolean, found {}", type_name(v)),
                        ),
                    }
                    continue;
                }
                "MultiRegionConfiguration" => {
                    if let Some(t) = v.get("MultiRegionKeyType").and_then(Value::as_str) {
                        m.multi_region_key_type = Some(t.to_owned());
                    }
                    continue;
                }
                "MultiRegionKeyType" => {
                    match v.as_str() {
                        Some(s) => m.multi_region_key_type = Some(s.to_owned()),
                        None => self.error(
                            format!("{place} field {k}"),
                            format!("must be a string, found {}", type_name(v)),
                        ),
                    }
                    continue;
                }
                // Other DescribeKey fields (KeyId, Arn, CreationDate, Description, …) do not
                // affect authorization.
                _ => continue,
            };
            match v.as_str() {
                Some(s) => *target = s.to_owned(),
                None => self.error(
                    format!("{place} field {k}"),
                    format!("must be a string, found {}", type_name(v)),
                ),
            }
        }
        if m.multi_region && m.multi_region_key_type.is_none() {
            m.multi_region_key_type = Some("PRIMARY".into());
        }
        m
    }

    fn principal(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(
            o,
            &place,
            &["arn", "policies", "groups", "tags", "permissions_boundary"],
        );
        let Some(arn) = self.string(o, &place, "arn", true) else {
            return;
        };
        let place = format!("{place} ({arn})");
        let caller = match Caller::parse(&arn) {
            Ok(c) if !c.is_service() => c,
            Ok(_) => {
                self.error(
                    format!("{place} field arn"),
                    "service principals have no identity policies",
                );
                return;
            }
            Err(e) => {
                self.error(format!("{place} field arn"), e);
                return;
            }
        };
        let policies = self.policies(o, &place, "policies");
        let groups = self.string_list(o, &place, "groups");
        let tags = self.string_map(o, &place, "tags");
        let permissions_boundary = o.get("permissions_boundary").and_then(|v| {
            self.policy(
                v,
                &format!("{place} permissions_boundary"),
                PolicyKind::Identity,
            )
        });
        if self.define("principal", &arn, &place) {
            self.world.principals.push(Principal {
                arn,
                account: caller.account,
                policies,
                groups,
                tags,
                permissions_boundary,
            });
        }
    }

    fn group(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(o, &place, &["arn", "policies"]);
        let Some(arn) = self.string(o, &place, "arn", true) else {
            return;
        };
        let place = format!("{place} ({arn})");
        if !matches!(split_arn(&arn), Some([_, _, "iam", _, _, r]) if r.starts_with("group/")) {
            self.error(
                format!("{place} field arn"),
                format!("{arn:?} is not an IAM group ARN"),
            );
            return;
        }
        let policies = self.policies(o, &place, "policies");
        if self.define("group", &arn, &place) {
            self.world
                .groups
                .insert(arn.clone(), Group { arn, policies });
        }
    }

    fn grant_principal(&mut self, text: &str, place: &str, field: &str) -> Option<PrincipalEntry> {
        let parsed = if text.contains(':') || crate::arn::is_account_id(text) {
            PrincipalEntry::parse_aws(text)
        } else {
            PrincipalEntry::parse_service(text)
        };
        match parsed {
            Ok(PrincipalEntry::Any) => {
                self.error(
                    format!("{place} field {field}"),
                    "a grant cannot name \"*\"",
                );
                None
            }
            Ok(e) => Some(e),
            Err(_) if text.contains(':') && !text.starts_with("arn:") => {
                // Old records log principal ids such as 111122223333:aws:ec2-infrastructure:i-…
                self.warn(
                    format!("{place} field {field}"),
                    format!("{text:?} is not an ARN; it never matches a caller"),
                );
                Some(PrincipalEntry::Never(text.to_owned()))
            }
            Err(e) => {
                self.error(format!("{place} field {field}"), e);
                None
            }
        }
    }

    fn ec_pairs(&mut self, v: &Value, place: &str) -> Option<Vec<(String, String)>> {
        let Some(m) = v.as_object() else {
            self.error(
                place.to_owned(),
                format!("must be an object of strings, found {}", type_name(v)),
            );
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in m {
            match v.as_str() {
                Some(s) => out.push((k.clone(), s.to_owned())),
                None => self.error(
                    format!("{place}.{k}"),
                    format!("must be a string, found {}", type_name(v)),
                ),
            }
        }
        Some(out)
    }

    fn grant(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(o, &place, GRANT_FIELDS);
        let Some(grant_id) = self.string(o, &place, "GrantId", true) else {
            return;
        };
        let place = format!("{place} ({grant_id})");
        let key = self.string(o, &place, "KeyId", true);
        let name = self.string(o, &place, "Name", false);
        let grantee = match (
            self.string(o, &place, "GranteePrincipal", false),
            self.string(o, &place, "GranteeServicePrincipal", false),
        ) {
            (Some(g), None) => self.grant_principal(&g, &place, "GranteePrincipal"),
            (None, Some(s)) => match PrincipalEntry::parse_service(&s) {
                Ok(e) => Some(e),
                Err(e) => {
                    self.error(format!("{place} field GranteeServicePrincipal"), e);
                    None
                }
            },
            _ => {
                self.error(
                    format!("{place} field GranteePrincipal"),
                    "exactly one of GranteePrincipal and GranteeServicePrincipal is required",
                );
                None
            }
        };
        let retiring = match (
            self.string(o, &place, "RetiringPrincipal", false),
            self.string(o, &place, "RetiringServicePrincipal", false),
        ) {
            (Some(r), _) => self.grant_principal(&r, &place, "RetiringPrincipal"),
            (None, Some(s)) => PrincipalEntry::parse_service(&s).ok(),
            (None, None) => None,
        };
        let issuing = self.string(o, &place, "IssuingAccount", false);
        let operations = self.string_list(o, &place, "Operations");
        if operations.is_empty() {
            self.error(
                format!("{place} field Operations"),
                "a grant needs at least one operation",
            );
        }
        for (i, op) in operations.iter().enumerate() {
            let known = crate::actions::by_name(op).map(|id| crate::actions::info(id).grant_op);
            if known != Some(true) || crate::actions::ACTIONS.iter().all(|a| a.name != op) {
                self.error(
                    format!("{place} field Operations[{i}]"),
                    format!("{op:?} is not a grant operation"),
                );
            }
        }
        let mut constraints = GrantConstraints::default();
        if let Some(c) = o.get("Constraints") {
            match c.as_object() {
                Some(c) => {
                    for (k, v) in c {
                        let cplace = format!("{place} field Constraints.{k}");
                        match k.as_str() {
                            "EncryptionContextEquals" => {
                                constraints.equals = self.ec_pairs(v, &cplace)
                            }
                            "EncryptionContextSubset" => {
                                constraints.subset = self.ec_pairs(v, &cplace)
                            }
                            "SourceArn" => match v.as_str() {
                                Some(s) => constraints.source_arn = Some(s.to_owned()),
                                None => self.error(
                                    cplace,
                                    format!("must be a string, found {}", type_name(v)),
                                ),
                            },
                            _ => self.warn(cplace, "unknown grant constraint, ignored"),
                        }
                    }
                    if constraints.equals.is_some() && constraints.subset.is_some() {
                        self.error(
                            format!("{place} field Constraints"),
                            "EncryptionContextEquals and EncryptionContextSubset are exclusive",
                        );
                    }
                }
                None => self.error(
                    format!("{place} field Constraints"),
                    format!("must be an object, found {}", type_name(c)),
                ),
            }
        }
        let (Some(key), Some(grantee)) = (key, grantee) else {
            return;
        };
        let key_partition = partition_of(&key).unwrap_or("aws").to_owned();
        for (field, p) in [
            ("GranteePrincipal", o.get("GranteePrincipal")),
            ("RetiringPrincipal", o.get("RetiringPrincipal")),
        ] {
            let Some(p) = p.and_then(Value::as_str) else {
                continue;
            };
            if let Some(other) = partition_of(p).filter(|q| *q != key_partition) {
                self.error(
                    format!("{place} field {field}"),
                    format!(
                        "{p:?} is in partition {other}, the key in {key_partition}: a grant \
                         never crosses partitions"
                    ),
                );
                return;
            }
        }
        let key_account = split_arn(&key).map(|p| p[4].to_owned()).unwrap_or_default();
        let issuing_account = match issuing {
            Some(i) => match PrincipalEntry::parse_aws(&i) {
                Ok(PrincipalEntry::Account(a)) => a,
                _ => {
                    self.error(
                        format!("{place} field IssuingAccount"),
                        format!("{i:?} is not an account (arn:aws:iam::ACCOUNT:root)"),
                    );
                    return;
                }
            },
            None => key_account,
        };
        if self.define("grant", &grant_id, &place) {
            self.world.grants.push(Grant {
                key,
                grant_id,
                name,
                grantee,
                retiring,
                issuing_account,
                operations,
                constraints,
            });
        }
    }
}
