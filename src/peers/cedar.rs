//! keyward's world as Cedar policies (`cedar-policy`), decided by Cedar's authorizer.
//!
//! **Translation.** Each policy statement becomes one Cedar policy — `permit` for `Allow`,
//! `forbid` for `Deny` — whose id says where it came from (`key12.stmt1`,
//! `p40.policy0.stmt0`, `p40.arn:aws:iam::…:group/x.policy0.stmt0`); each grant becomes one
//! `permit` (`grant.<id>`). The scope holds the action list (expanded from the statement's
//! wildcards) and, for key-policy statements and grants, `resource == Kms::Key::"<arn>"`; the
//! `when` clauses hold the principals, the ARN patterns of `Resource` and the conditions:
//!
//! - callers are entities whose parents are their whole hierarchy: a role session
//!   `Kms::Session::"<account>/<role>/<session>"` is `in` its `Kms::Role::"<account>/<role>"`
//!   (roles are named without their path, as AWS matches them) and its `Kms::Account`; a user
//!   `Kms::User::"<arn>"` is `in` its account; the root user is `Kms::Root::"<account>"`;
//! - a key-policy principal naming the caller directly (`*`, a user, a role, a session) is
//!   `principal == …` / `principal in Kms::Role::…`; one naming an account is
//!   `principal in Kms::Account::"…"` and, being a delegation to IAM, also needs
//!   `context.identityAllows`; a direct match from another account needs it too (KMS's
//!   cross-account rule);
//! - the principal entity carries `account`, `arn` (`aws:PrincipalArn`) and `tags`; the key
//!   entity `account`, `tags` and the parts of its ARN (`arnRegion`, `arnAccount`, …); the
//!   context `viaService`, `callerAccount`, `ec` (the encryption context as a record, keys in
//!   lower case), `ecKeys`, `grantOperations`, `grantIsForAWSResource`, `mfaPresent`,
//!   `crossAccount`, `identityAllows`, and `other` (any other key the request gives);
//! - a condition becomes `if <present> then <comparison> else <the operator's answer for an
//!   absent key>`, with `==`, `like` (IAM's `*` is Cedar's `*`), `containsAny`/`containsAll`
//!   for set operators.
//!
//! **Combination.** KMS's rule is not one permit/forbid union: a key policy that delegates to
//! IAM needs an identity-policy allow, and an identity allow alone is not enough. So each
//! decision runs Cedar's authorizer twice, on two slices prebuilt at translation time (the
//! "best configuration": Cedar sees only the policies that can apply):
//!
//! 1. the **identity slice** of the caller's principal (its identity and group statements, plus
//!    `permit(principal is Kms::Root, …)`, since the root user needs no IAM policy): a matched
//!    `forbid` (Cedar's `Deny` with a non-empty `reason()`) is an explicit deny; `Allow` sets
//!    `identityAllows`;
//! 2. the **key slice** of the key (its key-policy statements and grants), with
//!    `context.identityAllows` from step 1: `Allow` is Allow, `Deny` with a `forbid` in
//!    `reason()` is an explicit deny, `Deny` without is an implicit deny.
//!
//! Resourceless actions (ListKeys, CreateKey, …) stop after step 1. Two fixed rules are applied
//! before Cedar runs, in [`CedarPeer::decide`]: a key the world does not have, and a
//! cross-account call of an action that cannot be used across accounts, are implicit denies
//! whatever the policies say (docs/semantics.md §7). Any evaluation error Cedar reports is returned as an
//! error, so a translation mistake cannot pass as a deny.

use super::{
    arn_parts, ArnPat, Cond, CondKind, Facts, GrantIr, PrincipalIr, ResIr, Stmt, Translated,
};
use crate::actions::{self, ActionId, ACTION_COUNT};
use crate::arn::{CallerKind, PrincipalEntry};
use crate::policy::{Effect, SetOp};
use crate::request::{ContextValue, Request};
use crate::world::World;
use crate::Outcome;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy,
    PolicyId, PolicySet, Request as CedarRequest, RestrictedExpression,
};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

/// The world as Cedar policy slices, and what building Cedar requests needs.
pub struct CedarPeer {
    /// The shared translation (statements, indexes).
    pub tr: Translated,
    /// Per key: its key-policy statements and grants.
    key_slices: Vec<PolicySet>,
    /// Per world principal: its identity and group statements, and the root-user permit.
    identity_slices: Vec<PolicySet>,
    /// The identity slice of a caller the world has no principal for: the root-user permit.
    nobody: PolicySet,
    authorizer: Authorizer,
    types: Types,
    /// `Kms::Action::"<Name>"`, by action id.
    action_uids: Vec<EntityUid>,
}

struct Types {
    account: EntityTypeName,
    root: EntityTypeName,
    user: EntityTypeName,
    role: EntityTypeName,
    session: EntityTypeName,
    federated: EntityTypeName,
    service: EntityTypeName,
    key: EntityTypeName,
    resource: EntityTypeName,
}

/// Everything one Cedar decision takes, built from a keyward request: the entities and the
/// identity-slice request; the key-slice request adds `identityAllows` to its context.
pub struct Built {
    facts: Facts,
    entities: Entities,
    principal: EntityUid,
    action: EntityUid,
    resource: EntityUid,
    context: Context,
}

/// Cedar inputs built in advance, for timing the authorizer alone.
pub struct Prepared {
    facts: Facts,
    entities: Entities,
    identity: CedarRequest,
    /// The key-slice request, with the `identityAllows` the identity slice gives.
    key: Option<CedarRequest>,
}

/// The resource attributes holding the parts of its ARN after `arn:`.
const ARN_ATTRS: [&str; 5] = [
    "arnPartition",
    "arnService",
    "arnRegion",
    "arnAccount",
    "arnResource",
];

const ROOT_PERMIT: &str = "permit(principal is Kms::Root, action, resource);";

fn ty(name: &str) -> EntityTypeName {
    EntityTypeName::from_str(name).expect("a valid Cedar type name")
}

/// A Cedar string literal.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Cedar `like` pattern for an IAM glob whose only wildcard is `*`.
fn like_pat(s: &str) -> String {
    // Cedar patterns take the same escapes as strings, and `*` is their wildcard too.
    lit(s)
}

fn uid(t: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
}

/// The Cedar expression of a key-policy principal entry that names the caller directly.
fn direct_entry(e: &PrincipalEntry) -> String {
    match e {
        PrincipalEntry::Any => "true".into(),
        PrincipalEntry::User { arn, .. } => format!("principal == Kms::User::{}", lit(arn)),
        PrincipalEntry::Role { account, name } => {
            format!(
                "principal in Kms::Role::{}",
                lit(&format!("{account}/{name}"))
            )
        }
        PrincipalEntry::Session {
            account,
            role,
            session,
        } => format!(
            "principal == Kms::Session::{}",
            lit(&format!("{account}/{role}/{session}"))
        ),
        PrincipalEntry::FederatedUser { account, name } => format!(
            "principal == Kms::FederatedUser::{}",
            lit(&format!("{account}/{name}"))
        ),
        PrincipalEntry::Service(s) => format!("principal == Kms::Service::{}", lit(s)),
        PrincipalEntry::Account(a) => format!("principal in Kms::Account::{}", lit(a)),
        PrincipalEntry::Never(_) => "false".into(),
    }
}

fn or(parts: &[String]) -> String {
    match parts {
        [] => "false".into(),
        [one] => one.clone(),
        many => format!("({})", many.join(" || ")),
    }
}

/// Where a condition key lives in a Cedar request: `(guard, value)` expressions.
fn key_expr(key: &str) -> (String, String) {
    let field = |base: &str, attr: &str| (format!("{base} has {attr}"), format!("{base}.{attr}"));
    let entry = |base: &str, rec: &str, k: &str| {
        (
            format!("{base}.{rec} has {}", lit(k)),
            format!("{base}.{rec}[{}]", lit(k)),
        )
    };
    if let Some(t) = key.strip_prefix("aws:principaltag/") {
        return entry("principal", "tags", t);
    }
    if let Some(t) = key.strip_prefix("aws:resourcetag/") {
        return entry("resource", "tags", t);
    }
    if let Some(k) = key.strip_prefix("kms:encryptioncontext:") {
        return entry("context", "ec", k);
    }
    match context_attr(key) {
        Some(Place::Principal(a)) => field("principal", a),
        Some(Place::Resource(a)) => field("resource", a),
        Some(Place::Context(a)) => field("context", a),
        None => entry("context", "other", key),
    }
}

enum Place {
    Principal(&'static str),
    Resource(&'static str),
    Context(&'static str),
}

/// Condition keys with an attribute of their own.
fn context_attr(key: &str) -> Option<Place> {
    Some(match key {
        "aws:principalaccount" => Place::Principal("account"),
        "aws:principalarn" => Place::Principal("arn"),
        "aws:resourceaccount" => Place::Resource("account"),
        "kms:viaservice" => Place::Context("viaService"),
        "kms:calleraccount" => Place::Context("callerAccount"),
        "kms:encryptioncontextkeys" => Place::Context("ecKeys"),
        "kms:grantoperations" => Place::Context("grantOperations"),
        "kms:grantisforawsresource" => Place::Context("grantIsForAWSResource"),
        "aws:viaawsservice" => Place::Context("viaAWSService"),
        "aws:multifactorauthpresent" => Place::Context("mfaPresent"),
        "aws:sourceip" => Place::Context("sourceIp"),
        _ => return None,
    })
}

fn set_lit(values: &[String]) -> String {
    format!(
        "[{}]",
        values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", ")
    )
}

/// One condition as a Cedar expression.
fn cond_expr(c: &Cond) -> String {
    let absent_answer = c.absent_answer();
    if c.absent {
        return absent_answer.to_string();
    }
    let (has, e) = key_expr(&c.key);
    let present = if c.multi {
        format!("({has} && {e} != [])")
    } else {
        format!("({has})")
    };
    let test = match (c.kind, c.set) {
        (CondKind::Null, _) => {
            let want_present = c.values.iter().any(|v| v == "false");
            return match (absent_answer, want_present) {
                (true, true) => "true".into(),
                (false, false) => "false".into(),
                (true, false) => format!("!{present}"),
                (false, true) => present,
            };
        }
        (_, Some(set)) => {
            let s = if c.multi { e.clone() } else { format!("[{e}]") };
            let vals = set_lit(&c.values);
            match (set, c.negated) {
                (SetOp::ForAnyValue, false) => format!("{s}.containsAny({vals})"),
                (SetOp::ForAnyValue, true) => format!("!{vals}.containsAll({s})"),
                (SetOp::ForAllValues, false) => format!("{vals}.containsAll({s})"),
                (SetOp::ForAllValues, true) => format!("!{s}.containsAny({vals})"),
            }
        }
        // A multivalued key without a set operator never matches (docs/semantics.md §3.2 note M).
        (_, None) if c.multi => "false".into(),
        (CondKind::Equals | CondKind::Bool, None) => {
            let any = or(&c
                .values
                .iter()
                .map(|v| format!("{e} == {}", lit(v)))
                .collect::<Vec<_>>());
            if c.negated {
                format!("!({any})")
            } else {
                any
            }
        }
        (CondKind::Like, None) => {
            let any = or(&c
                .values
                .iter()
                .map(|v| format!("{e} like {}", like_pat(v)))
                .collect::<Vec<_>>());
            if c.negated {
                format!("!({any})")
            } else {
                any
            }
        }
    };
    // Set operators treat an empty set as absent; without one, an empty set is present.
    let guard = if c.set.is_some() {
        present
    } else {
        format!("({has})")
    };
    format!("(if {guard} then {test} else {absent_answer})")
}

fn part_expr(attr: &str, pat: &str) -> Option<String> {
    if pat == "*" {
        None
    } else if pat.contains('*') {
        Some(format!("resource.{attr} like {}", like_pat(pat)))
    } else {
        Some(format!("resource.{attr} == {}", lit(pat)))
    }
}

fn resource_expr(r: &ResIr) -> Option<String> {
    let ResIr::Patterns { negated, pats } = r else {
        return None;
    };
    let alts: Vec<String> = pats
        .iter()
        .map(|p| match p {
            ArnPat::Whole(w) => part_expr("arn", w).unwrap_or_else(|| "true".into()),
            ArnPat::Parts(parts) => {
                let all: Vec<String> = ARN_ATTRS
                    .iter()
                    .zip(parts)
                    .filter_map(|(a, p)| part_expr(a, p))
                    .collect();
                if all.is_empty() {
                    "true".into()
                } else {
                    format!("({})", all.join(" && "))
                }
            }
        })
        .collect();
    let any = or(&alts);
    Some(if *negated { format!("!({any})") } else { any })
}

fn action_scope(actions: &[ActionId], all: bool) -> String {
    if all {
        return "action".into();
    }
    let list: Vec<String> = actions
        .iter()
        .map(|&a| format!("Kms::Action::{}", lit(actions::info(a).name)))
        .collect();
    format!("action in [{}]", list.join(", "))
}

/// The principal clause of a key-policy `permit` (with KMS's delegation rules) or `forbid`.
fn principal_clause(p: &PrincipalIr, effect: Effect) -> String {
    let mut direct: Vec<String> = p.direct.iter().map(direct_entry).collect();
    if p.any {
        direct = vec!["true".into()];
    }
    let accounts: Vec<String> = p
        .accounts
        .iter()
        .map(|a| format!("principal in Kms::Account::{}", lit(a)))
        .collect();
    if effect == Effect::Deny {
        return or(&[direct, accounts].concat());
    }
    let mut alts = Vec::new();
    if !direct.is_empty() {
        alts.push(format!(
            "({} && (!context.crossAccount || context.identityAllows))",
            or(&direct)
        ));
    }
    if !accounts.is_empty() {
        alts.push(format!("({} && context.identityAllows)", or(&accounts)));
    }
    or(&alts)
}

/// The Cedar text of one statement. `scope` is the principal scope (identity statements) and
/// `key` the key ARN (key-policy statements).
pub fn statement_text(st: &Stmt, principal_scope: &str, key: Option<&str>) -> String {
    let verb = match st.effect {
        Effect::Allow => "permit",
        Effect::Deny => "forbid",
    };
    let resource = match key {
        Some(arn) => format!("resource == Kms::Key::{}", lit(arn)),
        None => "resource".into(),
    };
    let mut out = format!(
        "{verb}({principal_scope}, {}, {resource})",
        action_scope(&st.actions, st.all_actions)
    );
    if let Some(p) = &st.principals {
        let _ = write!(out, " when {{ {} }}", principal_clause(p, st.effect));
    }
    if let Some(r) = resource_expr(&st.resources) {
        let _ = write!(out, " when {{ {r} }}");
    }
    for c in &st.conds {
        let _ = write!(out, " when {{ {} }}", cond_expr(c));
    }
    out.push(';');
    out
}

/// The Cedar text of a grant on `key`.
pub fn grant_text(g: &GrantIr, key: &str) -> String {
    let grantee = match &g.grantee {
        PrincipalEntry::Account(a) => format!(
            "principal in Kms::Account::{} && context.identityAllows",
            lit(a)
        ),
        e => direct_entry(e),
    };
    let mut out = format!(
        "permit(principal, {}, resource == Kms::Key::{}) when {{ {grantee} }}",
        action_scope(&g.ops, g.ops.len() == ACTION_COUNT),
        lit(key)
    );
    if !g.ec_subset.is_empty() {
        let ec_actions: Vec<ActionId> = g
            .ops
            .iter()
            .copied()
            .filter(|&a| actions::info(a).takes_encryption_context)
            .collect();
        let pairs: Vec<String> = g
            .ec_subset
            .iter()
            .map(|(k, v)| {
                format!(
                    "(context.ec has {0} && context.ec[{0}] == {1})",
                    lit(k),
                    lit(v)
                )
            })
            .collect();
        let _ = write!(
            out,
            " when {{ !({}) || {} }}",
            action_scope(&ec_actions, false),
            pairs.join(" && ")
        );
    }
    out.push(';');
    out
}

fn add(set: &mut PolicySet, id: &str, text: &str) -> Result<(), String> {
    let p = Policy::parse(Some(PolicyId::new(id)), text)
        .map_err(|e| format!("{id}: Cedar rejects the translation: {e}\n{text}"))?;
    set.add(p).map_err(|e| format!("{id}: {e}"))
}

fn rstr(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn rvalue(v: &ContextValue) -> RestrictedExpression {
    match v {
        ContextValue::Single(s) => rstr(s),
        ContextValue::Multi(vs) => RestrictedExpression::new_set(vs.iter().map(|s| rstr(s))),
    }
}

fn record(fields: Vec<(String, RestrictedExpression)>) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record(fields).map_err(|e| e.to_string())
}

impl CedarPeer {
    /// Translates a world into Cedar policy slices.
    pub fn new(world: &World) -> Result<CedarPeer, String> {
        let tr = super::translate(world)?;
        let mut key_slices = Vec::with_capacity(world.keys.len());
        for (k, key) in world.keys.iter().enumerate() {
            let mut set = PolicySet::new();
            for st in tr.keys[k].iter().flatten() {
                add(
                    &mut set,
                    &st.id,
                    &statement_text(st, "principal", Some(&key.arn)),
                )?;
            }
            for g in &tr.grants[k] {
                add(&mut set, &g.id, &grant_text(g, &key.arn))?;
            }
            key_slices.push(set);
        }
        let mut identity_slices = Vec::with_capacity(world.principals.len());
        for (i, p) in world.principals.iter().enumerate() {
            let scope = match crate::arn::Caller::parse(&p.arn).map(|c| c.kind) {
                Ok(CallerKind::Role { name }) => format!(
                    "principal in Kms::Role::{}",
                    lit(&format!("{}/{name}", p.account))
                ),
                Ok(CallerKind::User { .. }) => format!("principal == Kms::User::{}", lit(&p.arn)),
                _ => "principal".into(),
            };
            let mut set = PolicySet::new();
            add(&mut set, "root-user", ROOT_PERMIT)?;
            for st in &tr.principals[i] {
                add(&mut set, &st.id, &statement_text(st, &scope, None))?;
            }
            identity_slices.push(set);
        }
        let mut nobody = PolicySet::new();
        add(&mut nobody, "root-user", ROOT_PERMIT)?;
        let action_uids = (0..ACTION_COUNT as ActionId)
            .map(|a| uid(&ty("Kms::Action"), actions::info(a).name))
            .collect();
        Ok(CedarPeer {
            tr,
            key_slices,
            identity_slices,
            nobody,
            authorizer: Authorizer::new(),
            types: Types {
                account: ty("Kms::Account"),
                root: ty("Kms::Root"),
                user: ty("Kms::User"),
                role: ty("Kms::Role"),
                session: ty("Kms::Session"),
                federated: ty("Kms::FederatedUser"),
                service: ty("Kms::Service"),
                key: ty("Kms::Key"),
                resource: ty("Kms::Resource"),
            },
            action_uids,
        })
    }

    /// The number of Cedar policies across all slices (the root-user permit counted once).
    pub fn policy_count(&self) -> usize {
        let n = |s: &PolicySet| s.policies().count();
        self.key_slices.iter().map(n).sum::<usize>()
            + self.identity_slices.iter().map(|s| n(s) - 1).sum::<usize>()
            + 1
    }

    /// Builds the Cedar entities and context of a keyward request.
    pub fn build(&self, world: &World, req: &Request) -> Result<Built, String> {
        let facts = Facts::of(world, &self.tr, req)?;
        let t = &self.types;
        let c = &req.caller;
        let mut parents = HashSet::new();
        let principal = match &c.kind {
            CallerKind::Root => uid(&t.root, &c.account),
            CallerKind::User { .. } => uid(&t.user, &c.arn),
            CallerKind::Role { name } => uid(&t.role, &format!("{}/{name}", c.account)),
            CallerKind::AssumedRole { role, session } => {
                parents.insert(uid(&t.role, &format!("{}/{role}", c.account)));
                uid(&t.session, &format!("{}/{role}/{session}", c.account))
            }
            CallerKind::FederatedUser { name } => {
                uid(&t.federated, &format!("{}/{name}", c.account))
            }
            CallerKind::Service { name } => uid(&t.service, name),
        };
        if !c.is_service() {
            parents.insert(uid(&t.account, &c.account));
        }
        let mut p_attrs: HashMap<String, RestrictedExpression> = HashMap::new();
        let mut r_attrs: HashMap<String, RestrictedExpression> = HashMap::new();
        let mut ctx: Vec<(String, RestrictedExpression)> = Vec::with_capacity(12);
        let (mut p_tags, mut r_tags, mut ec, mut other) = (vec![], vec![], vec![], vec![]);
        for (k, v) in &facts.values {
            if let Some(t) = k.strip_prefix("aws:principaltag/") {
                p_tags.push((t.to_owned(), rvalue(v)));
            } else if let Some(t) = k.strip_prefix("aws:resourcetag/") {
                r_tags.push((t.to_owned(), rvalue(v)));
            } else if let Some(e) = k.strip_prefix("kms:encryptioncontext:") {
                ec.push((e.to_owned(), rvalue(v)));
            } else {
                match context_attr(k) {
                    Some(Place::Principal(a)) => {
                        p_attrs.insert(a.into(), rvalue(v));
                    }
                    Some(Place::Resource(a)) => {
                        r_attrs.insert(a.into(), rvalue(v));
                    }
                    Some(Place::Context(a)) => ctx.push((a.into(), rvalue(v))),
                    None => other.push((k.clone(), rvalue(v))),
                }
            }
        }
        p_attrs.insert("tags".into(), record(p_tags)?);
        r_attrs.insert("tags".into(), record(r_tags)?);
        ctx.push(("ec".into(), record(ec)?));
        ctx.push(("other".into(), record(other)?));
        ctx.push((
            "crossAccount".into(),
            RestrictedExpression::new_bool(facts.cross),
        ));
        let parts = arn_parts(&facts.resource_arn);
        for (a, p) in ARN_ATTRS.iter().zip(parts) {
            r_attrs.insert((*a).into(), rstr(p));
        }
        r_attrs.insert("arn".into(), rstr(&facts.resource_arn));
        let resource = match facts.key {
            Some(_) => uid(&t.key, &facts.resource_arn),
            None => uid(&t.resource, &facts.resource_arn),
        };
        let p_entity =
            Entity::new(principal.clone(), p_attrs, parents).map_err(|e| e.to_string())?;
        let r_entity =
            Entity::new(resource.clone(), r_attrs, HashSet::new()).map_err(|e| e.to_string())?;
        let entities =
            Entities::from_entities([p_entity, r_entity], None).map_err(|e| e.to_string())?;
        let context = Context::from_pairs(ctx).map_err(|e| e.to_string())?;
        Ok(Built {
            action: self.action_uids[facts.action as usize].clone(),
            facts,
            entities,
            principal,
            resource,
            context,
        })
    }

    fn request(&self, b: &Built, identity_allows: Option<bool>) -> Result<CedarRequest, String> {
        let context = match identity_allows {
            None => b.context.clone(),
            Some(allows) => b
                .context
                .clone()
                .merge([(
                    "identityAllows".to_owned(),
                    RestrictedExpression::new_bool(allows),
                )])
                .map_err(|e| e.to_string())?,
        };
        CedarRequest::new(
            b.principal.clone(),
            b.action.clone(),
            b.resource.clone(),
            context,
            None,
        )
        .map_err(|e| e.to_string())
    }

    /// Builds every Cedar input of a request in advance (both slices' requests), so that
    /// [`CedarPeer::decide_prepared`] times the authorizer alone. `None` for a request decided
    /// before Cedar runs (see the module docs).
    pub fn prepare(&self, world: &World, req: &Request) -> Result<Option<Prepared>, String> {
        let b = self.build(world, req)?;
        if b.facts.guard {
            return Ok(None);
        }
        let identity = self.request(&b, None)?;
        let key = match b.facts.key {
            Some(_) => {
                let (_, allows) = self.run_identity(&b.facts, &identity, &b.entities)?;
                Some(self.request(&b, Some(allows))?)
            }
            None => None,
        };
        Ok(Some(Prepared {
            facts: b.facts,
            entities: b.entities,
            identity,
            key,
        }))
    }

    fn identity_slice(&self, facts: &Facts) -> &PolicySet {
        match facts.principal {
            Some(p) => &self.identity_slices[p],
            None => &self.nobody,
        }
    }

    /// Runs the identity slice: (a forbid matched, a permit matched).
    fn run_identity(
        &self,
        facts: &Facts,
        req: &CedarRequest,
        entities: &Entities,
    ) -> Result<(bool, bool), String> {
        let r = self
            .authorizer
            .is_authorized(req, self.identity_slice(facts), entities);
        if let Some(e) = r.diagnostics().errors().next() {
            return Err(format!("Cedar error in the identity slice: {e}"));
        }
        Ok(match r.decision() {
            Decision::Allow => (false, true),
            Decision::Deny => (r.diagnostics().reason().next().is_some(), false),
        })
    }

    /// Runs the key slice of key `k`.
    fn run_key(
        &self,
        k: usize,
        req: &CedarRequest,
        entities: &Entities,
    ) -> Result<Outcome, String> {
        let r = self
            .authorizer
            .is_authorized(req, &self.key_slices[k], entities);
        if let Some(e) = r.diagnostics().errors().next() {
            return Err(format!("Cedar error in the key slice: {e}"));
        }
        Ok(match r.decision() {
            Decision::Allow => Outcome::Allow,
            Decision::Deny if r.diagnostics().reason().next().is_some() => Outcome::ExplicitDeny,
            Decision::Deny => Outcome::ImplicitDeny,
        })
    }

    /// Decides inputs built by [`CedarPeer::prepare`]: the two authorizer calls and the
    /// combiner (module docs), nothing else.
    pub fn decide_prepared(&self, p: Option<&Prepared>) -> Result<Outcome, String> {
        let Some(p) = p else {
            return Ok(Outcome::ImplicitDeny);
        };
        let (denied, allowed) = self.run_identity(&p.facts, &p.identity, &p.entities)?;
        if denied {
            return Ok(Outcome::ExplicitDeny);
        }
        match (p.facts.key, &p.key) {
            (Some(k), Some(req)) => self.run_key(k, req, &p.entities),
            _ if allowed => Ok(Outcome::Allow),
            _ => Ok(Outcome::ImplicitDeny),
        }
    }

    /// Decides a keyward request end to end: builds Cedar's entities and requests from it,
    /// runs the identity slice, then (for a key) the key slice.
    pub fn decide(&self, world: &World, req: &Request) -> Result<Outcome, String> {
        let b = self.build(world, req)?;
        if b.facts.guard {
            return Ok(Outcome::ImplicitDeny);
        }
        let identity = self.request(&b, None)?;
        let (denied, allowed) = self.run_identity(&b.facts, &identity, &b.entities)?;
        if denied {
            return Ok(Outcome::ExplicitDeny);
        }
        match b.facts.key {
            Some(k) => {
                let req = self.request(&b, Some(allowed))?;
                self.run_key(k, &req, &b.entities)
            }
            None if allowed => Ok(Outcome::Allow),
            None => Ok(Outcome::ImplicitDeny),
        }
    }
}
