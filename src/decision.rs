//! Decisions (docs/formats.md (Decisions)): `Allow`, `ExplicitDeny` or `ImplicitDeny`, with the statements or grants
//! that decided, and — for `--explain` — what was missing.

use serde_json::{json, Map, Value};
use std::fmt;

/// The outcome of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl Outcome {
    /// The outcome's name as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "Allow",
            Outcome::ExplicitDeny => "ExplicitDeny",
            Outcome::ImplicitDeny => "ImplicitDeny",
        }
    }

    /// Parses an outcome name.
    pub fn parse(text: &str) -> Option<Outcome> {
        match text {
            "Allow" => Some(Outcome::Allow),
            "ExplicitDeny" => Some(Outcome::ExplicitDeny),
            "ImplicitDeny" => Some(Outcome::ImplicitDeny),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a deciding statement lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The key policy of `key`.
    KeyPolicy { key: String },
    /// Identity policy number `policy` of the principal `principal`.
    IdentityPolicy { principal: String, policy: usize },
    /// Policy number `policy` of the group `group`.
    GroupPolicy { group: String, policy: usize },
    /// The permissions boundary of `principal`.
    PermissionsBoundary { principal: String },
    /// A grant on `key`.
    Grant { key: String, grant_id: String },
    /// The account root user, which identity policies do not govern.
    RootUser { account: String },
    /// The service control policy with this Id.
    Scp { policy_id: String },
    /// The resource control policy with this Id.
    Rcp { policy_id: String },
    /// The policy of the VPC endpoint the request came through.
    VpcEndpointPolicy { endpoint: String },
    /// Session policy number `policy` of the session `session`.
    SessionPolicy { session: String, policy: usize },
}

/// One statement or grant that decided a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reason {
    pub source: Source,
    /// Statement index within its policy (not for grants).
    pub statement: Option<usize>,
    pub sid: Option<String>,
}

impl Reason {
    /// The reason as JSON, in the the decision format (docs/formats.md) shape.
    pub fn to_value(&self) -> Value {
        let mut o = Map::new();
        match &self.source {
            Source::KeyPolicy { key } => {
                o.insert("source".into(), "key-policy".into());
                o.insert("key".into(), key.clone().into());
            }
            Source::IdentityPolicy { principal, policy } => {
                o.insert("source".into(), "identity-policy".into());
                o.insert("principal".into(), principal.clone().into());
                o.insert("policy".into(), (*policy).into());
            }
            Source::GroupPolicy { group, policy } => {
                o.insert("source".into(), "group-policy".into());
                o.insert("group".into(), group.clone().into());
                o.insert("policy".into(), (*policy).into());
            }
            Source::PermissionsBoundary { principal } => {
                o.insert("source".into(), "permissions-boundary".into());
                o.insert("principal".into(), principal.clone().into());
            }
            Source::Grant { key, grant_id } => {
                o.insert("source".into(), "grant".into());
                o.insert("key".into(), key.clone().into());
                o.insert("grant_id".into(), grant_id.clone().into());
            }
            Source::RootUser { account } => {
                o.insert("source".into(), "root-user".into());
                o.insert("account".into(), account.clone().into());
            }
            Source::Scp { policy_id } => {
                o.insert("source".into(), "scp".into());
                o.insert("policy_id".into(), policy_id.clone().into());
            }
            Source::Rcp { policy_id } => {
                o.insert("source".into(), "rcp".into());
                o.insert("policy_id".into(), policy_id.clone().into());
            }
            Source::VpcEndpointPolicy { endpoint } => {
                o.insert("source".into(), "vpc-endpoint-policy".into());
                o.insert("endpoint".into(), endpoint.clone().into());
            }
            Source::SessionPolicy { session, policy } => {
                o.insert("source".into(), "session-policy".into());
                o.insert("session".into(), session.clone().into());
                o.insert("policy".into(), (*policy).into());
            }
        }
        if let Some(sid) = &self.sid {
            o.insert("sid".into(), sid.clone().into());
        }
        if let Some(i) = self.statement {
            o.insert("statement".into(), i.into());
        }
        Value::Object(o)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::KeyPolicy { key } => write!(f, "key policy of {key}")?,
            Source::IdentityPolicy { principal, policy } => {
                write!(f, "identity policy {policy} of {principal}")?
            }
            Source::GroupPolicy { group, policy } => write!(f, "policy {policy} of group {group}")?,
            Source::PermissionsBoundary { principal } => {
                write!(f, "permissions boundary of {principal}")?
            }
            Source::Grant { key, grant_id } => return write!(f, "grant {grant_id} on {key}"),
            Source::RootUser { account } => return write!(f, "root user of account {account}"),
            Source::Scp { policy_id } => write!(f, "service control policy {policy_id}")?,
            Source::Rcp { policy_id } => write!(f, "resource control policy {policy_id}")?,
            Source::VpcEndpointPolicy { endpoint } => {
                write!(f, "policy of VPC endpoint {endpoint}")?
            }
            Source::SessionPolicy { session, policy } => {
                write!(f, "session policy {policy} of {session}")?
            }
        }
        if let Some(i) = self.statement {
            write!(f, ", statement {i}")?;
        }
        if let Some(sid) = &self.sid {
            write!(f, " (Sid {sid:?})")?;
        }
        Ok(())
    }
}

/// The layer whose allow was missing, for an implicit deny (docs/formats.md (Decisions) `--explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Missing {
    /// The request cannot be authorized at all (unknown key or alias, reserved alias).
    Unresolvable,
    /// The key has no key policy.
    NoKeyPolicy,
    /// No key-policy statement allows the caller, directly or through its account.
    KeyPolicyAllow,
    /// An identity policy allows, but the key policy does not delegate to the caller's account.
    KeyPolicyDelegation,
    /// The key policy delegates to the account, but no identity policy allows.
    IdentityPolicyAllow,
    /// The permissions boundary does not allow the action.
    PermissionsBoundary,
    /// Cross-account: the action cannot be used across accounts.
    NotCrossAccountAction,
    /// Cross-account: the key owner's side (key policy) does not allow.
    CrossAccountKeySide,
    /// Cross-account: the caller's side (identity policy) does not allow.
    CrossAccountCallerSide,
    /// A grant names the caller and operation, but its constraints are not met.
    GrantConstraint,
    /// RetireGrant: the caller is not the grant's retiring principal, an allowed grantee or the
    /// issuing account.
    RetireGrantRules,
    /// At some level of the caller account's organization path no attached SCP allows.
    ScpAllow,
    /// The VPC endpoint's policy does not allow the request.
    VpcEndpointAllow,
    /// The session policies do not allow the action (or a federated-user session has none).
    SessionPolicy,
}

impl Missing {
    /// A stable code for scripts.
    pub fn code(self) -> &'static str {
        match self {
            Missing::Unresolvable => "unresolvable-request",
            Missing::NoKeyPolicy => "no-key-policy",
            Missing::KeyPolicyAllow => "no-key-policy-allow",
            Missing::KeyPolicyDelegation => "key-policy-does-not-delegate",
            Missing::IdentityPolicyAllow => "no-identity-policy-allow",
            Missing::PermissionsBoundary => "permissions-boundary",
            Missing::NotCrossAccountAction => "not-cross-account-action",
            Missing::CrossAccountKeySide => "cross-account-key-side-missing",
            Missing::CrossAccountCallerSide => "cross-account-caller-side-missing",
            Missing::GrantConstraint => "grant-constraint-not-met",
            Missing::RetireGrantRules => "retire-grant-not-permitted",
            Missing::ScpAllow => "scp-allow-missing",
            Missing::VpcEndpointAllow => "vpc-endpoint-policy-allow-missing",
            Missing::SessionPolicy => "session-policy-allow-missing",
        }
    }
}

/// An explanation of a decision, for people.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explanation {
    /// For an implicit deny: the missing layer.
    pub missing: Option<Missing>,
    /// Sentences saying how the decision came about, including any assumption keyward made
    /// where AWS's behaviour is not documented.
    pub notes: Vec<String>,
}

/// The decision on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The deny that won, or the allows that together allowed.
    pub reasons: Vec<Reason>,
    /// The key-state error the operation would fail with even when authorized (docs/semantics.md §5 rule 6),
    /// e.g. `DisabledException`.
    pub key_state_error: Option<String>,
    /// Another error the authorized call fails with: PutKeyPolicy rejected by the policy lockout
    /// safety check (docs/semantics.md §7.9).
    pub operation_error: Option<String>,
}

impl Decision {
    /// The decision as JSON (docs/formats.md (Decisions)), with the explanation when one is given.
    pub fn to_value(&self, explanation: Option<&Explanation>) -> Value {
        let mut v = json!({
            "decision": self.outcome.as_str(),
            "reasons": self.reasons.iter().map(Reason::to_value).collect::<Vec<_>>(),
        });
        if let Some(e) = &self.key_state_error {
            v["key_state_error"] = e.clone().into();
        }
        if let Some(e) = &self.operation_error {
            v["operation_error"] = e.clone().into();
        }
        if let Some(x) = explanation {
            let mut o = Map::new();
            if let Some(m) = x.missing {
                o.insert("missing".into(), m.code().into());
            }
            o.insert("notes".into(), x.notes.clone().into());
            v["explanation"] = Value::Object(o);
        }
        v
    }
}
