//! The world (docs/formats.md (Worlds)): everything a decision depends on that is not in the request — keys with
//! their policies, aliases, tags and metadata; principals with identity policies, groups, tags and
//! permissions boundaries; groups; grants; accounts with their organization.

pub mod guardrails;
mod load;

pub use guardrails::{Chain, OrgPolicy, OrgPolicyKind, Organization, Session, VpcEndpoint};
pub use load::{LoadError, GRANT_FIELDS};

use crate::arn::{split_arn, Caller, CallerKind, PrincipalEntry};
use crate::policy::{Finding, Policy};
use std::collections::{BTreeMap, HashMap};

/// An AWS account and where it sits in an organization.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Account {
    pub id: String,
    pub org_id: Option<String>,
    pub org_paths: Vec<String>,
}

/// Key properties that feed `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`, `kms:MultiRegion`
/// and the key-state check.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyMetadata {
    pub key_spec: String,
    pub key_usage: String,
    pub origin: String,
    pub multi_region: bool,
    /// `PRIMARY` / `REPLICA` for multi-Region keys.
    pub multi_region_key_type: Option<String>,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`, …
    pub key_state: String,
    /// `CUSTOMER` or `AWS` (an AWS managed key, which resource control policies do not govern).
    pub key_manager: String,
}

impl Default for KeyMetadata {
    fn default() -> Self {
        KeyMetadata {
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            origin: "AWS_KMS".into(),
            multi_region: false,
            multi_region_key_type: None,
            key_state: "Enabled".into(),
            key_manager: "CUSTOMER".into(),
        }
    }
}

/// A KMS key.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// `arn:<partition>:kms:<region>:<account>:key/<key-id>`.
    pub arn: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    /// The key policy; a key without one denies everything.
    pub policy: Option<Policy>,
    /// Alias names (`alias/app-data`).
    pub aliases: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub metadata: KeyMetadata,
}

impl Key {
    /// The ARN of one of this key's aliases.
    pub fn alias_arn(&self, alias: &str) -> String {
        format!(
            "arn:{}:kms:{}:{}:{alias}",
            self.partition, self.region, self.account
        )
    }
}

/// An IAM user or role (or any principal with identity policies).
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub arn: String,
    pub account: String,
    pub policies: Vec<Policy>,
    /// Group ARNs (IAM users).
    pub groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub permissions_boundary: Option<Policy>,
}

/// An IAM group: its policies apply to its member users.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub arn: String,
    pub policies: Vec<Policy>,
}

/// A grant's encryption-context and source constraints (docs/semantics.md §7.5.1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GrantConstraints {
    /// `EncryptionContextEquals`: the request's EC must have exactly these pairs.
    pub equals: Option<Vec<(String, String)>>,
    /// `EncryptionContextSubset`: the request's EC must include these pairs.
    pub subset: Option<Vec<(String, String)>>,
    /// `SourceArn`: the request's `aws:SourceArn` must equal it.
    pub source_arn: Option<String>,
}

/// Whether `pairs` holds `k: v` as grant constraints compare encryption-context pairs: keys
/// case-insensitively, values exactly (docs/semantics.md §7.5.2).
pub fn has_pair(pairs: &[(String, String)], k: &str, v: &str) -> bool {
    pairs.iter().any(|(pk, pv)| {
        pv == v
            && if pk.is_ascii() && k.is_ascii() {
                pk.eq_ignore_ascii_case(k)
            } else {
                pk.to_lowercase() == k.to_lowercase()
            }
    })
}

impl GrantConstraints {
    /// Whether a request's encryption context satisfies the encryption-context constraint:
    /// `Equals` needs exactly these pairs, `Subset` at least these (docs/semantics.md §7.5.2).
    pub fn accepts_context(&self, ec: &[(String, String)]) -> bool {
        if let Some(e) = &self.equals {
            return e.len() == ec.len() && e.iter().all(|(k, v)| has_pair(ec, k, v));
        }
        if let Some(s) = &self.subset {
            return s.iter().all(|(k, v)| has_pair(ec, k, v));
        }
        true
    }
}

/// A grant on a key, in the ListGrants shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// Key ARN.
    pub key: String,
    pub grant_id: String,
    pub name: Option<String>,
    /// `GranteePrincipal` or `GranteeServicePrincipal`.
    pub grantee: PrincipalEntry,
    /// `RetiringPrincipal` or `RetiringServicePrincipal`.
    pub retiring: Option<PrincipalEntry>,
    /// Account id of `IssuingAccount`.
    pub issuing_account: String,
    /// Grant operation names (`Decrypt`, `ReEncryptFrom`, …).
    pub operations: Vec<String>,
    pub constraints: GrantConstraints,
}

/// The whole policy set that decisions are made against (docs/formats.md, "Worlds").
///
/// ```
/// let world = keyward::World::load("corpus/default/world.json")?;
/// assert!(!world.keys.is_empty());
/// # Ok::<(), keyward::world::LoadError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct World {
    pub accounts: HashMap<String, Account>,
    pub keys: Vec<Key>,
    pub principals: Vec<Principal>,
    pub groups: HashMap<String, Group>,
    pub grants: Vec<Grant>,
    /// Organizations, with their service and resource control policies.
    pub organizations: Vec<Organization>,
    pub org_policies: Vec<OrgPolicy>,
    /// KMS VPC endpoints and their policies.
    pub vpc_endpoints: Vec<VpcEndpoint>,
    /// Sessions started with session policies.
    pub sessions: Vec<Session>,
    /// Warnings found while loading (inert statements, unknown fields, …).
    pub warnings: Vec<Finding>,
    key_by_arn: HashMap<String, usize>,
    key_by_alias_arn: HashMap<String, usize>,
    principal_by_arn: HashMap<String, usize>,
    role_by_name: HashMap<(String, String), usize>,
    grants_by_key: HashMap<String, Vec<usize>>,
    chains: HashMap<String, Chain>,
    endpoint_by_id: HashMap<String, usize>,
    session_by_arn: HashMap<String, usize>,
}

impl World {
    /// Builds the lookup indexes after the parts have been filled in.
    fn index(&mut self) {
        for (i, k) in self.keys.iter().enumerate() {
            self.key_by_arn.insert(k.arn.clone(), i);
            for a in &k.aliases {
                self.key_by_alias_arn.insert(k.alias_arn(a), i);
            }
        }
        for (i, p) in self.principals.iter().enumerate() {
            self.principal_by_arn.insert(p.arn.clone(), i);
            if let Some([_, _, "iam", _, account, res]) = split_arn(&p.arn) {
                if let Some(path) = res.strip_prefix("role/") {
                    let name = path.rsplit('/').next().unwrap_or(path);
                    self.role_by_name
                        .insert((account.to_owned(), name.to_owned()), i);
                }
            }
        }
        for (i, g) in self.grants.iter().enumerate() {
            self.grants_by_key.entry(g.key.clone()).or_default().push(i);
        }
        self.chains = guardrails::chains(&self.accounts, &self.organizations, &self.org_policies);
        for (i, e) in self.vpc_endpoints.iter().enumerate() {
            self.endpoint_by_id.insert(e.id.clone(), i);
        }
        for (i, s) in self.sessions.iter().enumerate() {
            self.session_by_arn.insert(s.arn.clone(), i);
        }
    }

    /// The control policies governing `account`, when it is in an organization of the world.
    pub fn chain(&self, account: &str) -> Option<&Chain> {
        self.chains.get(account)
    }

    /// The VPC endpoint with this id.
    pub fn vpc_endpoint(&self, id: &str) -> Option<&VpcEndpoint> {
        self.endpoint_by_id.get(id).map(|&i| &self.vpc_endpoints[i])
    }

    /// The session entry for exactly this caller ARN.
    pub fn session(&self, arn: &str) -> Option<&Session> {
        self.session_by_arn.get(arn).map(|&i| &self.sessions[i])
    }

    /// Whether the world holds any guardrail layer at all (organization policies, endpoints or
    /// sessions).
    pub fn has_guardrails(&self) -> bool {
        !self.org_policies.is_empty() || !self.vpc_endpoints.is_empty() || !self.sessions.is_empty()
    }

    /// The key with this ARN.
    pub fn key(&self, arn: &str) -> Option<&Key> {
        self.key_by_arn.get(arn).map(|&i| &self.keys[i])
    }

    /// The key an alias ARN points to.
    pub fn key_for_alias(&self, alias_arn: &str) -> Option<&Key> {
        self.key_by_alias_arn.get(alias_arn).map(|&i| &self.keys[i])
    }

    /// The principal definition that holds `caller`'s identity policies: the user, the role of a
    /// role session, or the principal listed under exactly the caller's ARN.
    pub fn principal_for(&self, caller: &Caller) -> Option<&Principal> {
        if let Some(&i) = self.principal_by_arn.get(&caller.arn) {
            return Some(&self.principals[i]);
        }
        match &caller.kind {
            CallerKind::AssumedRole { role, .. } | CallerKind::Role { name: role } => self
                .role_by_name
                .get(&(caller.account.clone(), role.clone()))
                .map(|&i| &self.principals[i]),
            _ => None,
        }
    }

    /// The ARN `aws:PrincipalArn` takes for `caller`: the role ARN (with its path, when the world
    /// knows it) for a role session, else the caller's ARN.
    pub fn principal_arn(&self, caller: &Caller) -> Option<String> {
        match &caller.kind {
            CallerKind::Service { .. } => None,
            CallerKind::AssumedRole { role, .. } => Some(match self.principal_for(caller) {
                Some(p) => p.arn.clone(),
                None => format!(
                    "arn:{}:iam::{}:role/{role}",
                    caller.partition, caller.account
                ),
            }),
            _ => Some(caller.arn.clone()),
        }
    }

    /// The grants on a key, in world order.
    pub fn grants_for_key<'a>(&'a self, key_arn: &str) -> impl Iterator<Item = &'a Grant> + 'a {
        self.grants_by_key
            .get(key_arn)
            .into_iter()
            .flatten()
            .map(move |&i| &self.grants[i])
    }

    /// The group with this ARN.
    pub fn group(&self, arn: &str) -> Option<&Group> {
        self.groups.get(arn)
    }
}
