//! Access analysis (docs/analysis.md): who can use a key, what a principal can use, and the
//! exposures worth a reviewer's attention, worked out from the policies instead of one request
//! at a time.
//!
//! For one caller, key and action, [`Analyzer::access`] follows the algorithm of
//! docs/semantics.md §7.10 symbolically. Facts the world fixes — the caller's account, tags and
//! organization, the key's tags and metadata (see [`is_world_key`]) — are decided on the spot, as
//! `check` decides them. Conditions on what a call carries (`kms:ViaService`, the encryption
//! context, source IP, MFA, …) stay open: the answer is a set of [`Path`]s, each an allow that
//! holds when all its conditions hold, and a set of [`Deny`]s that take it away when theirs hold.
//! Tests hold this equal to the reference evaluator on random worlds and requests.
//!
//! Guardrails (docs/guardrails.md) enter as further `Deny`s and as further factors of every
//! path: service control policy levels for all of them, session policies wherever a
//! permissions boundary is needed. A VPC endpoint policy becomes a condition on the request's
//! `aws:SourceVpce` ([`Cond::Endpoint`]).

pub mod findings;
pub mod report;

use crate::actions::{self, ActionId, ActionSet, ResourceKind};
use crate::arn::{Caller, CallerKind, PrincipalEntry, PrincipalMatch};
use crate::context::{Component, ComponentKind, Context, Layer};
use crate::decision::{Reason, Source};
use crate::pattern::arn_matches;
use crate::pattern::Glob;
use crate::policy::template::Piece;
use crate::policy::{CondValue, Condition, Effect, Policy, ResourcePattern, Statement};
use crate::reference::{principal_level, principal_levels, Eval};
use crate::request::Request;
use crate::world::guardrails::is_service_linked;
use crate::world::{Grant, Key, Principal, World};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Condition keys whose value the world fixes for a caller and a key (docs/semantics.md §4): the
/// caller's identity, tags and organization, the key's account, tags, metadata and aliases.
/// Every other key describes the call itself and stays an open condition in an answer.
pub fn is_world_key(key_lower: &str) -> bool {
    const EXACT: &[&str] = &[
        "kms:calleraccount",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principaltype",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalisawsservice",
        "aws:principalservicename",
        "aws:principalservicenameslist",
        "aws:username",
        "aws:userid",
        "aws:resourceaccount",
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
    ];
    EXACT.contains(&key_lower)
        || key_lower.starts_with("aws:principaltag/")
        || key_lower.starts_with("aws:resourcetag/")
}

/// Whether a condition can be decided from the world alone: its key is a world key and no policy
/// variable in its values names a key of the call.
fn is_static(c: &Condition) -> bool {
    is_world_key(&c.key_lower)
        && c.values.iter().all(|v| match v {
            CondValue::Text(t) => t.pieces.iter().all(|p| match p {
                Piece::Var { key, .. } => is_world_key(&key.to_ascii_lowercase()),
                _ => true,
            }),
            _ => true,
        })
}

/// An open condition of an answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// A policy condition on a key the call carries.
    Policy {
        condition: Condition,
        layer: Layer,
        effect: Effect,
    },
    /// A grant's constraints (encryption context, source ARN, or for CreateGrant the child
    /// grant's operations and constraints).
    Grant { key: String, grant_id: String },
    /// The request comes through this VPC endpoint (its `aws:SourceVpce`).
    Endpoint { id: String },
    /// Not all of these hold.
    Not(Vec<Cond>),
}

/// One way an allow holds: the statements or grants involved, and the open conditions that must
/// all hold (none: unconditional).
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub via: Vec<Reason>,
    pub conditions: Vec<Cond>,
}

/// A Deny statement that applies when its open conditions hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Deny {
    pub via: Reason,
    pub conditions: Vec<Cond>,
}

/// What a caller may do with one action on one key: allowed when some path's conditions all hold
/// and no deny's conditions all hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    pub paths: Vec<Path>,
    pub unless: Vec<Deny>,
}

impl Access {
    /// Allowed with no condition at all: a request carrying nothing is allowed.
    pub fn is_unconditional(&self) -> bool {
        self.unless.is_empty() && self.paths.iter().any(|p| p.conditions.is_empty())
    }
}

/// The actions analysis covers: those authorized against a single key. Alias operations need an
/// alias as well and RetireGrant a grant id; they are left out.
pub fn analysed_actions() -> ActionSet {
    let mut set = ActionSet::EMPTY;
    for (i, info) in actions::ACTIONS.iter().enumerate() {
        if info.resource == ResourceKind::Key && i as ActionId != actions::RETIRE_GRANT {
            set.insert(i as ActionId);
        }
    }
    set
}

/// What analysis precomputes for a world: each statement's action set and each principal parsed
/// as a caller. It refers to the world's statements by address, so it is valid only for the
/// world it was built from, for as long as that world lives unchanged.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Statement address → the actions it names.
    action_sets: HashMap<usize, ActionSet>,
    /// The world's principals as callers (`None` when the ARN does not parse as one).
    callers: Vec<Option<Caller>>,
    principal_index: HashMap<String, usize>,
    /// Per principal: the union of the actions its identity and group policies allow.
    iam_actions: Vec<ActionSet>,
    /// Per profile: its principals, in world order.
    members: Vec<Vec<usize>>,
    /// Per key: the actions for which its policy can tell principals of one profile apart (those
    /// of NotPrincipal statements and of statements with a condition or variable on the caller's
    /// ARN, name or id).
    key_sensitive: Vec<ActionSet>,
    /// The actions for which a guardrail can tell principals of one profile apart.
    guardrail_sensitive: ActionSet,
    /// (account, role name) → the principals that are roles of that name, whatever their path.
    roles: HashMap<(String, String), Vec<usize>>,
}

/// Condition keys that tell apart principals with the same account, kind, policies and tags.
const IDENTITY_KEYS: &[&str] = &["aws:principalarn", "aws:username", "aws:userid"];

fn mentions_identity(debug: &str) -> bool {
    let lower = debug.to_ascii_lowercase();
    IDENTITY_KEYS.iter().any(|k| lower.contains(k))
}

/// Groups principals that no answer can tell apart unless a policy names one of them: same
/// account, kind, identity policies, groups, permissions boundary and tags, and no policy of
/// theirs reading the caller's ARN, name or id. Returns each principal's profile and each
/// profile's members.
fn profiles(world: &World, callers: &[Option<Caller>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut by_signature: HashMap<String, usize> = HashMap::new();
    let mut profile = Vec::with_capacity(world.principals.len());
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, p) in world.principals.iter().enumerate() {
        let kind = callers[i]
            .as_ref()
            .map(|c| format!("{:?}", std::mem::discriminant(&c.kind)))
            .unwrap_or_default();
        let mut group_policies = Vec::new();
        for g in &p.groups {
            group_policies.push(format!("{g}{:?}", world.group(g).map(|g| &g.policies)));
        }
        let linked = callers[i]
            .as_ref()
            .is_some_and(|c| is_service_linked(c, Some(&p.arn)));
        let signature = format!(
            "{}|{kind}|{linked}|{:?}|{:?}|{:?}|{:?}",
            p.account, p.policies, group_policies, p.permissions_boundary, p.tags
        );
        let id = if mentions_identity(&signature) || callers[i].is_none() {
            None
        } else {
            by_signature.get(&signature).copied()
        };
        let id = id.unwrap_or_else(|| {
            members.push(Vec::new());
            by_signature.insert(signature, members.len() - 1);
            members.len() - 1
        });
        members[id].push(i);
        profile.push(id);
    }
    (profile, members)
}

impl Index {
    /// Indexes `world`.
    pub fn build(world: &World) -> Index {
        let mut action_sets = HashMap::new();
        let mut add = |p: &Policy| {
            for st in &p.statements {
                action_sets.insert(key_of(st), statement_actions(st));
            }
        };
        for k in &world.keys {
            if let Some(p) = &k.policy {
                add(p);
            }
        }
        for p in &world.principals {
            p.policies.iter().for_each(&mut add);
            if let Some(b) = &p.permissions_boundary {
                add(b);
            }
        }
        for g in world.groups.values() {
            g.policies.iter().for_each(&mut add);
        }
        for p in &world.org_policies {
            add(&p.policy);
        }
        for e in &world.vpc_endpoints {
            e.policy.iter().for_each(&mut add);
        }
        for s in &world.sessions {
            s.policies.iter().for_each(&mut add);
        }
        let callers: Vec<Option<Caller>> = world
            .principals
            .iter()
            .map(|p| Caller::parse(&p.arn).ok())
            .collect();
        let principal_index = world
            .principals
            .iter()
            .enumerate()
            .map(|(i, p)| (p.arn.clone(), i))
            .collect();
        let iam_actions = world
            .principals
            .iter()
            .map(|p| {
                let mut set = ActionSet::EMPTY;
                for (_, pol) in identity_policies(world, p) {
                    for st in pol
                        .statements
                        .iter()
                        .filter(|st| st.effect == Effect::Allow)
                    {
                        set.0 |= action_sets
                            .get(&key_of(st))
                            .map_or(ActionSet::ALL.0, |s| s.0);
                    }
                }
                set
            })
            .collect();
        let (_, members) = profiles(world, &callers);
        // Guardrail statements that can tell apart principals of one profile: those reading the
        // caller's ARN, name or id, and those of RCPs and endpoint policies naming principals
        // other than `*`.
        let mut guardrail_sensitive = ActionSet::EMPTY;
        let names_some = |st: &Statement| {
            st.principal
                .as_ref()
                .is_some_and(|p| p.negated || p.entries.iter().any(|e| *e != PrincipalEntry::Any))
        };
        let guardrail_statements = world
            .org_policies
            .iter()
            .map(|p| &p.policy)
            .chain(world.vpc_endpoints.iter().filter_map(|e| e.policy.as_ref()))
            .flat_map(|p| &p.statements);
        for st in guardrail_statements {
            if names_some(st) || mentions_identity(&format!("{st:?}")) {
                guardrail_sensitive.0 |= action_sets
                    .get(&key_of(st))
                    .map_or(ActionSet::ALL.0, |s| s.0);
            }
        }
        let key_sensitive = world
            .keys
            .iter()
            .map(|k| {
                let mut set = ActionSet::EMPTY;
                for st in k.policy.iter().flat_map(|p| &p.statements) {
                    if st.principal.as_ref().is_some_and(|p| p.negated)
                        || mentions_identity(&format!("{st:?}"))
                    {
                        set.0 |= action_sets
                            .get(&key_of(st))
                            .map_or(ActionSet::ALL.0, |s| s.0);
                    }
                }
                set
            })
            .collect();
        let mut roles: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, c) in callers.iter().enumerate() {
            let Some(c) = c else { continue };
            if let crate::arn::CallerKind::Role { name: role }
            | crate::arn::CallerKind::AssumedRole { role, .. } = &c.kind
            {
                roles
                    .entry((c.account.clone(), role.clone()))
                    .or_default()
                    .push(i);
            }
        }
        Index {
            guardrail_sensitive,
            roles,
            action_sets,
            callers,
            principal_index,
            iam_actions,
            members,
            key_sensitive,
        }
    }
}

/// The world with its [`Index`].
pub struct Analyzer<'w> {
    pub world: &'w World,
    index: std::borrow::Cow<'w, Index>,
}

fn statement_actions(st: &Statement) -> ActionSet {
    let Some(a) = &st.action else {
        return ActionSet::EMPTY;
    };
    if st.resource.is_none() {
        return ActionSet::EMPTY;
    }
    let globs: Vec<Glob> = a.patterns.iter().map(|p| Glob::new(p)).collect();
    let mut set = ActionSet::EMPTY;
    for i in 0..actions::ACTION_COUNT {
        let name = actions::full_name(i as ActionId);
        if globs.iter().any(|g| g.matches(&name, true)) != a.negated {
            set.insert(i as ActionId);
        }
    }
    set
}

fn key_of(st: &Statement) -> usize {
    st as *const Statement as usize
}

/// A principal's identity policies, then its groups' (docs/semantics.md §7.4).
fn identity_policies<'w>(world: &'w World, p: &'w Principal) -> Vec<(Source, &'w Policy)> {
    let mut out: Vec<(Source, &Policy)> = p
        .policies
        .iter()
        .enumerate()
        .map(|(i, pol)| {
            let source = Source::IdentityPolicy {
                principal: p.arn.clone(),
                policy: i,
            };
            (source, pol)
        })
        .collect();
    for g in &p.groups {
        if let Some(group) = world.group(g) {
            for (i, pol) in group.policies.iter().enumerate() {
                let source = Source::GroupPolicy {
                    group: g.clone(),
                    policy: i,
                };
                out.push((source, pol));
            }
        }
    }
    out
}

fn reason(source: Source, i: usize, st: &Statement) -> Reason {
    Reason {
        source,
        statement: Some(i),
        sid: st.sid.clone(),
    }
}

fn grant_reason(key: &Key, g: &Grant) -> Reason {
    Reason {
        source: Source::Grant {
            key: key.arn.clone(),
            grant_id: g.grant_id.clone(),
        },
        statement: None,
        sid: None,
    }
}

/// Whether a grant's constraints can fail for `info`'s action (docs/semantics.md §7.5.2): a
/// source ARN always, encryption-context constraints for operations that take a context, and
/// CreateGrant's limits on the child grant.
fn grant_constrained(g: &Grant, info: &actions::ActionInfo) -> bool {
    g.constraints.source_arn.is_some()
        || info.name == "CreateGrant"
        || (info.takes_encryption_context
            && (g.constraints.equals.is_some() || g.constraints.subset.is_some()))
}

/// Every pairing of an allow from `a` with one from `b`: both must hold.
fn both(a: &[Path], b: &[Path]) -> Vec<Path> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut via = x.via.clone();
            via.extend(y.via.iter().cloned());
            let mut conditions = x.conditions.clone();
            conditions.extend(y.conditions.iter().cloned());
            out.push(Path { via, conditions });
        }
    }
    out
}

/// A bare request for `action` on `key` by `caller`, carrying nothing.
fn bare_request(caller: &Caller, key: &Key, action: ActionId) -> Request {
    Request::bare(caller.clone(), action, key.arn.clone())
}

fn key_component(key: &Key, action: ActionId) -> Component<'_> {
    Component {
        action,
        kind: ComponentKind::Key,
        resource: key.arn.clone(),
        key: Some(key),
        encryption_context: &[],
        request_alias: None,
        same_key: actions::info(action)
            .name
            .starts_with("ReEncrypt")
            .then_some(false),
    }
}

impl<'w> Analyzer<'w> {
    /// Indexes `world` for analysis.
    pub fn new(world: &'w World) -> Analyzer<'w> {
        Analyzer {
            world,
            index: std::borrow::Cow::Owned(Index::build(world)),
        }
    }

    /// Analysis of `world` with an index built before by [`Index::build`] on the same world.
    pub fn with_index(world: &'w World, index: &'w Index) -> Analyzer<'w> {
        Analyzer {
            world,
            index: std::borrow::Cow::Borrowed(index),
        }
    }

    /// The world's principals as callers, in world order (`None` when one does not parse).
    pub fn callers(&self) -> &[Option<Caller>] {
        &self.index.callers
    }

    /// The actions a statement names (all statements of the world are indexed; any other is
    /// computed on the spot).
    pub fn actions_of(&self, st: &Statement) -> ActionSet {
        match self.index.action_sets.get(&key_of(st)) {
            Some(s) => *s,
            None => statement_actions(st),
        }
    }

    /// The index of the world principal with this ARN.
    pub fn principal_index(&self, arn: &str) -> Option<usize> {
        self.index.principal_index.get(arn).copied()
    }

    /// Which of `wanted` actions `caller` may use on `key`, with some request and with none:
    /// what [`Analyzer::access`] answers, action by action, reduced to two sets.
    pub fn summary(&self, caller: &Caller, key: &Key, wanted: ActionSet) -> Summary {
        let cand = self.candidate_actions(caller, key, wanted);
        if cand.0 == 0 {
            return Summary::default();
        }
        Scope::new(self, caller, key).summary(cand)
    }

    /// What `caller` may do with `action` on `key`; `None` when no request can be allowed.
    pub fn access(&self, caller: &Caller, key: &Key, action: ActionId) -> Option<Access> {
        Scope::new(self, caller, key).access(action)
    }

    /// The actions `caller` might be allowed on `key`, cheaply over-approximated: those a key
    /// policy statement naming it (directly or through its account) or a grant to it could give.
    pub fn candidate_actions(&self, caller: &Caller, key: &Key, wanted: ActionSet) -> ActionSet {
        let Some(policy) = &key.policy else {
            return ActionSet::EMPTY;
        };
        // What the caller's identity policies can allow at most: delegation needs it.
        let iam = if caller.is_root() {
            ActionSet::ALL
        } else {
            self.world
                .principal_for(caller)
                .and_then(|p| self.principal_index(&p.arn))
                .map_or(ActionSet::EMPTY, |i| self.index.iam_actions[i])
        };
        let mut set = ActionSet::EMPTY;
        for st in &policy.statements {
            if st.effect != Effect::Allow {
                continue;
            }
            let acts = self.actions_of(st);
            if acts.0 & wanted.0 & !set.0 == 0 || other_account_only(st, caller) {
                continue;
            }
            match principal_level(st.principal.as_ref(), caller) {
                PrincipalMatch::No => {}
                PrincipalMatch::AccountDelegation => set.0 |= acts.0 & iam.0,
                _ => set.0 |= acts.0,
            }
        }
        for g in self.world.grants_for_key(&key.arn) {
            let m = g.grantee.matches(caller);
            if m == PrincipalMatch::No {
                continue;
            }
            for op in &g.operations {
                if let Some(a) = actions::by_name(op) {
                    if m != PrincipalMatch::AccountDelegation || iam.contains(a) {
                        set.insert(a);
                    }
                }
            }
        }
        ActionSet(set.0 & wanted.0)
    }
}

/// Which actions a caller may use on a key: with some request (`any`), and with a request
/// carrying nothing (`unconditional`, a subset of `any`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Summary {
    pub any: ActionSet,
    pub unconditional: ActionSet,
}

fn action_mask(keep: impl Fn(ActionId, &actions::ActionInfo) -> bool) -> ActionSet {
    let mut set = ActionSet::EMPTY;
    for (i, info) in actions::ACTIONS.iter().enumerate() {
        if keep(i as ActionId, info) {
            set.insert(i as ActionId);
        }
    }
    set
}

static ANALYSED: std::sync::LazyLock<ActionSet> = std::sync::LazyLock::new(analysed_actions);
static CALLER_ACCOUNT: std::sync::LazyLock<ActionSet> =
    std::sync::LazyLock::new(|| action_mask(|a, _| actions::supplies_caller_account(a)));
static CROSS_ACCOUNT: std::sync::LazyLock<ActionSet> =
    std::sync::LazyLock::new(|| action_mask(|_, i| i.cross_account));
static GRANT_OPS: std::sync::LazyLock<ActionSet> =
    std::sync::LazyLock::new(|| action_mask(|_, i| i.grant_op));

/// Whether `st` has a `StringEquals` condition on the caller's account (`kms:CallerAccount`,
/// `aws:PrincipalAccount`) listing only other accounts, so that it applies to no request of
/// `caller`: the key is the caller's own account or absent (docs/semantics.md §4).
fn other_account_only(st: &Statement, caller: &Caller) -> bool {
    st.conditions.iter().any(|c| {
        matches!(
            c.key_lower.as_str(),
            "kms:calleraccount" | "aws:principalaccount"
        ) && c.operator.base == crate::policy::BaseOp::StringEquals
            && c.operator.set.is_none()
            && !c.operator.if_exists
            && !c.values.is_empty()
            && c.values.iter().all(|v| match v {
                CondValue::Text(t) => {
                    matches!(t.pieces.as_slice(), [Piece::Text(x)] if *x != caller.account)
                }
                _ => false,
            })
    })
}

/// What the guardrails add to the answer for one action: denies, the service control policy
/// levels whose allows all carry conditions (one of each is needed), and the session policies'
/// allows when the caller's session has them.
#[derive(Default)]
struct Guard {
    denies: Vec<Deny>,
    levels: Vec<Vec<Path>>,
    session: Option<Vec<Path>>,
}

/// One caller and one key, with the contexts built for deciding world conditions.
struct Scope<'a, 'w> {
    an: &'a Analyzer<'w>,
    caller: &'a Caller,
    key: &'w Key,
    principal: Option<&'w Principal>,
    /// The context of a bare request, for actions that do and do not supply `kms:CallerAccount`.
    contexts: [Option<(Context, Component<'w>)>; 2],
}

impl<'a, 'w> Scope<'a, 'w> {
    fn new(an: &'a Analyzer<'w>, caller: &'a Caller, key: &'w Key) -> Self {
        Scope {
            an,
            caller,
            key,
            principal: an.world.principal_for(caller),
            contexts: [None, None],
        }
    }

    fn context(&mut self, action: ActionId) -> &(Context, Component<'w>) {
        let slot = actions::supplies_caller_account(action) as usize;
        let (world, caller, key) = (self.an.world, self.caller, self.key);
        self.contexts[slot].get_or_insert_with(|| {
            let req = bare_request(caller, key, action);
            let comp = key_component(key, action);
            (Context::build(world, &req, &comp), comp)
        })
    }

    /// Whether `st` can apply to `action` on the key, and if so the conditions left open.
    fn split(&mut self, st: &Statement, layer: Layer, action: ActionId) -> Option<Vec<Cond>> {
        if !self.an.actions_of(st).contains(action) {
            return None;
        }
        self.applies(st, layer, action)
            .then(|| self.open(st, layer))
    }

    /// Whether `st`'s resource and world conditions hold for the key, judged in the context of
    /// `action` (only whether it supplies `kms:CallerAccount` matters); the action itself is not
    /// checked against the statement.
    fn applies(&mut self, st: &Statement, layer: Layer, action: ActionId) -> bool {
        let Some(resources) = st.resource.as_ref() else {
            return false;
        };
        let needs_ctx = resources
            .patterns
            .iter()
            .any(|p| matches!(p, ResourcePattern::Arn(_)))
            || st.conditions.iter().any(is_static);
        if !needs_ctx {
            let hit = resources
                .patterns
                .iter()
                .any(|p| matches!(p, ResourcePattern::Any));
            return hit != resources.negated;
        }
        let world = self.an.world;
        let caller = self.caller;
        let key_arn = &self.key.arn;
        let (ctx, comp) = self.context(action);
        let lookup = |k: &str| ctx.single(&k.to_ascii_lowercase(), layer);
        let hit = resources.patterns.iter().any(|p| match p {
            ResourcePattern::Any => true,
            ResourcePattern::Arn(t) => t
                .to_glob(lookup)
                .is_some_and(|g| arn_matches(&g, key_arn, false)),
        });
        if hit == resources.negated {
            return false;
        }
        let mut notes = Vec::new();
        let mut eval = Eval {
            world,
            caller,
            comp,
            ctx,
            notes: &mut notes,
            grant_id: None,
            policy_override: None,
            session: None,
        };
        st.conditions
            .iter()
            .filter(|c| is_static(c))
            .all(|c| eval.conditions_hold(std::slice::from_ref(c), layer, st.effect))
    }

    /// Of `acts`, the actions `st` applies to: (some way, with no open condition).
    fn applies_to(&mut self, st: &Statement, layer: Layer, acts: ActionSet) -> (u64, u64) {
        let acts = acts.0 & self.an.actions_of(st).0;
        if acts == 0 {
            return (0, 0);
        }
        let bare = st.conditions.iter().all(is_static);
        let mut any = 0;
        for part in [acts & CALLER_ACCOUNT.0, acts & !CALLER_ACCOUNT.0] {
            if part != 0 && self.applies(st, layer, part.trailing_zeros() as ActionId) {
                any |= part;
            }
        }
        (any, if bare { any } else { 0 })
    }

    /// For `wanted` actions at once, which ones [`Scope::access`] answers at all and which of
    /// those it answers unconditionally, without building paths: the access report's question.
    fn summary(&mut self, wanted: ActionSet) -> Summary {
        let none = Summary::default();
        let world = self.an.world;
        let key: &'w Key = self.key;
        let Some(policy) = key.policy.as_ref() else {
            return none;
        };
        let caller = self.caller;
        let mut wanted = wanted.0 & ANALYSED.0;
        if !caller.is_service() && caller.account != key.account {
            wanted &= CROSS_ACCOUNT.0;
        }
        if wanted == 0 {
            return none;
        }
        let all = ActionSet(wanted);
        // Explicit denies.
        let (mut deny_any, mut deny_bare) = (0, 0);
        for st in &policy.statements {
            if st.effect == Effect::Deny
                && principal_level(st.principal.as_ref(), caller) != PrincipalMatch::No
            {
                let (a, b) = self.applies_to(st, Layer::KeyPolicy, all);
                deny_any |= a;
                deny_bare |= b;
            }
        }
        let principal = self.principal;
        let boundary = principal.and_then(|p| p.permissions_boundary.as_ref());
        let identity: Vec<&Policy> = principal.map_or_else(Vec::new, |p| {
            identity_policies(world, p)
                .into_iter()
                .map(|(_, pol)| pol)
                .collect()
        });
        for pol in identity.iter().copied().chain(boundary) {
            for st in pol.statements.iter().filter(|st| st.effect == Effect::Deny) {
                let (a, b) = self.applies_to(st, Layer::Identity, all);
                deny_any |= a;
                deny_bare |= b;
            }
        }
        // Guardrails, action by action (only worlds that have them).
        let (mut gate_bare, mut s_any, mut s_bare) = (u64::MAX, u64::MAX, u64::MAX);
        if world.has_guardrails() {
            for a in ActionSet(wanted & !deny_bare).iter() {
                let bit = 1u64 << a;
                let Some(g) = self.guard(a) else {
                    deny_bare |= bit;
                    continue;
                };
                if g.denies.iter().any(|d| d.conditions.is_empty()) {
                    deny_bare |= bit;
                } else if !g.denies.is_empty() {
                    deny_any |= bit;
                }
                if !g.levels.is_empty() {
                    gate_bare &= !bit;
                }
                if let Some(s) = g.session {
                    if s.is_empty() {
                        s_any &= !bit;
                    }
                    if !s.iter().any(|p| p.conditions.is_empty()) {
                        s_bare &= !bit;
                    }
                }
            }
        }
        wanted &= !deny_bare;
        if wanted == 0 {
            return none;
        }
        let all = ActionSet(wanted);
        let union = |scope: &mut Self, pols: &[&Policy], layer: Layer| {
            let (mut any, mut bare) = (0, 0);
            for pol in pols {
                for st in pol
                    .statements
                    .iter()
                    .filter(|st| st.effect == Effect::Allow)
                {
                    let (a, b) = scope.applies_to(st, layer, all);
                    any |= a;
                    bare |= b;
                }
            }
            (any, bare)
        };
        let (b_any, b_bare) = match boundary {
            Some(b) if principal.is_some() => union(self, &[b], Layer::Identity),
            _ => (u64::MAX, u64::MAX),
        };
        let (b_any, b_bare) = (b_any & s_any, b_bare & s_bare);
        let (i_any, i_bare) = if caller.is_root() {
            (u64::MAX, u64::MAX)
        } else if principal.is_some() {
            let (a, b) = union(self, &identity, Layer::Identity);
            (a & b_any, b & b_bare)
        } else {
            (0, 0)
        };
        let (mut d_any, mut d_bare, mut g_any, mut g_bare) = (0, 0, 0, 0);
        let (mut del_any, mut del_bare) = (0, 0);
        for st in policy
            .statements
            .iter()
            .filter(|st| st.effect == Effect::Allow)
        {
            let levels = principal_levels(st.principal.as_ref(), caller);
            if levels.iter().all(|l| *l == PrincipalMatch::No) {
                continue;
            }
            let (a, b) = self.applies_to(st, Layer::KeyPolicy, all);
            if a == 0 {
                continue;
            }
            let has = |m: PrincipalMatch| levels.contains(&m);
            if has(PrincipalMatch::Direct) {
                d_any |= a;
                d_bare |= b;
                continue;
            }
            if has(PrincipalMatch::DirectRole) {
                d_any |= a & b_any;
                d_bare |= b & b_bare;
            }
            if has(PrincipalMatch::AccountDelegation) {
                del_any |= a;
                del_bare |= b;
            }
        }
        if wanted & GRANT_OPS.0 != 0 {
            for g in world.grants_for_key(&key.arn) {
                let m = g.grantee.matches(caller);
                if m == PrincipalMatch::No {
                    continue;
                }
                for op in &g.operations {
                    let Some(a) = actions::by_name(op) else {
                        continue;
                    };
                    let info = actions::info(a);
                    if info.name != op || wanted & GRANT_OPS.0 & (1 << a) == 0 {
                        continue;
                    }
                    let bit = 1u64 << a;
                    let bare = if grant_constrained(g, info) { 0 } else { bit };
                    if m == PrincipalMatch::AccountDelegation {
                        g_any |= bit & i_any;
                        g_bare |= bare & i_bare;
                    } else {
                        g_any |= bit;
                        g_bare |= bare;
                    }
                }
            }
        }
        let cross = !caller.is_service() && caller.account != key.account;
        let (p_any, p_bare) = if cross {
            ((d_any | del_any) & i_any, (d_bare | del_bare) & i_bare)
        } else {
            (d_any | (del_any & i_any), d_bare | (del_bare & i_bare))
        };
        let any = (p_any | g_any) & wanted;
        Summary {
            any: ActionSet(any),
            unconditional: ActionSet((p_bare | g_bare) & any & gate_bare & !deny_any),
        }
    }

    fn open(&self, st: &Statement, layer: Layer) -> Vec<Cond> {
        st.conditions
            .iter()
            .filter(|c| !is_static(c))
            .map(|c| Cond::Policy {
                condition: c.clone(),
                layer,
                effect: st.effect,
            })
            .collect()
    }

    /// The statements of `policy` with `effect` that can apply, as paths.
    fn statements(
        &mut self,
        policy: &Policy,
        source: &Source,
        effect: Effect,
        layer: Layer,
        action: ActionId,
    ) -> Vec<Path> {
        let mut out = Vec::new();
        for (i, st) in policy.statements.iter().enumerate() {
            if st.effect != effect {
                continue;
            }
            if let Some(conditions) = self.split(st, layer, action) {
                out.push(Path {
                    via: vec![reason(source.clone(), i, st)],
                    conditions,
                });
            }
        }
        out
    }

    /// The guardrails around `action` (docs/guardrails.md): `None` when a level of the caller's
    /// service control policies allows it under no request.
    fn guard(&mut self, action: ActionId) -> Option<Guard> {
        let mut g = Guard::default();
        let world = self.an.world;
        if !world.has_guardrails() {
            return Some(g);
        }
        let caller = self.caller;
        let key = self.key;
        let linked = is_service_linked(caller, self.principal.map(|p| p.arn.as_str()));
        // Session policies: their denies, and one of their allows is needed wherever a
        // permissions boundary's is.
        if matches!(
            caller.kind,
            CallerKind::AssumedRole { .. } | CallerKind::FederatedUser { .. }
        ) {
            match world.session(&caller.arn) {
                Some(session) => {
                    let mut allows = Vec::new();
                    for (n, p) in session.policies.iter().enumerate() {
                        let source = Source::SessionPolicy {
                            session: caller.arn.clone(),
                            policy: n,
                        };
                        g.denies
                            .extend(self.denies(p, &source, Layer::Identity, action, false));
                        allows.extend(self.statements(
                            p,
                            &source,
                            Effect::Allow,
                            Layer::Identity,
                            action,
                        ));
                    }
                    g.session = Some(allows);
                }
                None if matches!(caller.kind, CallerKind::FederatedUser { .. }) => {
                    g.session = Some(Vec::new());
                }
                None => {}
            }
        }
        // Service control policies: every level of the caller's path needs an allow.
        let scp_chain = world
            .chain(&caller.account)
            .filter(|c| !caller.is_service() && c.scps_enabled && !c.management && !linked);
        for level in scp_chain.iter().flat_map(|c| &c.scp_levels) {
            let mut allows = Vec::new();
            for &i in &level.policies {
                let scp = &world.org_policies[i];
                let source = Source::Scp {
                    policy_id: scp.id.clone(),
                };
                g.denies
                    .extend(self.denies(&scp.policy, &source, Layer::Identity, action, false));
                allows.extend(self.statements(
                    &scp.policy,
                    &source,
                    Effect::Allow,
                    Layer::Identity,
                    action,
                ));
            }
            if allows.is_empty() {
                return None;
            }
            if !allows.iter().any(|p| p.conditions.is_empty()) {
                g.levels.push(allows);
            }
        }
        // Resource control policies of the key's account.
        let rcp_chain = world
            .chain(&key.account)
            .filter(|c| key.metadata.key_manager != "AWS" && !linked && !c.management);
        for &i in rcp_chain.iter().flat_map(|c| &c.rcps) {
            let rcp = &world.org_policies[i];
            let source = Source::Rcp {
                policy_id: rcp.id.clone(),
            };
            g.denies
                .extend(self.denies(&rcp.policy, &source, Layer::Identity, action, true));
        }
        // VPC endpoint policies: for a request through an endpoint, its denies, and a deny when
        // none of its allows holds.
        for e in &world.vpc_endpoints {
            let Some(policy) = &e.policy else { continue };
            let source = Source::VpcEndpointPolicy {
                endpoint: e.id.clone(),
            };
            let through = Cond::Endpoint { id: e.id.clone() };
            for mut d in self.denies(policy, &source, Layer::Identity, action, true) {
                d.conditions.insert(0, through.clone());
                g.denies.push(d);
            }
            let mut allows = Vec::new();
            for st in &policy.statements {
                if st.effect == Effect::Allow
                    && principal_level(st.principal.as_ref(), caller) != PrincipalMatch::No
                {
                    allows.extend(self.split(st, Layer::Identity, action));
                }
            }
            if !allows.iter().any(|c| c.is_empty()) {
                let mut conditions = vec![through];
                conditions.extend(allows.into_iter().map(Cond::Not));
                g.denies.push(Deny {
                    via: Reason {
                        source,
                        statement: None,
                        sid: None,
                    },
                    conditions,
                });
            }
        }
        Some(g)
    }

    /// The Deny statements of `policy` that can apply to `action`; with `principals`, only those
    /// whose principal names the caller.
    fn denies(
        &mut self,
        policy: &Policy,
        source: &Source,
        layer: Layer,
        action: ActionId,
        principals: bool,
    ) -> Vec<Deny> {
        let mut out = Vec::new();
        for (i, st) in policy.statements.iter().enumerate() {
            if st.effect != Effect::Deny
                || (principals
                    && principal_level(st.principal.as_ref(), self.caller) == PrincipalMatch::No)
            {
                continue;
            }
            if let Some(conditions) = self.split(st, layer, action) {
                out.push(Deny {
                    via: reason(source.clone(), i, st),
                    conditions,
                });
            }
        }
        out
    }

    fn access(&mut self, action: ActionId) -> Option<Access> {
        let info = actions::info(action);
        if info.resource != ResourceKind::Key || action == actions::RETIRE_GRANT {
            return None;
        }
        let world = self.an.world;
        let key: &'w Key = self.key;
        let policy = key.policy.as_ref()?;
        let caller = self.caller;
        let cross = !caller.is_service() && caller.account != key.account;
        if cross && !info.cross_account {
            return None;
        }
        let key_source = Source::KeyPolicy {
            key: key.arn.clone(),
        };

        // Explicit denies (§7.3): an unconditional one settles it.
        let mut unless = Vec::new();
        for (i, st) in policy.statements.iter().enumerate() {
            if st.effect == Effect::Deny
                && principal_level(st.principal.as_ref(), caller) != PrincipalMatch::No
            {
                if let Some(conditions) = self.split(st, Layer::KeyPolicy, action) {
                    unless.push(Deny {
                        via: reason(key_source.clone(), i, st),
                        conditions,
                    });
                }
            }
        }
        let principal = self.principal;
        let boundary = principal.and_then(|p| p.permissions_boundary.as_ref());
        if let Some(p) = principal {
            let mut layers = identity_policies(world, p);
            if let Some(b) = boundary {
                let source = Source::PermissionsBoundary {
                    principal: p.arn.clone(),
                };
                layers.push((source, b));
            }
            for (source, pol) in layers {
                for path in self.statements(pol, &source, Effect::Deny, Layer::Identity, action) {
                    let via = path.via.into_iter().next().expect("one statement");
                    unless.push(Deny {
                        via,
                        conditions: path.conditions,
                    });
                }
            }
        }
        let guard = self.guard(action)?;
        unless.extend(guard.denies);
        if unless.iter().any(|d| d.conditions.is_empty()) {
            return None;
        }

        // The permissions boundary's allows, and the identity side (§7.4).
        let boundary_paths = match (principal, boundary) {
            (Some(p), Some(b)) => {
                let source = Source::PermissionsBoundary {
                    principal: p.arn.clone(),
                };
                self.statements(b, &source, Effect::Allow, Layer::Identity, action)
            }
            _ => vec![Path {
                via: Vec::new(),
                conditions: Vec::new(),
            }],
        };
        // A session's policies bound it as a permissions boundary does (docs/guardrails.md).
        let boundary_paths = match &guard.session {
            Some(s) => both(&boundary_paths, s),
            None => boundary_paths,
        };
        let iam: Vec<Path> = if caller.is_root() {
            vec![Path {
                via: vec![Reason {
                    source: Source::RootUser {
                        account: caller.account.clone(),
                    },
                    statement: None,
                    sid: None,
                }],
                conditions: Vec::new(),
            }]
        } else if let Some(p) = principal {
            let mut allows = Vec::new();
            for (source, pol) in identity_policies(world, p) {
                allows.extend(self.statements(
                    pol,
                    &source,
                    Effect::Allow,
                    Layer::Identity,
                    action,
                ));
            }
            both(&allows, &boundary_paths)
        } else {
            Vec::new()
        };

        // The key policy's allows: direct, or through the caller's account.
        let mut direct = Vec::new();
        let mut delegated = Vec::new();
        for (i, st) in policy.statements.iter().enumerate() {
            if st.effect != Effect::Allow {
                continue;
            }
            let levels = principal_levels(st.principal.as_ref(), caller);
            if levels.iter().all(|l| *l == PrincipalMatch::No) {
                continue;
            }
            let Some(conditions) = self.split(st, Layer::KeyPolicy, action) else {
                continue;
            };
            let path = Path {
                via: vec![reason(key_source.clone(), i, st)],
                conditions,
            };
            let has = |m: PrincipalMatch| levels.contains(&m);
            if has(PrincipalMatch::Direct) {
                direct.push(path);
                continue;
            }
            if has(PrincipalMatch::DirectRole) {
                direct.extend(both(std::slice::from_ref(&path), &boundary_paths));
            }
            if has(PrincipalMatch::AccountDelegation) {
                delegated.push(path);
            }
        }

        // Grants (§7.5).
        let mut grants = Vec::new();
        if info.grant_op {
            for g in world.grants_for_key(&key.arn) {
                if !g.operations.iter().any(|op| op == info.name) {
                    continue;
                }
                let constrained = grant_constrained(g, info);
                let path = Path {
                    via: vec![grant_reason(key, g)],
                    conditions: if constrained {
                        vec![Cond::Grant {
                            key: key.arn.clone(),
                            grant_id: g.grant_id.clone(),
                        }]
                    } else {
                        Vec::new()
                    },
                };
                match g.grantee.matches(caller) {
                    PrincipalMatch::Direct | PrincipalMatch::DirectRole => grants.push(path),
                    PrincipalMatch::AccountDelegation => {
                        grants.extend(both(std::slice::from_ref(&path), &iam))
                    }
                    PrincipalMatch::No => {}
                }
            }
        }

        let mut paths = Vec::new();
        if cross {
            direct.extend(delegated);
            paths.extend(both(&direct, &iam));
        } else {
            paths.extend(direct);
            paths.extend(both(&delegated, &iam));
        }
        paths.extend(grants);
        // Each level of service control policies whose allows hold only under conditions.
        for level in &guard.levels {
            paths = both(&paths, level);
        }
        if paths.is_empty() {
            return None;
        }
        // An unconditional path makes every other one redundant.
        if let Some(i) = paths.iter().position(|p| p.conditions.is_empty()) {
            let p = paths.swap_remove(i);
            paths = vec![p];
        }
        Some(Access { paths, unless })
    }
}

/// Whether `req` (one action on one key) satisfies all of `conds`, decided as `check` decides
/// conditions.
pub fn holds(world: &World, req: &Request, conds: &[Cond]) -> bool {
    let Ok(comps) = crate::context::components(world, req) else {
        return false;
    };
    let [comp] = comps.as_slice() else {
        return false;
    };
    let ctx = Context::build(world, req, comp);
    let mut notes = Vec::new();
    let mut eval = Eval {
        world,
        caller: &req.caller,
        comp,
        ctx: &ctx,
        notes: &mut notes,
        grant_id: req.grant_id.as_deref(),
        policy_override: None,
        session: req.session_policies.as_deref(),
    };
    all_hold(&mut eval, &ctx, conds)
}

fn all_hold(eval: &mut Eval, ctx: &Context, conds: &[Cond]) -> bool {
    conds.iter().all(|c| match c {
        Cond::Policy {
            condition,
            layer,
            effect,
        } => eval.conditions_hold(std::slice::from_ref(condition), *layer, *effect),
        Cond::Grant { key, grant_id } => eval
            .world
            .grants_for_key(key)
            .find(|g| &g.grant_id == grant_id)
            .is_some_and(|g| eval.grant_constraints_hold(g)),
        Cond::Endpoint { id } => ctx.single("aws:sourcevpce", Layer::Identity) == Some(id.as_str()),
        Cond::Not(inner) => !all_hold(eval, ctx, inner),
    })
}

/// Whether `access` allows `req`: some path holds and no deny does.
pub fn allows(world: &World, req: &Request, access: &Access) -> bool {
    access
        .paths
        .iter()
        .any(|p| holds(world, req, &p.conditions))
        && !access
            .unless
            .iter()
            .any(|d| holds(world, req, &d.conditions))
}

/// A condition value as written in the policy.
fn value_text(v: &CondValue) -> String {
    match v {
        CondValue::Text(t) => t.source.clone(),
        CondValue::Number(n) => n.to_string(),
        CondValue::Date(ns) => {
            let secs = ns.div_euclid(1_000_000_000) as i64;
            jiff::Timestamp::from_second(secs)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| secs.to_string())
        }
        CondValue::Cidr(ip, bits) => format!("{ip}/{bits}"),
        CondValue::Bytes(b) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        CondValue::Absent(b) => b.to_string(),
    }
}

impl Cond {
    /// `{"key", "operator", "values"}`; a grant's constraints as `{"grant", "constraints"}`.
    pub fn to_json(&self, world: &World) -> Value {
        match self {
            Cond::Policy { condition: c, .. } => json!({
                "key": c.key,
                "operator": c.operator.name(),
                "values": c.values.iter().map(value_text).collect::<Vec<_>>(),
            }),
            Cond::Grant { key, grant_id } => {
                let g = world.grants_for_key(key).find(|g| &g.grant_id == grant_id);
                let mut constraints = serde_json::Map::new();
                if let Some(g) = g {
                    let pairs = |p: &Vec<(String, String)>| {
                        Value::Object(
                            p.iter()
                                .map(|(k, v)| (k.clone(), v.clone().into()))
                                .collect(),
                        )
                    };
                    if let Some(e) = &g.constraints.equals {
                        constraints.insert("EncryptionContextEquals".into(), pairs(e));
                    }
                    if let Some(s) = &g.constraints.subset {
                        constraints.insert("EncryptionContextSubset".into(), pairs(s));
                    }
                    if let Some(a) = &g.constraints.source_arn {
                        constraints.insert("SourceArn".into(), a.clone().into());
                    }
                }
                json!({"grant": grant_id, "constraints": constraints})
            }
            Cond::Endpoint { id } => {
                json!({"key": "aws:SourceVpce", "operator": "StringEquals", "values": [id]})
            }
            Cond::Not(inner) => {
                json!({"not": inner.iter().map(|c| c.to_json(world)).collect::<Vec<_>>()})
            }
        }
    }

    /// `kms:ViaService StringEquals s3.us-east-1.amazonaws.com`, or the grant's constraints.
    pub fn text(&self, world: &World) -> String {
        match self {
            Cond::Policy { condition: c, .. } => {
                let values: Vec<String> = c.values.iter().map(value_text).collect();
                format!("{} {} {}", c.key, c.operator.name(), values.join(" | "))
            }
            Cond::Grant { grant_id, .. } => {
                let j = self.to_json(world);
                format!("grant {grant_id} constraints {}", j["constraints"])
            }
            Cond::Endpoint { id } => format!("through VPC endpoint {id}"),
            Cond::Not(inner) => {
                let parts: Vec<String> = inner.iter().map(|c| c.text(world)).collect();
                format!("not ({})", parts.join(" and "))
            }
        }
    }
}

/// One row of an answer: a principal (an ARN, or a class written `account:<id>`, `*` or a
/// service principal name), how it is allowed and under which open conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub principal: String,
    /// Whether `principal` is a class the world cannot enumerate.
    pub class: bool,
    pub via: Vec<Reason>,
    pub conditions: Vec<Cond>,
    pub unless: Vec<Deny>,
    /// What else the class needs (e.g. its own IAM allow).
    pub note: Option<String>,
}

impl Entry {
    /// The entry as JSON.
    pub fn to_json(&self, world: &World) -> Value {
        let mut o = json!({
            "principal": self.principal,
            "via": self.via.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "conditions": self.conditions.iter().map(|c| c.to_json(world)).collect::<Vec<_>>(),
        });
        if !self.unless.is_empty() {
            o["unless"] = self
                .unless
                .iter()
                .map(|d| {
                    json!({"via": d.via.to_string(),
                           "conditions": d.conditions.iter().map(|c| c.to_json(world)).collect::<Vec<_>>()})
                })
                .collect();
        }
        if let Some(n) = &self.note {
            o["note"] = n.clone().into();
        }
        o
    }
}

/// `access` as it reads for another principal of the same profile: the identity policies and
/// boundary named in its reasons are that principal's own.
fn renamed(access: &Access, from: &str, to: &str) -> Access {
    let fix = |r: &Reason| {
        let mut r = r.clone();
        match &mut r.source {
            Source::IdentityPolicy { principal, .. }
            | Source::PermissionsBoundary { principal }
                if principal == from =>
            {
                *principal = to.to_owned();
            }
            _ => {}
        }
        r
    };
    Access {
        paths: access
            .paths
            .iter()
            .map(|p| Path {
                via: p.via.iter().map(fix).collect(),
                conditions: p.conditions.clone(),
            })
            .collect(),
        unless: access
            .unless
            .iter()
            .map(|d| Deny {
                via: fix(&d.via),
                conditions: d.conditions.clone(),
            })
            .collect(),
    }
}

fn entries_of(principal: &str, access: Access) -> Vec<Entry> {
    access
        .paths
        .into_iter()
        .map(|p| Entry {
            principal: principal.to_owned(),
            class: false,
            via: p.via,
            conditions: p.conditions,
            unless: access.unless.clone(),
            note: None,
        })
        .collect()
}

/// Who can do what with one key: per action, the world's principals and the classes.
#[derive(Clone, Debug)]
pub struct WhoCan {
    pub key: String,
    pub actions: Vec<(ActionId, Vec<Entry>)>,
}

impl WhoCan {
    /// `{"key": ARN, "actions": {"kms:Decrypt": [entry, …], …}}`.
    pub fn to_json(&self, world: &World) -> Value {
        let mut actions = serde_json::Map::new();
        for (a, entries) in &self.actions {
            actions.insert(
                actions::full_name(*a),
                entries.iter().map(|e| e.to_json(world)).collect(),
            );
        }
        json!({"key": self.key, "actions": actions})
    }
}

/// Principals (indexes into the world's) that get the same answers, and those answers per action.
pub type GroupAnswers = (Vec<usize>, Vec<(ActionId, Access)>);

/// The answers for one key: per action, the entries.
pub type KeyAnswers = Vec<(ActionId, Vec<Entry>)>;

/// What one principal can do: per key, per action, how.
#[derive(Clone, Debug)]
pub struct WhatCan {
    pub principal: String,
    pub keys: Vec<(String, KeyAnswers)>,
}

impl WhatCan {
    /// `{"principal": ARN, "keys": {KEY: {"kms:Decrypt": [entry, …]}}}`.
    pub fn to_json(&self, world: &World) -> Value {
        let mut keys = serde_json::Map::new();
        for (k, acts) in &self.keys {
            let mut o = serde_json::Map::new();
            for (a, entries) in acts {
                o.insert(
                    actions::full_name(*a),
                    entries.iter().map(|e| e.to_json(world)).collect(),
                );
            }
            keys.insert(k.clone(), Value::Object(o));
        }
        json!({"principal": self.principal, "keys": keys})
    }
}

impl<'w> Analyzer<'w> {
    /// The key an ARN, alias name or alias ARN names.
    pub fn resolve_key(&self, name: &str) -> Option<&'w Key> {
        if let Some(k) = self
            .world
            .key(name)
            .or_else(|| self.world.key_for_alias(name))
        {
            return Some(k);
        }
        let alias = if name.starts_with("alias/") {
            name.to_owned()
        } else {
            return None;
        };
        let mut found = self
            .world
            .keys
            .iter()
            .filter(|k| k.aliases.contains(&alias));
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The world principals a key policy statement or a grant of `key` names by ARN: their
    /// answers may differ from the rest of their profile.
    fn named(&self, key: &Key) -> Vec<usize> {
        let mut out = Vec::new();
        let mut add = |e: &PrincipalEntry| match e {
            PrincipalEntry::User { arn, .. } => out.extend(self.principal_index(arn)),
            PrincipalEntry::Role { account, name } => {
                if let Some(v) = self.index.roles.get(&(account.clone(), name.clone())) {
                    out.extend_from_slice(v);
                }
            }
            PrincipalEntry::Session { .. } | PrincipalEntry::FederatedUser { .. } => {
                out.extend(self.principal_index(&e.to_string()))
            }
            _ => {}
        };
        if let Some(policy) = &key.policy {
            for st in &policy.statements {
                st.principal
                    .iter()
                    .flat_map(|p| &p.entries)
                    .for_each(&mut add);
            }
        }
        for g in self.world.grants_for_key(&key.arn) {
            add(&g.grantee);
            if let Some(r) = &g.retiring {
                add(r);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The answers for the world's principals on `key`: for each group of principals that get the
    /// same answer, its members and, per action, the answer of its first member.
    pub fn principal_answers(&self, key: &Key, wanted: ActionSet) -> Vec<GroupAnswers> {
        let wanted = ActionSet(wanted.0 & analysed_actions().0);
        let index = &*self.index;
        let answer = |i: usize, wanted: ActionSet| -> Vec<(ActionId, Access)> {
            let Some(caller) = &index.callers[i] else {
                return Vec::new();
            };
            let cand = self.candidate_actions(caller, key, wanted);
            if cand.0 == 0 {
                return Vec::new();
            }
            // The summary finds the allowed actions cheaply; only those get paths.
            let mut scope = Scope::new(self, caller, key);
            let allowed = scope.summary(cand).any;
            allowed
                .iter()
                .filter_map(|a| scope.access(a).map(|x| (a, x)))
                .collect()
        };
        let mut out = Vec::new();
        let key_index = self.world.keys.iter().position(|k| std::ptr::eq(k, key));
        // Actions whose statements tell principals apart are answered principal by principal.
        let sensitive = ActionSet(
            (key_index.map_or(ActionSet::ALL.0, |k| index.key_sensitive[k].0)
                | index.guardrail_sensitive.0)
                & wanted.0,
        );
        let common = ActionSet(wanted.0 & !sensitive.0);
        let named = self.named(key);
        for members in &index.members {
            let rest: Vec<usize> = members
                .iter()
                .copied()
                .filter(|i| named.binary_search(i).is_err())
                .collect();
            if let Some(&first) = rest.first() {
                if common.0 != 0 {
                    let a = answer(first, common);
                    if !a.is_empty() {
                        out.push((rest.clone(), a));
                    }
                }
                if sensitive.0 != 0 {
                    for i in rest {
                        let a = answer(i, sensitive);
                        if !a.is_empty() {
                            out.push((vec![i], a));
                        }
                    }
                }
            }
        }
        for i in named {
            let a = answer(i, wanted);
            if !a.is_empty() {
                out.push((vec![i], a));
            }
        }
        out
    }

    /// Like [`Analyzer::principal_answers`], reduced to [`Summary`]s: for each group of principals
    /// with the same access to `key`, its members and what they may do. Principals with no
    /// access are left out.
    pub fn principal_summaries(&self, key: &Key, wanted: ActionSet) -> Vec<(Vec<usize>, Summary)> {
        let wanted = ActionSet(wanted.0 & ANALYSED.0);
        let index = &*self.index;
        let summary = |i: usize, wanted: ActionSet| -> Summary {
            match &index.callers[i] {
                Some(caller) => self.summary(caller, key, wanted),
                None => Summary::default(),
            }
        };
        let mut out = Vec::new();
        let key_index = self.world.keys.iter().position(|k| std::ptr::eq(k, key));
        let sensitive = ActionSet(
            (key_index.map_or(ActionSet::ALL.0, |k| index.key_sensitive[k].0)
                | index.guardrail_sensitive.0)
                & wanted.0,
        );
        let common = ActionSet(wanted.0 & !sensitive.0);
        let named = self.named(key);
        for members in &index.members {
            let rest: Vec<usize> = members
                .iter()
                .copied()
                .filter(|i| named.binary_search(i).is_err())
                .collect();
            let Some(&first) = rest.first() else { continue };
            let shared = if common.0 != 0 {
                summary(first, common)
            } else {
                Summary::default()
            };
            if sensitive.0 == 0 {
                if shared.any.0 != 0 {
                    out.push((rest, shared));
                }
                continue;
            }
            for i in rest {
                let own = summary(i, sensitive);
                let s = Summary {
                    any: ActionSet(shared.any.0 | own.any.0),
                    unconditional: ActionSet(shared.unconditional.0 | own.unconditional.0),
                };
                if s.any.0 != 0 {
                    out.push((vec![i], s));
                }
            }
        }
        for i in named {
            let s = summary(i, wanted);
            if s.any.0 != 0 {
                out.push((vec![i], s));
            }
        }
        out
    }

    /// Who can perform `wanted` actions on `key`.
    pub fn who_can(&self, key: &'w Key, wanted: ActionSet) -> WhoCan {
        let wanted = ActionSet(wanted.0 & analysed_actions().0);
        let mut per_action: Vec<Vec<Entry>> = vec![Vec::new(); actions::ACTION_COUNT];
        let mut answers: Vec<(usize, ActionId, Access)> = Vec::new();
        for (members, acts) in self.principal_answers(key, wanted) {
            let first = &self.world.principals[members[0]].arn;
            for (a, access) in acts {
                for &m in &members {
                    let arn = &self.world.principals[m].arn;
                    let access = if arn == first {
                        access.clone()
                    } else {
                        renamed(&access, first, arn)
                    };
                    answers.push((m, a, access));
                }
            }
        }
        answers.sort_by_key(|(m, a, _)| (*a, *m));
        for (m, a, access) in answers {
            per_action[a as usize].extend(entries_of(&self.world.principals[m].arn, access));
        }
        for a in wanted.iter() {
            per_action[a as usize].extend(self.classes(key, a));
        }
        WhoCan {
            key: key.arn.clone(),
            actions: wanted
                .iter()
                .map(|a| (a, std::mem::take(&mut per_action[a as usize])))
                .collect(),
        }
    }

    /// What `caller` can do on every key of the world.
    pub fn what_can(&self, caller: &Caller, wanted: ActionSet) -> WhatCan {
        let wanted = ActionSet(wanted.0 & analysed_actions().0);
        let mut keys = Vec::new();
        for key in &self.world.keys {
            let cand = self.candidate_actions(caller, key, wanted);
            if cand.0 == 0 {
                continue;
            }
            let mut scope = Scope::new(self, caller, key);
            let mut acts = Vec::new();
            for a in cand.iter() {
                if let Some(access) = scope.access(a) {
                    acts.push((a, entries_of(&caller.arn, access)));
                }
            }
            if !acts.is_empty() {
                keys.push((key.arn.clone(), acts));
            }
        }
        WhatCan {
            principal: caller.arn.clone(),
            keys,
        }
    }

    /// The principals the world cannot enumerate that `action` on `key` may be allowed to: `*`,
    /// accounts (through their IAM policies), service principals, and ARNs the world does not
    /// define, from the key policy's allows and the key's grants.
    pub fn classes(&self, key: &Key, action: ActionId) -> Vec<Entry> {
        self.classes_with(key, action, true)
    }

    /// Like [`Analyzer::classes`], and with `skip_world` false also the principals the world
    /// defines that a statement or grant names by ARN.
    pub fn classes_with(&self, key: &Key, action: ActionId, skip_world: bool) -> Vec<Entry> {
        let info = actions::info(action);
        let Some(policy) = &key.policy else {
            return Vec::new();
        };
        let key_source = Source::KeyPolicy {
            key: key.arn.clone(),
        };
        let resource_ok = |st: &Statement| {
            st.resource.as_ref().is_some_and(|r| {
                r.patterns.iter().any(|p| match p {
                    ResourcePattern::Any => true,
                    ResourcePattern::Arn(t) => t
                        .to_glob(|_| None)
                        .is_some_and(|g| arn_matches(&g, &key.arn, false)),
                }) != r.negated
            })
        };
        let open = |st: &Statement| -> Vec<Cond> {
            st.conditions
                .iter()
                .map(|c| Cond::Policy {
                    condition: c.clone(),
                    layer: Layer::KeyPolicy,
                    effect: st.effect,
                })
                .collect()
        };
        // Denies that can reach principals outside the world: `*`, NotPrincipal, accounts.
        let mut denies: Vec<(Option<String>, Deny)> = Vec::new();
        for (i, st) in policy.statements.iter().enumerate() {
            if st.effect != Effect::Deny
                || !self.actions_of(st).contains(action)
                || !resource_ok(st)
            {
                continue;
            }
            let Some(p) = &st.principal else { continue };
            let d = Deny {
                via: reason(key_source.clone(), i, st),
                conditions: open(st),
            };
            if p.negated || p.entries.contains(&PrincipalEntry::Any) {
                denies.push((None, d));
            } else {
                for e in &p.entries {
                    if let PrincipalEntry::Account(a) = e {
                        denies.push((Some(a.clone()), d.clone()));
                    }
                }
            }
        }
        // Guardrails any caller meets: the key account's resource control policies and the VPC
        // endpoint policies, from their statements naming every principal.
        let everyone = |st: &Statement| {
            st.principal
                .as_ref()
                .is_some_and(|p| p.negated || p.entries.contains(&PrincipalEntry::Any))
        };
        let guard_open = |st: &Statement| -> Vec<Cond> {
            st.conditions
                .iter()
                .map(|c| Cond::Policy {
                    condition: c.clone(),
                    layer: Layer::Identity,
                    effect: st.effect,
                })
                .collect()
        };
        let rcp_chain = self
            .world
            .chain(&key.account)
            .filter(|c| key.metadata.key_manager != "AWS" && !c.management);
        for &n in rcp_chain.iter().flat_map(|c| &c.rcps) {
            let rcp = &self.world.org_policies[n];
            let source = Source::Rcp {
                policy_id: rcp.id.clone(),
            };
            for (i, st) in rcp.policy.statements.iter().enumerate() {
                if st.effect == Effect::Deny
                    && everyone(st)
                    && self.actions_of(st).contains(action)
                    && resource_ok(st)
                {
                    let d = Deny {
                        via: reason(source.clone(), i, st),
                        conditions: guard_open(st),
                    };
                    denies.push((None, d));
                }
            }
        }
        for e in &self.world.vpc_endpoints {
            let Some(p) = &e.policy else { continue };
            let source = Source::VpcEndpointPolicy {
                endpoint: e.id.clone(),
            };
            let through = Cond::Endpoint { id: e.id.clone() };
            let mut allows = Vec::new();
            for (i, st) in p.statements.iter().enumerate() {
                if !everyone(st) || !self.actions_of(st).contains(action) || !resource_ok(st) {
                    continue;
                }
                let mut conditions = guard_open(st);
                if st.effect == Effect::Allow {
                    allows.push(conditions);
                } else {
                    conditions.insert(0, through.clone());
                    let via = reason(source.clone(), i, st);
                    denies.push((None, Deny { via, conditions }));
                }
            }
            if !allows.iter().any(|c| c.is_empty()) {
                let mut conditions = vec![through];
                conditions.extend(allows.into_iter().map(Cond::Not));
                let via = Reason {
                    source,
                    statement: None,
                    sid: None,
                };
                denies.push((None, Deny { via, conditions }));
            }
        }
        // The service control policies' denies for each account class.
        let mut accounts: Vec<&str> = policy
            .statements
            .iter()
            .flat_map(|st| st.principal.iter().flat_map(|p| &p.entries))
            .chain(self.world.grants_for_key(&key.arn).map(|g| &g.grantee))
            .filter_map(|e| match e {
                PrincipalEntry::Account(a) => Some(a.as_str()),
                _ => None,
            })
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        for a in accounts {
            let Some(chain) = self
                .world
                .chain(a)
                .filter(|c| c.scps_enabled && !c.management)
            else {
                continue;
            };
            for &n in chain.scp_levels.iter().flat_map(|l| &l.policies) {
                let scp = &self.world.org_policies[n];
                let source = Source::Scp {
                    policy_id: scp.id.clone(),
                };
                for (i, st) in scp.policy.statements.iter().enumerate() {
                    if st.effect == Effect::Deny
                        && self.actions_of(st).contains(action)
                        && resource_ok(st)
                    {
                        let d = Deny {
                            via: reason(source.clone(), i, st),
                            conditions: guard_open(st),
                        };
                        denies.push((Some(a.to_owned()), d));
                    }
                }
            }
        }
        let unless_for = |account: Option<&str>| -> Option<Vec<Deny>> {
            let ds: Vec<Deny> = denies
                .iter()
                .filter(|(a, _)| a.is_none() || a.as_deref() == account)
                .map(|(_, d)| d.clone())
                .collect();
            (!ds.iter().any(|d| d.conditions.is_empty())).then_some(ds)
        };
        let in_world = |e: &PrincipalEntry| {
            skip_world
                && match e {
                    PrincipalEntry::User { .. } | PrincipalEntry::Role { .. } => {
                        Caller::parse(&e.to_string())
                            .ok()
                            .is_some_and(|c| self.world.principal_for(&c).is_some())
                    }
                    _ => false,
                }
        };
        let cross_ok = |account: &str| info.cross_account || account == key.account;
        let mut out: Vec<Entry> = Vec::new();
        let mut push = |principal: String,
                        account: Option<&str>,
                        via: Reason,
                        conditions: Vec<Cond>,
                        note: Option<String>| {
            if let Some(unless) = unless_for(account) {
                out.push(Entry {
                    principal,
                    class: true,
                    via: vec![via],
                    conditions,
                    unless,
                    note,
                });
            }
        };
        let other_accounts =
            "callers in other accounts also need an identity-policy allow in their own account";
        for (i, st) in policy.statements.iter().enumerate() {
            if st.effect != Effect::Allow
                || !self.actions_of(st).contains(action)
                || !resource_ok(st)
            {
                continue;
            }
            let Some(p) = &st.principal else { continue };
            let r = reason(key_source.clone(), i, st);
            if p.negated {
                let except: Vec<String> = p.entries.iter().map(|e| e.to_string()).collect();
                push(
                    "*".into(),
                    None,
                    r.clone(),
                    open(st),
                    Some(format!(
                        "every principal except {}; {other_accounts}",
                        except.join(", ")
                    )),
                );
                continue;
            }
            for e in &p.entries {
                match e {
                    PrincipalEntry::Any => push(
                        "*".into(),
                        None,
                        r.clone(),
                        open(st),
                        Some(other_accounts.into()),
                    ),
                    PrincipalEntry::Account(a) if cross_ok(a) => push(
                        format!("account:{a}"),
                        Some(a),
                        r.clone(),
                        open(st),
                        Some(format!(
                            "the root user of {a}, and any principal of {a} whose identity policies allow it"
                        )),
                    ),
                    PrincipalEntry::Service(s) => push(s.clone(), None, r.clone(), open(st), None),
                    PrincipalEntry::Never(_) | PrincipalEntry::Account(_) => {}
                    _ if in_world(e) => {}
                    other => {
                        let arn = other.to_string();
                        let account = crate::arn::split_arn(&arn).map(|p| p[4].to_owned());
                        if account.as_deref().is_some_and(|a| !cross_ok(a)) {
                            continue;
                        }
                        let note = account
                            .filter(|a| a != &key.account)
                            .map(|_| other_accounts.to_owned());
                        push(arn, None, r.clone(), open(st), note)
                    }
                }
            }
        }
        if info.grant_op {
            for g in self.world.grants_for_key(&key.arn) {
                if !g.operations.iter().any(|op| op == info.name) {
                    continue;
                }
                let mut conditions = Vec::new();
                if grant_constrained(g, info) {
                    conditions.push(Cond::Grant {
                        key: key.arn.clone(),
                        grant_id: g.grant_id.clone(),
                    });
                }
                let r = grant_reason(key, g);
                match &g.grantee {
                    PrincipalEntry::Account(a) => push(
                        format!("account:{a}"),
                        Some(a),
                        r,
                        conditions,
                        Some(format!(
                            "the root user of {a}, and any principal of {a} whose identity policies allow it"
                        )),
                    ),
                    PrincipalEntry::Service(s) => push(s.clone(), None, r, conditions, None),
                    PrincipalEntry::Any | PrincipalEntry::Never(_) => {}
                    e if in_world(e) => {}
                    e => push(e.to_string(), None, r, conditions, None),
                }
            }
        }
        out
    }
}
