//! AWS Organizations and EC2 outputs: `describe-organization`, `list-roots`,
//! `list-organizational-units-for-parent`, `list-accounts-for-parent`, `list-policies`,
//! `describe-policy`, `list-targets-for-policy` and `aws ec2 describe-vpc-endpoints`, turned into
//! the world's `organizations`, `accounts`, `organization_policies` and `vpc_endpoints`
//! (docs/guardrails.md). Two of them do not say what they list: the parent of
//! `list-…-for-parent` and the policy of `list-targets-for-policy` are given as `ID=FILE` or found
//! in the file's path (`parents/ou-ab12-11111111/accounts.json`, `policies/p-abc/targets.json`).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Org {
    org: Option<(String, Option<String>)>,
    roots: Vec<String>,
    /// Child (OU or account) → parent, with whether the child is an account.
    parents: BTreeMap<String, (String, bool)>,
    /// Policy id → (summary, content).
    policies: BTreeMap<String, (Map<String, Value>, Option<Value>)>,
    targets: BTreeMap<String, Vec<String>>,
    endpoints: Vec<Value>,
}

/// An id of the given prefix (`r-`, `ou-`, `p-`) among the parts of `text` (a path or a given id).
pub fn id_in<'a>(text: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    text.split(['/', '\\', '='])
        .map(|p| p.strip_suffix(".json").unwrap_or(p))
        .find(|p| {
            prefixes.iter().any(|pre| {
                p.strip_prefix(pre).is_some_and(|rest| {
                    !rest.is_empty()
                        && rest
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
            })
        })
}

fn str_field<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

impl Org {
    pub fn organization(&mut self, o: &Map<String, Value>, source: &str, errors: &mut Vec<String>) {
        let Some(org) = o.get("Organization").and_then(Value::as_object) else {
            return errors.push(format!("{source}: Organization must be an object"));
        };
        match str_field(org, "Id") {
            Some(id) => {
                self.org = Some((
                    id.to_owned(),
                    str_field(org, "MasterAccountId").map(str::to_owned),
                ))
            }
            None => errors.push(format!("{source}: Organization has no Id")),
        }
    }

    pub fn roots(&mut self, o: &Map<String, Value>, source: &str, errors: &mut Vec<String>) {
        for (i, r) in o["Roots"].as_array().into_iter().flatten().enumerate() {
            match r.get("Id").and_then(Value::as_str) {
                Some(id) => self.roots.push(id.to_owned()),
                None => errors.push(format!("{source}: Roots[{i}] has no Id")),
            }
        }
    }

    /// `list-organizational-units-for-parent` (field `OrganizationalUnits`) or
    /// `list-accounts-for-parent` (field `Accounts`).
    pub fn children(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        parent: Option<&str>,
        accounts: bool,
        errors: &mut Vec<String>,
    ) {
        let Some(parent) = parent.or_else(|| id_in(source, &["r-", "ou-"])) else {
            return errors.push(format!("{source}: which parent this lists is not in the output: give it as --list-ous-for-parent or --list-accounts-for-parent PARENT=FILE, or keep the root or OU id in the file or folder name"));
        };
        let field = if accounts {
            "Accounts"
        } else {
            "OrganizationalUnits"
        };
        for (i, c) in o[field].as_array().into_iter().flatten().enumerate() {
            match c.get("Id").and_then(Value::as_str) {
                Some(id) => {
                    self.parents
                        .insert(id.to_owned(), (parent.to_owned(), accounts));
                }
                None => errors.push(format!("{source}: {field}[{i}] has no Id")),
            }
        }
    }

    pub fn list_policies(&mut self, o: &Map<String, Value>) {
        for p in o["Policies"].as_array().into_iter().flatten() {
            if let (Some(id), Some(summary)) = (p.get("Id").and_then(Value::as_str), p.as_object())
            {
                self.policies
                    .entry(id.to_owned())
                    .or_insert_with(|| (summary.clone(), None));
            }
        }
    }

    pub fn describe_policy(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        errors: &mut Vec<String>,
    ) {
        let p = &o["Policy"];
        let (Some(summary), Some(content)) = (
            p.get("PolicySummary").and_then(Value::as_object),
            p.get("Content"),
        ) else {
            return errors.push(format!("{source}: Policy needs PolicySummary and Content"));
        };
        let Some(id) = str_field(summary, "Id") else {
            return errors.push(format!("{source}: PolicySummary has no Id"));
        };
        self.policies
            .insert(id.to_owned(), (summary.clone(), Some(content.clone())));
    }

    pub fn targets(
        &mut self,
        o: &Map<String, Value>,
        source: &str,
        policy: Option<&str>,
        errors: &mut Vec<String>,
    ) {
        let Some(policy) = policy.or_else(|| id_in(source, &["p-"])) else {
            return errors.push(format!("{source}: which policy these targets belong to is not in the output: give it as --list-targets-for-policy POLICY=FILE, or keep the policy id (p-…) in the file or folder name"));
        };
        let list = self.targets.entry(policy.to_owned()).or_default();
        for t in o["Targets"].as_array().into_iter().flatten() {
            if let Some(id) = t.get("TargetId").and_then(Value::as_str) {
                list.push(id.to_owned());
            }
        }
    }

    pub fn endpoints(&mut self, o: &Map<String, Value>, warnings: &mut Vec<String>, source: &str) {
        for e in o["VpcEndpoints"].as_array().into_iter().flatten() {
            let service = e.get("ServiceName").and_then(Value::as_str).unwrap_or("");
            if service.ends_with(".kms") || service.ends_with(".kms-fips") {
                let mut out = Map::new();
                for k in [
                    "VpcEndpointId",
                    "VpcId",
                    "OwnerId",
                    "ServiceName",
                    "PolicyDocument",
                ] {
                    if let Some(v) = e.get(k) {
                        out.insert(k.into(), v.clone());
                    }
                }
                self.endpoints.push(Value::Object(out));
            } else {
                warnings.push(format!(
                    "{source}: endpoint for {service} is not a KMS endpoint; left out"
                ));
            }
        }
    }

    /// The world's `organizations`, `accounts`, `organization_policies` and `vpc_endpoints`.
    pub fn finish(self, world: &mut Map<String, Value>, warnings: &mut Vec<String>) {
        if !self.endpoints.is_empty() {
            world.insert("vpc_endpoints".into(), Value::Array(self.endpoints));
        }
        let Some((org, management)) = self.org else {
            if !self.parents.is_empty() || !self.policies.is_empty() {
                warnings.push("no describe-organization output: the organization's accounts and policies are left out".into());
            }
            return;
        };
        let root = self.roots.first().cloned();
        let mut o = json!({"id": org});
        if let Some(m) = &management {
            o["management_account"] = json!(m);
        }
        if let Some(r) = &root {
            o["root"] = json!(r);
        }
        world.insert("organizations".into(), json!([o]));
        let mut accounts = Vec::new();
        for (id, (_, is_account)) in &self.parents {
            if !is_account {
                continue;
            }
            // Walk up to the root: the path is the org, the root, then the OUs outermost first.
            let mut chain = Vec::new();
            let mut at = id.as_str();
            let mut complete = false;
            while let Some((parent, _)) = self.parents.get(at) {
                if chain.len() > 16 {
                    break;
                }
                if parent.starts_with("r-") {
                    chain.push(parent.clone());
                    complete = true;
                    break;
                }
                chain.push(parent.clone());
                at = parent;
            }
            if !complete {
                warnings.push(format!("account {id}: its OU's parent is not among the list-organizational-units-for-parent outputs, so its path is incomplete; left out"));
                continue;
            }
            chain.reverse();
            accounts.push(json!({"id": id, "org_id": org, "org_paths": [format!("{org}/{}/", chain.join("/"))]}));
        }
        if let Some(list) = world.get_mut("accounts").and_then(Value::as_array_mut) {
            list.extend(accounts);
        } else {
            world.insert("accounts".into(), Value::Array(accounts));
        }
        let mut policies = Vec::new();
        for (id, (summary, content)) in self.policies {
            let kind = str_field(&summary, "Type").unwrap_or("");
            if kind != "SERVICE_CONTROL_POLICY" && kind != "RESOURCE_CONTROL_POLICY" {
                continue;
            }
            let Some(content) = content else {
                warnings.push(format!("policy {id}: listed, but no describe-policy output gives its content; left out"));
                continue;
            };
            let targets = self.targets.get(&id).cloned().unwrap_or_default();
            if targets.is_empty() {
                warnings.push(format!("policy {id}: no list-targets-for-policy output names where it is attached; left out"));
                continue;
            }
            let mut p = json!({"Id": id, "Type": kind, "Content": content, "Targets": targets});
            if let Some(n) = summary.get("Name") {
                p["Name"] = n.clone();
            }
            policies.push(p);
        }
        if !policies.is_empty() {
            world.insert("organization_policies".into(), Value::Array(policies));
        }
    }
}
