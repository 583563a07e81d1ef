//! The IAM side of an import: users, roles and groups from `aws iam
//! get-account-authorization-details`, each with its inline policies, the default version of
//! every attached managed policy (resolved by ARN from the same output), group memberships, tags
//! and permissions boundary. Several files (pages of the output) are merged.

use super::policy_document;
use crate::arn::split_arn;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Everything read from authorization details.
#[derive(Debug, Default)]
pub(super) struct Iam {
    users: Vec<(Map<String, Value>, String)>,
    roles: Vec<(Map<String, Value>, String)>,
    groups: Vec<(Map<String, Value>, String)>,
    /// Managed policy ARN → its default version's document.
    managed: HashMap<String, Value>,
    /// Managed policies whose document could not be read, with why.
    broken: HashMap<String, String>,
}

impl Iam {
    pub(super) fn add(&mut self, o: &Map<String, Value>, source: &str, errors: &mut Vec<String>) {
        for (field, list) in [
            ("UserDetailList", &mut self.users),
            ("RoleDetailList", &mut self.roles),
            ("GroupDetailList", &mut self.groups),
        ] {
            match o.get(field) {
                None => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        match item.as_object() {
                            Some(m) => list.push((m.clone(), format!("{source}: {field}[{i}]"))),
                            None => {
                                errors.push(format!("{source}: {field}[{i}] must be an object"))
                            }
                        }
                    }
                }
                Some(_) => errors.push(format!("{source}: {field} must be an array")),
            }
        }
        let Some(policies) = o.get("Policies") else {
            return;
        };
        let Some(policies) = policies.as_array() else {
            return errors.push(format!("{source}: Policies must be an array"));
        };
        for (i, p) in policies.iter().enumerate() {
            let place = format!("{source}: Policies[{i}]");
            let Some(arn) = p.get("Arn").and_then(Value::as_str) else {
                errors.push(format!("{place}: Arn is missing"));
                continue;
            };
            let default_id = p.get("DefaultVersionId").and_then(Value::as_str);
            let versions = p
                .get("PolicyVersionList")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let default = versions.iter().find(|v| {
                v.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true)
                    || (default_id.is_some()
                        && v.get("VersionId").and_then(Value::as_str) == default_id)
            });
            match default.and_then(|v| v.get("Document")).map(policy_document) {
                Some(Ok(doc)) => {
                    self.managed.insert(arn.to_owned(), doc);
                }
                Some(Err(e)) => {
                    self.broken.insert(arn.to_owned(), format!("{place}: {e}"));
                }
                None => {
                    self.broken.insert(
                        arn.to_owned(),
                        format!("{place}: no default version with a Document"),
                    );
                }
            }
        }
    }

    /// Inline documents of `field` and attached managed documents, in that order.
    fn policies(
        &self,
        m: &Map<String, Value>,
        inline_field: &str,
        place: &str,
        warnings: &mut Vec<String>,
        errors: &mut Vec<String>,
    ) -> Vec<Value> {
        let mut out = Vec::new();
        for (i, p) in m
            .get(inline_field)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            match p.get("PolicyDocument").map(policy_document) {
                Some(Ok(doc)) => out.push(doc),
                Some(Err(e)) => errors.push(format!("{place}: {inline_field}[{i}]: {e}")),
                None => errors.push(format!(
                    "{place}: {inline_field}[{i}]: PolicyDocument is missing"
                )),
            }
        }
        for a in m
            .get("AttachedManagedPolicies")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(arn) = a.get("PolicyArn").and_then(Value::as_str) else {
                errors.push(format!(
                    "{place}: AttachedManagedPolicies entry without PolicyArn"
                ));
                continue;
            };
            match (self.managed.get(arn), self.broken.get(arn)) {
                (Some(doc), _) => out.push(doc.clone()),
                (None, Some(why)) => errors.push(format!("{place}: attached policy {arn}: {why}")),
                (None, None) => warnings.push(format!(
                    "{place}: attached policy {arn} is not in the output's Policies (fetch it without --filter, or with AWSManagedPolicy); its permissions are left out"
                )),
            }
        }
        out
    }

    fn boundary(
        &self,
        m: &Map<String, Value>,
        place: &str,
        warnings: &mut Vec<String>,
    ) -> Option<Value> {
        let arn = m
            .get("PermissionsBoundary")?
            .get("PermissionsBoundaryArn")?
            .as_str()?;
        match self.managed.get(arn) {
            Some(doc) => Some(doc.clone()),
            None => {
                // A boundary that cannot be read would allow everything if left out; say so.
                warnings.push(format!("{place}: permissions boundary {arn} is not in the output's Policies; the boundary is left out"));
                None
            }
        }
    }

    /// The world's principals and groups.
    pub(super) fn finish(
        self,
        warnings: &mut Vec<String>,
        errors: &mut Vec<String>,
    ) -> (Vec<Value>, Vec<Value>) {
        let group_arns: HashMap<&str, &str> = self
            .groups
            .iter()
            .filter_map(|(g, _)| Some((g.get("GroupName")?.as_str()?, g.get("Arn")?.as_str()?)))
            .collect();
        let mut principals = Vec::new();
        for (list, inline, is_user) in [
            (&self.users, "UserPolicyList", true),
            (&self.roles, "RolePolicyList", false),
        ] {
            for (m, place) in list {
                let Some(arn) = m.get("Arn").and_then(Value::as_str) else {
                    errors.push(format!("{place}: Arn is missing"));
                    continue;
                };
                let mut p = Map::new();
                p.insert("arn".into(), arn.into());
                let policies = self.policies(m, inline, place, warnings, errors);
                if !policies.is_empty() {
                    p.insert("policies".into(), policies.into());
                }
                if is_user {
                    let account = split_arn(arn).map(|a| a[4]).unwrap_or_default();
                    let partition = split_arn(arn).map(|a| a[1]).unwrap_or("aws");
                    let groups: Vec<Value> = m
                        .get("GroupList")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|name| match group_arns.get(name) {
                            Some(a) => Value::from(*a),
                            None => {
                                warnings.push(format!("{place}: group {name} is not in GroupDetailList; its policies are unknown"));
                                Value::from(format!("arn:{partition}:iam::{account}:group/{name}"))
                            }
                        })
                        .collect();
                    if !groups.is_empty() {
                        p.insert("groups".into(), groups.into());
                    }
                }
                let tags: Map<String, Value> = m
                    .get("Tags")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.get("Key")?.as_str()?.to_owned(),
                            Value::from(t.get("Value")?.as_str()?),
                        ))
                    })
                    .collect();
                if !tags.is_empty() {
                    p.insert("tags".into(), Value::Object(tags));
                }
                if let Some(b) = self.boundary(m, place, warnings) {
                    p.insert("permissions_boundary".into(), b);
                }
                principals.push(Value::Object(p));
            }
        }
        let mut groups = Vec::new();
        for (m, place) in &self.groups {
            let Some(arn) = m.get("Arn").and_then(Value::as_str) else {
                errors.push(format!("{place}: Arn is missing"));
                continue;
            };
            let policies = self.policies(m, "GroupPolicyList", place, warnings, errors);
            groups.push(serde_json::json!({"arn": arn, "policies": policies}));
        }
        (principals, groups)
    }
}
