//! The KMS side of an import: keys from `describe-key` (and `list-keys` for their ARNs), key
//! policies, aliases, tags and grants, joined by key ARN.

use super::{key_id_in, policy_document};
use crate::arn::split_arn;
use crate::world::GRANT_FIELDS;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// A key being assembled.
#[derive(Debug, Default)]
struct KeyParts {
    metadata: Map<String, Value>,
    described: bool,
    policy: Option<Value>,
    aliases: Vec<String>,
    tags: BTreeMap<String, String>,
}

/// Which key an output belongs to, before ids are resolved.
#[derive(Debug, Clone)]
enum KeyRef {
    Arn(String),
    Id(String),
}

/// Everything read from KMS outputs.
#[derive(Debug, Default)]
pub(super) struct Kms {
    keys: BTreeMap<String, KeyParts>,
    /// Key id → key ARN, from describe-key and list-keys.
    arns: HashMap<String, String>,
    policies: Vec<(KeyRef, Value, String)>,
    tags: Vec<(KeyRef, BTreeMap<String, String>, String)>,
    grants: Vec<(Map<String, Value>, String)>,
    /// (alias name, alias ARN, target key id, source).
    aliases: Vec<(String, String, String, String)>,
}

/// DescribeKey fields that feed authorization (docs/formats.md (Worlds) `metadata`).
const METADATA: &[&str] = &[
    "KeySpec",
    "CustomerMasterKeySpec",
    "KeyUsage",
    "Origin",
    "KeyState",
    "MultiRegion",
];

fn is_key_arn(text: &str) -> bool {
    matches!(split_arn(text), Some([_, _, "kms", _, _, res]) if res.starts_with("key/"))
}

fn key_id_of(arn: &str) -> Option<&str> {
    split_arn(arn).and_then(|p| p[5].strip_prefix("key/"))
}

impl Kms {
    pub(super) fn describe_key(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(m) = o.get("KeyMetadata").and_then(Value::as_object) else {
            return errors.push(format!("{source}: KeyMetadata must be an object"));
        };
        let Some(arn) = m
            .get("Arn")
            .and_then(Value::as_str)
            .filter(|a| is_key_arn(a))
        else {
            return errors.push(format!(
                "{source}: KeyMetadata.Arn is missing or not a key ARN"
            ));
        };
        if let Some(id) = key_id_of(arn) {
            self.arns.insert(id.to_owned(), arn.to_owned());
        }
        let parts = self.keys.entry(arn.to_owned()).or_default();
        if parts.described {
            return errors.push(format!("{source}: key {arn} is described twice"));
        }
        parts.described = true;
        for field in METADATA {
            if let Some(v) = m.get(*field) {
                parts.metadata.insert((*field).into(), v.clone());
            }
        }
        if let Some(t) = m
            .get("MultiRegionConfiguration")
            .and_then(|c| c.get("MultiRegionKeyType"))
        {
            parts
                .metadata
                .insert("MultiRegionKeyType".into(), t.clone());
        }
    }

    pub(super) fn list_keys(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(keys) = o.get("Keys").and_then(Value::as_array) else {
            return errors.push(format!("{source}: Keys must be an array"));
        };
        for (i, k) in keys.iter().enumerate() {
            match (
                k.get("KeyId").and_then(Value::as_str),
                k.get("KeyArn").and_then(Value::as_str),
            ) {
                (Some(id), Some(arn)) if is_key_arn(arn) => {
                    self.arns.insert(id.to_owned(), arn.to_owned());
                }
                _ => errors.push(format!("{source}: Keys[{i}] needs KeyId and a KeyArn")),
            }
        }
    }

    /// The key an output names: `KEY=` from the command line, else an id or ARN in its path.
    fn key_ref(given: Option<&str>, source: &str) -> Option<KeyRef> {
        let text = given.or_else(|| key_id_in(source))?;
        Some(if text.starts_with("arn:") {
            KeyRef::Arn(text.to_owned())
        } else {
            KeyRef::Id(text.to_owned())
        })
    }

    pub(super) fn key_policy(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        key: Option<&str>,
        errors: &mut Vec<String>,
    ) {
        let Some(key) = Self::key_ref(key, source) else {
            return errors.push(format!(
                "{source}: get-key-policy does not say which key it is for: give it as KEY=FILE or put the key id in the file or folder name"
            ));
        };
        if let Some(name) = o.get("PolicyName").and_then(Value::as_str) {
            if name != "default" {
                return errors.push(format!(
                    "{source}: PolicyName {name:?}: a KMS key has only the \"default\" policy"
                ));
            }
        }
        match o.get("Policy").map(policy_document) {
            Some(Ok(doc)) => self.policies.push((key, doc, source.to_owned())),
            Some(Err(e)) => errors.push(format!("{source}: Policy: {e}")),
            None => errors.push(format!("{source}: Policy is missing")),
        }
    }

    pub(super) fn tags(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        key: Option<&str>,
        errors: &mut Vec<String>,
    ) {
        let Some(key) = Self::key_ref(key, source) else {
            return errors.push(format!(
                "{source}: list-resource-tags does not say which key it is for: give it as KEY=FILE or put the key id in the file or folder name"
            ));
        };
        let Some(list) = o.get("Tags").and_then(Value::as_array) else {
            return errors.push(format!("{source}: Tags must be an array"));
        };
        let mut tags = BTreeMap::new();
        for (i, t) in list.iter().enumerate() {
            match (
                t.get("TagKey").and_then(Value::as_str),
                t.get("TagValue").and_then(Value::as_str),
            ) {
                (Some(k), Some(v)) => {
                    tags.insert(k.to_owned(), v.to_owned());
                }
                _ => errors.push(format!(
                    "{source}: Tags[{i}] needs TagKey and TagValue strings"
                )),
            }
        }
        self.tags.push((key, tags, source.to_owned()));
    }

    pub(super) fn grants(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(list) = o.get("Grants").and_then(Value::as_array) else {
            return errors.push(format!("{source}: Grants must be an array"));
        };
        for (i, g) in list.iter().enumerate() {
            match g.as_object() {
                Some(g) => {
                    let kept = g
                        .iter()
                        .filter(|(k, _)| GRANT_FIELDS.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    self.grants.push((kept, format!("{source}: Grants[{i}]")));
                }
                None => errors.push(format!("{source}: Grants[{i}] must be an object")),
            }
        }
    }

    pub(super) fn aliases(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(list) = o.get("Aliases").and_then(Value::as_array) else {
            return errors.push(format!("{source}: Aliases must be an array"));
        };
        for (i, a) in list.iter().enumerate() {
            let name = a.get("AliasName").and_then(Value::as_str);
            let arn = a.get("AliasArn").and_then(Value::as_str);
            match (name, arn) {
                // An alias without a target points nowhere; it affects no decision.
                (Some(_), Some(_)) if a.get("TargetKeyId").is_none() => {}
                (Some(name), Some(arn)) => match a.get("TargetKeyId").and_then(Value::as_str) {
                    Some(target) => self.aliases.push((
                        name.to_owned(),
                        arn.to_owned(),
                        target.to_owned(),
                        source.to_owned(),
                    )),
                    None => errors.push(format!(
                        "{source}: Aliases[{i}].TargetKeyId must be a string"
                    )),
                },
                _ => errors.push(format!(
                    "{source}: Aliases[{i}] needs AliasName and AliasArn"
                )),
            }
        }
    }

    fn resolve(&self, key: &KeyRef) -> Result<String, String> {
        match key {
            KeyRef::Arn(a) if is_key_arn(a) => Ok(a.clone()),
            KeyRef::Arn(a) => Err(format!("{a:?} is not a key ARN")),
            KeyRef::Id(id) => self
                .arns
                .get(id)
                .cloned()
                .ok_or_else(|| format!("key {id} has no describe-key or list-keys output, so its ARN is unknown (or give KEY as the key ARN)")),
        }
    }

    /// The world's keys and grants.
    pub(super) fn finish(
        mut self,
        warnings: &mut Vec<String>,
        errors: &mut Vec<String>,
    ) -> (Vec<Value>, Vec<Value>) {
        for (key, doc, source) in std::mem::take(&mut self.policies) {
            match self.resolve(&key) {
                Ok(arn) => {
                    let parts = self.keys.entry(arn.clone()).or_default();
                    if parts.policy.is_some() {
                        errors.push(format!("{source}: key {arn} has a second key policy"));
                    }
                    parts.policy = Some(doc);
                }
                Err(e) => errors.push(format!("{source}: {e}")),
            }
        }
        for (key, tags, source) in std::mem::take(&mut self.tags) {
            match self.resolve(&key) {
                Ok(arn) => self.keys.entry(arn).or_default().tags.extend(tags),
                Err(e) => errors.push(format!("{source}: {e}")),
            }
        }
        let mut unknown_targets = 0;
        for (name, alias_arn, target, source) in std::mem::take(&mut self.aliases) {
            let key_arn = if target.starts_with("arn:") {
                target.clone()
            } else {
                match split_arn(&alias_arn) {
                    Some([_, partition, "kms", region, account, _]) => {
                        format!("arn:{partition}:kms:{region}:{account}:key/{target}")
                    }
                    _ => {
                        errors.push(format!(
                            "{source}: alias {name}: AliasArn {alias_arn:?} is not an alias ARN"
                        ));
                        continue;
                    }
                }
            };
            match self.keys.get_mut(&key_arn) {
                Some(parts) if !parts.aliases.contains(&name) => parts.aliases.push(name),
                Some(_) => {}
                None => unknown_targets += 1,
            }
        }
        if unknown_targets > 0 {
            warnings.push(format!(
                "{unknown_targets} aliases point to keys with no describe-key or get-key-policy output (AWS managed keys, other Regions); they are left out"
            ));
        }
        let mut grants = Vec::new();
        for (mut g, source) in std::mem::take(&mut self.grants) {
            let key = match g.get("KeyId").and_then(Value::as_str) {
                Some(k) if k.starts_with("arn:") => KeyRef::Arn(k.to_owned()),
                Some(k) => KeyRef::Id(k.to_owned()),
                None => {
                    errors.push(format!("{source}: KeyId is missing"));
                    continue;
                }
            };
            match self.resolve(&key) {
                Ok(arn) if self.keys.contains_key(&arn) => {
                    g.insert("KeyId".into(), arn.into());
                    grants.push(Value::Object(g));
                }
                Ok(arn) => warnings.push(format!(
                    "{source}: grant on {arn}, a key that is not imported; left out"
                )),
                Err(e) => errors.push(format!("{source}: {e}")),
            }
        }
        let mut keys = Vec::new();
        for (arn, parts) in self.keys {
            let mut k = Map::new();
            k.insert("arn".into(), arn.clone().into());
            match parts.policy {
                Some(p) => {
                    k.insert("policy".into(), p);
                }
                None => warnings.push(format!(
                    "key {arn} has no get-key-policy output: the world denies every request on it"
                )),
            }
            if !parts.aliases.is_empty() {
                k.insert("aliases".into(), parts.aliases.into());
            }
            if !parts.tags.is_empty() {
                k.insert(
                    "tags".into(),
                    Value::Object(
                        parts
                            .tags
                            .into_iter()
                            .map(|(k, v)| (k, Value::from(v)))
                            .collect(),
                    ),
                );
            }
            if !parts.described {
                warnings.push(format!("key {arn} has no describe-key output: its metadata is taken as an enabled symmetric key"));
            }
            if !parts.metadata.is_empty() {
                k.insert("metadata".into(), Value::Object(parts.metadata));
            }
            keys.push(Value::Object(k));
        }
        (keys, grants)
    }
}
