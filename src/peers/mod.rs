//! Peer engines for the side-by-side benchmark (`--features peers`): the same world and the same
//! requests decided by [Cedar](cedar) (`cedar-policy`) and by [regorus](rego) (Rego), so their
//! throughput can be compared with keyward's on identical decisions. Nothing here is used by
//! keyward itself; the module exists only with the `peers` feature.
//!
//! Both peers start from one shared translation of the world, written here:
//!
//! - every policy statement (key policy, identity policy, group policy) becomes a [`Stmt`]: its
//!   `Action` list expanded to the concrete KMS actions it matches (a closed set of 56), its
//!   principals split into direct entries and account entries (an account entry only delegates
//!   to IAM), its resource patterns split into the six ARN parts, and its conditions into
//!   [`Cond`]s over lower-cased condition keys;
//! - every grant becomes a [`GrantIr`];
//! - every request becomes [`Facts`]: the key and world principal it concerns, whether it is
//!   cross-account, and the values of its condition keys — the request's own first, then those
//!   AWS derives (caller account, principal ARN and tags, resource account and tags, encryption
//!   context, `kms:GrantIsForAWSResource`, `aws:ViaAWSService`). The peers compute these from
//!   the request and the world at check time, as a Cedar or OPA user would fill their context.
//!
//! What the translation does not cover is refused with an error naming it, never dropped:
//! `NotPrincipal`, permissions boundaries, policy variables, `?` in patterns, numeric, date, IP,
//! binary and ARN condition operators, `IgnoreCase` operators, set operators other than with
//! `StringEquals`, condition keys that keyward derives but the peers do not (key spec, org ids,
//! request alias, …), grants with `EncryptionContextEquals`, `SourceArn` or the `CreateGrant` /
//! `RetireGrant` operations, and `kms:ReEncrypt`, `RetireGrant` and alias requests. The generated
//! worlds of `keyward gen` use none of these.
//!
//! Boolean-valued context keys ([`BOOL_KEYS`]) are lower-cased when the facts are built, because
//! neither Cedar nor Rego can fold case inside a `Bool` comparison; AWS compares them
//! case-insensitively.

pub mod cedar;
pub mod rego;

use crate::actions::{self, ActionId, ResourceKind, ACTION_COUNT};
use crate::arn::PrincipalEntry;
use crate::context::is_identity_only_key;
use crate::policy::{
    BaseOp, CondValue, Condition, Effect, Policy, ResourcePattern, SetOp, Statement,
    MULTI_VALUED_KEYS,
};
use crate::request::{ContextValue, Request, RequestAction};
use crate::world::World;
use crate::Outcome;
use std::collections::HashMap;

/// Condition keys whose values are booleans: the facts hold them in lower case.
pub const BOOL_KEYS: &[&str] = &[
    "aws:multifactorauthpresent",
    "aws:securetransport",
    "aws:viaawsservice",
    "aws:principalisawsservice",
    "kms:grantisforawsresource",
    "kms:bypasspolicylockoutsafetycheck",
    "kms:multiregion",
    "kms:reencryptonsamekey",
];

/// Condition keys keyward derives that the peers' facts do not: a condition on one is refused.
const NOT_DERIVED: &[&str] = &[
    "aws:principalisawsservice",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:principaltype",
    "aws:username",
    "aws:userid",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:securetransport",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "kms:keyspec",
    "kms:customermasterkeyspec",
    "kms:keyusage",
    "kms:customermasterkeyusage",
    "kms:keyorigin",
    "kms:multiregion",
    "kms:multiregionkeytype",
    "kms:resourcealiases",
    "kms:requestalias",
    "kms:reencryptonsamekey",
    "kms:encryptionalgorithm",
    "kms:messagetype",
];

/// Where a statement comes from, encoded in the peers' policy ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// A key policy: statements name principals; identity-only condition keys are absent.
    Key,
    /// An identity or group policy of a principal.
    Identity,
}

/// The principals a key-policy statement names, split by how they match.
#[derive(Clone, Debug, Default)]
pub struct PrincipalIr {
    /// `*`: every caller, directly.
    pub any: bool,
    /// Users, roles, sessions, federated users and services: they match the caller itself.
    pub direct: Vec<PrincipalEntry>,
    /// Accounts: they match every principal of the account, through its IAM policies.
    pub accounts: Vec<String>,
}

/// One ARN pattern of a `Resource` element, `*` being its only wildcard.
#[derive(Clone, Debug)]
pub enum ArnPat {
    /// Fewer than six colon-separated parts: matched against the whole ARN.
    Whole(String),
    /// Matched part by part: partition, service, region, account, resource (the `arn` part is
    /// checked at translation time).
    Parts([String; 5]),
}

/// A statement's `Resource` / `NotResource`.
#[derive(Clone, Debug)]
pub enum ResIr {
    /// `*`.
    Any,
    /// ARN patterns, any of which matches (none of which, negated).
    Patterns { negated: bool, pats: Vec<ArnPat> },
}

/// How a condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CondKind {
    /// `StringEquals` / `StringNotEquals`.
    Equals,
    /// `StringLike` / `StringNotLike`: values are `*` globs.
    Like,
    /// `Bool`: values are `true` or `false`.
    Bool,
    /// `Null`: `values[0]` is `true` (must be absent) or `false` (must be present).
    Null,
}

/// One condition, ready for a peer.
#[derive(Clone, Debug)]
pub struct Cond {
    /// The lower-cased condition key.
    pub key: String,
    /// The key is never present for this statement (an identity-only key in a key policy).
    pub absent: bool,
    /// The key holds a set of values (`kms:EncryptionContextKeys`, `kms:GrantOperations`, …).
    pub multi: bool,
    pub kind: CondKind,
    pub negated: bool,
    pub if_exists: bool,
    pub set: Option<SetOp>,
    pub values: Vec<String>,
}

impl Cond {
    /// What the condition evaluates to when its key is absent from the request.
    pub fn absent_answer(&self) -> bool {
        match self.kind {
            CondKind::Null => self.values.iter().any(|v| v == "true"),
            _ => match self.set {
                Some(SetOp::ForAllValues) => true,
                Some(SetOp::ForAnyValue) => self.if_exists,
                None => self.if_exists || self.negated,
            },
        }
    }
}

/// A statement, ready for a peer.
#[derive(Clone, Debug)]
pub struct Stmt {
    /// A unique id that says where the statement comes from.
    pub id: String,
    pub effect: Effect,
    /// The actions it applies to (all of them when `all_actions`).
    pub actions: Vec<ActionId>,
    pub all_actions: bool,
    /// Key-policy statements only.
    pub principals: Option<PrincipalIr>,
    pub resources: ResIr,
    pub conds: Vec<Cond>,
}

/// A grant, ready for a peer: it allows `ops` to its grantee, with an encryption-context subset
/// constraint on the operations that take an encryption context.
#[derive(Clone, Debug)]
pub struct GrantIr {
    pub id: String,
    pub grantee: PrincipalEntry,
    pub ops: Vec<ActionId>,
    /// `EncryptionContextSubset` pairs, keys lower-cased.
    pub ec_subset: Vec<(String, String)>,
}

/// The world translated once: statements of every key and every principal, and grants.
pub struct Translated {
    /// Per key (world order): its key-policy statements, or `None` without a key policy.
    pub keys: Vec<Option<Vec<Stmt>>>,
    /// Per key: its grants.
    pub grants: Vec<Vec<GrantIr>>,
    /// Per principal (world order): its identity and group statements.
    pub principals: Vec<Vec<Stmt>>,
    /// Key ARN and alias ARN → key index.
    pub key_index: HashMap<String, usize>,
    /// Principal ARN → principal index.
    pub principal_index: HashMap<String, usize>,
}

/// Translates a world for the peers, or says what it cannot translate.
pub fn translate(world: &World) -> Result<Translated, String> {
    let mut keys = Vec::with_capacity(world.keys.len());
    let mut grants = Vec::with_capacity(world.keys.len());
    let mut key_index = HashMap::new();
    for (k, key) in world.keys.iter().enumerate() {
        key_index.insert(key.arn.clone(), k);
        for a in &key.aliases {
            key_index.insert(key.alias_arn(a), k);
        }
        keys.push(match &key.policy {
            Some(p) => Some(policy_ir(p, Layer::Key, &format!("key{k}"))?),
            None => None,
        });
        let mut gs = Vec::new();
        if key.policy.is_some() {
            for g in world.grants_for_key(&key.arn) {
                gs.push(grant_ir(g)?);
            }
        }
        grants.push(gs);
    }
    let mut principals = Vec::with_capacity(world.principals.len());
    let mut principal_index = HashMap::new();
    for (i, p) in world.principals.iter().enumerate() {
        if p.permissions_boundary.is_some() {
            return Err(format!(
                "{}: permissions boundaries are not translated",
                p.arn
            ));
        }
        principal_index.insert(p.arn.clone(), i);
        let mut stmts = Vec::new();
        for (j, pol) in p.policies.iter().enumerate() {
            stmts.extend(policy_ir(pol, Layer::Identity, &format!("p{i}.policy{j}"))?);
        }
        for g in &p.groups {
            if let Some(group) = world.group(g) {
                for (j, pol) in group.policies.iter().enumerate() {
                    stmts.extend(policy_ir(
                        pol,
                        Layer::Identity,
                        &format!("p{i}.{g}.policy{j}"),
                    )?);
                }
            }
        }
        principals.push(stmts);
    }
    Ok(Translated {
        keys,
        grants,
        principals,
        key_index,
        principal_index,
    })
}

fn policy_ir(policy: &Policy, layer: Layer, prefix: &str) -> Result<Vec<Stmt>, String> {
    let mut out = Vec::new();
    for (i, st) in policy.statements.iter().enumerate() {
        let id = format!("{prefix}.stmt{i}");
        if let Some(s) = statement_ir(&id, st, layer).map_err(|e| format!("{id}: {e}"))? {
            out.push(s);
        }
    }
    Ok(out)
}

/// Translates one statement; `None` for an inert one (no `Action`, `Resource` or, in a key
/// policy, `Principal`).
pub fn statement_ir(id: &str, st: &Statement, layer: Layer) -> Result<Option<Stmt>, String> {
    let (Some(acts), Some(res)) = (&st.action, &st.resource) else {
        return Ok(None);
    };
    let set = crate::engine::compile::action_set(acts);
    let actions: Vec<ActionId> = (0..ACTION_COUNT as ActionId)
        .filter(|&a| set.contains(a))
        .collect();
    let all_actions = actions.len() == ACTION_COUNT;
    let principals = match (layer, &st.principal) {
        (Layer::Identity, _) => None,
        (Layer::Key, None) => return Ok(None),
        (Layer::Key, Some(p)) if p.negated => return Err("NotPrincipal is not translated".into()),
        (Layer::Key, Some(p)) => {
            let mut ir = PrincipalIr::default();
            for e in &p.entries {
                match e {
                    PrincipalEntry::Any => ir.any = true,
                    PrincipalEntry::Account(a) => ir.accounts.push(a.clone()),
                    PrincipalEntry::Never(_) => {}
                    other => ir.direct.push(other.clone()),
                }
            }
            Some(ir)
        }
    };
    let resources = if res.patterns.contains(&ResourcePattern::Any) && !res.negated {
        ResIr::Any
    } else {
        let mut pats = Vec::new();
        for p in &res.patterns {
            match p {
                ResourcePattern::Any => pats.push(ArnPat::Whole("*".into())),
                ResourcePattern::Arn(t) => {
                    let text = t.as_plain().ok_or("policy variables are not translated")?;
                    star_only(&text)?;
                    let parts: Vec<&str> = text.splitn(6, ':').collect();
                    pats.push(match parts.as_slice() {
                        [arn, a, b, c, d, e] if *arn == "arn" => {
                            ArnPat::Parts([*a, *b, *c, *d, *e].map(str::to_owned))
                        }
                        [_, _, _, _, _, _] => {
                            return Err(format!(
                                "resource pattern {text:?} does not start with arn"
                            ))
                        }
                        _ => ArnPat::Whole(text.clone()),
                    });
                }
            }
        }
        ResIr::Patterns {
            negated: res.negated,
            pats,
        }
    };
    let mut conds = Vec::new();
    for c in &st.conditions {
        conds.push(cond_ir(c, layer)?);
    }
    Ok(Some(Stmt {
        id: id.to_owned(),
        effect: st.effect,
        actions,
        all_actions,
        principals,
        resources,
        conds,
    }))
}

fn star_only(text: &str) -> Result<(), String> {
    if text.contains('?') {
        return Err(format!("the `?` wildcard in {text:?} is not translated"));
    }
    Ok(())
}

fn cond_ir(c: &Condition, layer: Layer) -> Result<Cond, String> {
    let key = c.key_lower.clone();
    if NOT_DERIVED.contains(&key.as_str()) {
        return Err(format!(
            "condition key {} is not derived by the peers",
            c.key
        ));
    }
    let op = c.operator;
    let (kind, negated) = match op.base {
        BaseOp::StringEquals => (CondKind::Equals, false),
        BaseOp::StringNotEquals => (CondKind::Equals, true),
        BaseOp::StringLike => (CondKind::Like, false),
        BaseOp::StringNotLike => (CondKind::Like, true),
        BaseOp::Bool if BOOL_KEYS.contains(&key.as_str()) => (CondKind::Bool, false),
        BaseOp::Null => (CondKind::Null, false),
        _ => {
            return Err(format!(
                "condition operator {} on {} is not translated",
                op.name(),
                c.key
            ))
        }
    };
    if op.set.is_some() && kind != CondKind::Equals {
        return Err(format!(
            "condition operator {} is not translated",
            op.name()
        ));
    }
    let mut values = Vec::new();
    for v in &c.values {
        values.push(match v {
            CondValue::Text(t) => {
                let s = t.as_plain().ok_or("policy variables are not translated")?;
                if kind == CondKind::Like {
                    star_only(&s)?;
                }
                if kind == CondKind::Bool {
                    s.to_ascii_lowercase()
                } else {
                    s
                }
            }
            CondValue::Absent(b) => b.to_string(),
            _ => return Err(format!("condition value of {} is not translated", c.key)),
        });
    }
    if kind == CondKind::Bool {
        // Only `true` and `false` can ever match a Bool condition.
        values.retain(|v| v == "true" || v == "false");
    }
    let absent = layer == Layer::Key && is_identity_only_key(&key);
    Ok(Cond {
        multi: MULTI_VALUED_KEYS.contains(&key.as_str()),
        key,
        absent,
        kind,
        negated,
        if_exists: op.if_exists,
        set: op.set,
        values,
    })
}

fn grant_ir(g: &crate::world::Grant) -> Result<GrantIr, String> {
    let c = &g.constraints;
    if c.equals.is_some() || c.source_arn.is_some() {
        return Err(format!(
            "grant {}: EncryptionContextEquals and SourceArn constraints are not translated",
            g.grant_id
        ));
    }
    let mut ops = Vec::new();
    for op in &g.operations {
        if op == "CreateGrant" || op == "RetireGrant" {
            return Err(format!(
                "grant {}: the {op} operation is not translated",
                g.grant_id
            ));
        }
        if let Some(a) = actions::by_name(op).filter(|&a| actions::info(a).grant_op) {
            ops.push(a);
        }
    }
    Ok(GrantIr {
        id: format!("grant.{}", g.grant_id),
        grantee: g.grantee.clone(),
        ops,
        ec_subset: c
            .subset
            .iter()
            .flatten()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect(),
    })
}

/// What a request is about, as both peers need it.
#[derive(Clone, Debug)]
pub struct Facts {
    pub action: ActionId,
    /// The key of a key action (an index into the world's keys); `None` for resourceless ones.
    pub key: Option<usize>,
    /// The world principal holding the caller's identity policies.
    pub principal: Option<usize>,
    /// A key action by a caller of another account.
    pub cross: bool,
    /// Decided before any policy: the key is not in the world, or the action cannot be used
    /// across accounts (docs/semantics.md §7 — an implicit deny whatever the policies say).
    pub guard: bool,
    /// The ARN the `Resource` element is matched against, split in its six parts.
    pub resource_arn: String,
    /// Condition keys (lower case) and their values: the request's own, then derived ones.
    pub values: Vec<(String, ContextValue)>,
}

impl Facts {
    /// Computes the facts of a request, or says why the peers cannot decide it.
    pub fn of(world: &World, tr: &Translated, req: &Request) -> Result<Facts, String> {
        let RequestAction::One(action) = req.action else {
            return Err("kms:ReEncrypt requests are not translated".into());
        };
        let info = actions::info(action);
        if info.resource == ResourceKind::AliasAndKey || info.name == "RetireGrant" {
            return Err(format!("kms:{} requests are not translated", info.name));
        }
        let caller = &req.caller;
        let mut values: Vec<(String, ContextValue)> = Vec::with_capacity(req.context.len() + 8);
        for (k, v) in &req.context {
            let k = k.to_ascii_lowercase();
            let v = match v {
                ContextValue::Single(s) if BOOL_KEYS.contains(&k.as_str()) => {
                    ContextValue::Single(s.to_ascii_lowercase())
                }
                ContextValue::Multi(_) if !MULTI_VALUED_KEYS.contains(&k.as_str()) => {
                    return Err(format!(
                        "context key {k} has several values but is single-valued"
                    ))
                }
                v => v.clone(),
            };
            values.push((k, v));
        }
        let mut derive = |k: String, v: ContextValue| {
            if !values.iter().any(|(have, _)| *have == k) {
                values.push((k, v));
            }
        };
        let single = |s: &str| ContextValue::Single(s.to_owned());
        let wp = world.principal_for(caller);
        let principal = wp.and_then(|p| tr.principal_index.get(&p.arn).copied());
        if !caller.is_service() {
            if actions::supplies_caller_account(action) {
                derive("kms:calleraccount".into(), single(&caller.account));
            }
            derive("aws:principalaccount".into(), single(&caller.account));
            if let Some(arn) = world.principal_arn(caller) {
                derive("aws:principalarn".into(), ContextValue::Single(arn));
            }
            if let Some(p) = wp {
                for (k, v) in &p.tags {
                    derive(format!("aws:principaltag/{}", k.to_lowercase()), single(v));
                }
            }
        }
        let via = req
            .context
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("kms:ViaService"));
        derive(
            "aws:viaawsservice".into(),
            single(if via { "true" } else { "false" }),
        );
        let (key, resource_arn, cross, guard) = match info.resource {
            ResourceKind::Key => match tr.key_index.get(req.resource.as_str()) {
                Some(&k) => {
                    let key = &world.keys[k];
                    derive("aws:resourceaccount".into(), single(&key.account));
                    for (t, v) in &key.tags {
                        derive(format!("aws:resourcetag/{}", t.to_lowercase()), single(v));
                    }
                    let cross = !caller.is_service() && caller.account != key.account;
                    (
                        Some(k),
                        key.arn.clone(),
                        cross,
                        cross && !info.cross_account,
                    )
                }
                None => (None, req.resource.clone(), false, true),
            },
            _ => (None, crate::context::resourceless_arn(req), false, false),
        };
        if !req.encryption_context.is_empty() {
            for (k, v) in &req.encryption_context {
                derive(
                    format!("kms:encryptioncontext:{}", k.to_lowercase()),
                    single(v),
                );
            }
            let keys = req
                .encryption_context
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            derive(
                "kms:encryptioncontextkeys".into(),
                ContextValue::Multi(keys),
            );
        }
        if matches!(info.name, "CreateGrant" | "ListGrants" | "RevokeGrant") {
            derive(
                "kms:grantisforawsresource".into(),
                single(if via { "true" } else { "false" }),
            );
        }
        Ok(Facts {
            action,
            key,
            principal,
            cross,
            guard,
            resource_arn,
            values,
        })
    }

    /// The value of a condition key.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Splits `arn:partition:service:region:account:resource` into its last five parts.
pub fn arn_parts(arn: &str) -> [&str; 5] {
    match crate::arn::split_arn(arn) {
        Some([_, a, b, c, d, e]) => [a, b, c, d, e],
        None => ["", "", "", "", arn],
    }
}

/// A decision disagreement between keyward and a peer, naming the request.
#[derive(Debug)]
pub struct Disagreement {
    pub index: usize,
    pub request: String,
    pub keyward: Outcome,
    pub peer: Result<Outcome, String>,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request {} {}: keyward {}, peer {:?}",
            self.index, self.request, self.keyward, self.peer
        )
    }
}

/// Compares a peer's outcomes with keyward's on every request: the disagreements, in order.
pub fn disagreements(
    requests: &[Request],
    keyward: &[Outcome],
    mut peer: impl FnMut(&Request) -> Result<Outcome, String>,
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (i, (r, &k)) in requests.iter().zip(keyward).enumerate() {
        let p = peer(r);
        if p.as_ref() != Ok(&k) {
            out.push(Disagreement {
                index: i,
                request: r.to_value().to_string(),
                keyward: k,
                peer: p,
            });
        }
    }
    out
}
