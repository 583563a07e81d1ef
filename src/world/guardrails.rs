//! The guardrail layers around key policies, identity policies and grants (docs/guardrails.md):
//! organizations with their service and resource control policies, VPC endpoints with their
//! policies, and role or federated-user sessions with their session policies.

use crate::arn::{Caller, CallerKind};
use crate::policy::Policy;
use std::collections::HashMap;

/// An AWS Organizations organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    /// `o-…`.
    pub id: String,
    /// The management account: SCPs and RCPs do not apply to it.
    pub management_account: Option<String>,
    /// The root id (`r-…`).
    pub root: Option<String>,
}

/// The two kinds of organization policy keyward decides with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgPolicyKind {
    /// `SERVICE_CONTROL_POLICY`: limits the caller's side.
    Scp,
    /// `RESOURCE_CONTROL_POLICY`: limits the key's side; can only deny.
    Rcp,
}

/// A service or resource control policy with the roots, OUs and accounts it is attached to.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgPolicy {
    pub id: String,
    pub name: Option<String>,
    pub kind: OrgPolicyKind,
    /// The organization the policy belongs to.
    pub org_id: String,
    pub policy: Policy,
    /// Root, OU or account ids.
    pub targets: Vec<String>,
}

/// A KMS interface VPC endpoint, in the `describe-vpc-endpoints` shape.
#[derive(Clone, Debug, PartialEq)]
pub struct VpcEndpoint {
    pub id: String,
    pub vpc_id: Option<String>,
    pub owner: Option<String>,
    /// The endpoint policy; `None` is the default policy, which allows everything.
    pub policy: Option<Policy>,
}

/// A role or federated-user session with the session policies it was started with.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub arn: String,
    pub policies: Vec<Policy>,
}

/// One level of an account's organization path (root, an OU, or the account itself) with the
/// policies attached there (indexes into `World::org_policies`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Level {
    pub id: String,
    pub policies: Vec<usize>,
}

/// The control policies that govern one account, resolved once when the world loads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chain {
    /// Whether the account is its organization's management account (exempt from both kinds).
    pub management: bool,
    /// Whether the organization has any SCP in the world (otherwise SCPs are not enabled).
    pub scps_enabled: bool,
    /// Per level, outermost first: the attached SCPs.
    pub scp_levels: Vec<Level>,
    /// Every RCP attached anywhere on the account's path.
    pub rcps: Vec<usize>,
}

/// The ids of the levels of an account's path: the root and OUs of its first `org_paths` entry,
/// then the account itself.
pub fn path_levels(org_path: Option<&str>, account: &str) -> Vec<String> {
    let mut out: Vec<String> = org_path
        .map(|p| {
            p.split('/')
                .skip(1)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    out.push(account.to_owned());
    out
}

/// Whether `caller` is a service-linked role or one of its sessions: a role whose path starts
/// `/aws-service-role/`, or (when the world does not hold the role's path) whose name starts
/// `AWSServiceRoleFor`, as every service-linked role's does.
pub fn is_service_linked(caller: &Caller, role_arn: Option<&str>) -> bool {
    if role_arn.is_some_and(|a| a.contains(":role/aws-service-role/")) {
        return true;
    }
    match &caller.kind {
        CallerKind::Role { name } | CallerKind::AssumedRole { role: name, .. } => {
            name.starts_with("AWSServiceRoleFor") || caller.arn.contains(":role/aws-service-role/")
        }
        _ => false,
    }
}

/// Builds every account's chain.
pub fn chains(
    accounts: &HashMap<String, super::Account>,
    organizations: &[Organization],
    policies: &[OrgPolicy],
) -> HashMap<String, Chain> {
    let mut out = HashMap::new();
    for (id, acct) in accounts {
        let Some(org) = &acct.org_id else { continue };
        let management = organizations
            .iter()
            .any(|o| &o.id == org && o.management_account.as_deref() == Some(id.as_str()));
        let mut chain = Chain {
            management,
            scps_enabled: policies
                .iter()
                .any(|p| &p.org_id == org && p.kind == OrgPolicyKind::Scp),
            ..Chain::default()
        };
        for level in path_levels(acct.org_paths.first().map(String::as_str), id) {
            let attached: Vec<usize> = policies
                .iter()
                .enumerate()
                .filter(|(_, p)| &p.org_id == org && p.targets.contains(&level))
                .map(|(i, _)| i)
                .collect();
            let (scps, rcps): (Vec<usize>, Vec<usize>) = attached
                .into_iter()
                .partition(|&i| policies[i].kind == OrgPolicyKind::Scp);
            chain.rcps.extend(rcps);
            chain.scp_levels.push(Level {
                id: level,
                policies: scps,
            });
        }
        out.insert(id.clone(), chain);
    }
    out
}

/// Reads a request's `session_policies`: absent or null is none; an empty list is an error (it
/// would leave the session no permissions, which is never what was meant). Errors give the field
/// and the message.
pub fn request_session_policies(
    value: Option<&serde_json::Value>,
) -> Result<Option<Vec<Policy>>, (String, String)> {
    use crate::policy::{parse_policy, ParseOptions, PolicyKind};
    use serde_json::Value;
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(v) => {
            return Err((
                "session_policies".into(),
                format!(
                    "must be an array of policies, found {}",
                    crate::json::type_name(v)
                ),
            ))
        }
    };
    if items.is_empty() {
        return Err((
            "session_policies".into(),
            "is empty: leave it out when the session has no session policy".into(),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let field = format!("session_policies[{i}]");
        let (doc, text) = match v {
            Value::String(s) => match crate::json::parse(s) {
                Ok(d) => (d, Some(s.as_str())),
                Err(e) => return Err((field, format!("not valid JSON: {e}"))),
            },
            v => (v.clone(), None),
        };
        match parse_policy(&doc, text, PolicyKind::Identity, &ParseOptions::default()) {
            Ok((p, _)) => out.push(p),
            Err(errors) => {
                let msg = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.place, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err((field, msg));
            }
        }
    }
    Ok(Some(out))
}
