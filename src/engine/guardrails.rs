//! The guardrail layers, compiled (docs/guardrails.md): every organization policy, endpoint
//! policy and session policy of the world compiled once, then folded into dense tables indexed
//! by account and action. For each account (its SCP chain and RCP list) and each action, a cell
//! lists only the statements that can decide there, in evaluation order, each marked as always
//! applying, settled per caller (its conditions read only the caller's organization facts), or
//! to be evaluated per request; an SCP level where an unconditional `Allow` covers the action
//! is not checked at all, and a level where nothing can allow it settles the gate. Endpoint
//! policies get the same cells per endpoint and action. A world without guardrails skips all of
//! it with one test.

use super::compile::{compile_plain, CPolicy, CResource};
use super::intern;
use super::view::{ComponentRef, KeyRef, View};
use super::{exempt, Eval, ReasonRef};
use crate::actions::{self, ActionId};
use crate::arn::{Caller, CallerKind, PrincipalEntry, PrincipalMatch};
use crate::context::Layer;
use crate::decision::{Missing, Reason, Source};
use crate::policy::{CondValue, Effect, Policy, Principals};
use crate::request::Request;
use crate::world::guardrails::is_service_linked;
use crate::world::{OrgPolicyKind, World};
use std::collections::HashMap;

/// A policy whose statements may name principals (RCPs, endpoint policies), compiled.
pub struct CNamed {
    pub policy: CPolicy,
    /// Each statement's `Principal` / `NotPrincipal`.
    pub principals: Vec<Option<Principals>>,
}

impl CNamed {
    fn new(policy: &Policy, source: Source) -> CNamed {
        CNamed {
            policy: compile_plain(policy, source),
            principals: policy
                .statements
                .iter()
                .map(|s| s.principal.clone())
                .collect(),
        }
    }
}

/// How much of a candidate statement is known before a request arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Resource `*` and no condition: it applies to every request for the action.
    Always,
    /// Resource `*`, and conditions with literal values that read only the caller's
    /// organization facts ([`CALLER_KEYS`]) or keys that only the request can give: whether it
    /// applies, per caller class, is bit `offset + class` of [`GTables::by_caller`], unless the
    /// request gives one of the keys it reads itself (`keys`: bits of [`GTables::watched`]).
    ByCaller { offset: u32, keys: u64 },
    /// Evaluated per request.
    Eval,
}

/// Whether a candidate's principal element must be matched against the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// No principal element (SCPs), or `"*"`: every caller.
    Anyone,
    /// Matched per request.
    Named,
}

/// A statement that can decide one action: statement `stmt` of policy `policy` (an index into
/// the organization policies, or an endpoint number).
#[derive(Clone, Copy, Debug)]
pub struct Cand {
    pub policy: u32,
    pub stmt: u32,
    pub settled: Settled,
    pub who: Who,
}

/// A run of [`GTables::cands`] (or of [`GTables::levels`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// What a layer that must allow says about one action, before any request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// An unconditional allow at every level: nothing to check.
    Open,
    /// Some level has no statement that could allow the action: it fails.
    Closed,
    /// The levels (a span of [`GTables::levels`], each a span of candidates) where some
    /// candidate must apply.
    Levels(Span),
}

/// One account's guardrails for one action.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// The SCP `Deny` statements that can match, root level first, each content once.
    pub scp_deny: Span,
    /// The SCP allow each level needs.
    pub scp_gate: Gate,
    /// The RCP `Deny` statements that can match.
    pub rcp_deny: Span,
}

/// One endpoint's policy for one action.
#[derive(Clone, Copy, Debug)]
pub struct EpCell {
    pub deny: Span,
    pub gate: Gate,
}

/// How an account's chain applies.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChainInfo {
    /// SCPs apply (enabled in the organization, not the management account).
    pub scps: bool,
    /// The account has RCPs that can deny something (never for the management account).
    pub rcps: bool,
}

/// The condition keys whose value, when the request does not give them, depends only on the
/// caller's account (and whether the caller is an AWS service).
pub const CALLER_KEYS: [&str; 3] = [
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalisawsservice",
];

/// Caller class 0: an AWS service principal; 1: an account the world does not hold; `2 + i`:
/// the world's account number `i` (in [`GTables::account_ids`] order).
const CLASS_SERVICE: usize = 0;
const CLASS_UNKNOWN: usize = 1;

const NONE: u32 = u32::MAX;

/// The compiled guardrail layers of a world.
#[derive(Default)]
pub struct GTables {
    /// Whether the world has any guardrail at all.
    pub any: bool,
    pub org_policies: Vec<CNamed>,
    /// The world's account ids, sorted; an account's number is its place here.
    pub account_ids: Vec<Box<str>>,
    /// 12-digit account ids as numbers, with their account numbers, sorted.
    by_number: Vec<(u64, u32)>,
    /// Other account ids.
    by_name: HashMap<Box<str>, u32>,
    /// Per account number: its chain number, or `NONE`.
    account_chain: Vec<u32>,
    /// Per world key: the chain number of its owner, or `NONE`.
    key_chain: Vec<u32>,
    pub chains: Vec<ChainInfo>,
    /// Per chain and action (`chain * ACTION_COUNT + action`).
    pub cells: Vec<Cell>,
    pub cands: Vec<Cand>,
    pub levels: Vec<Span>,
    pub by_caller: Vec<bool>,
    /// The condition keys (lower case) that [`Settled::ByCaller`] statements read: a statement
    /// is evaluated when the request gives one of its keys.
    pub watched: Vec<Box<str>>,
    /// Endpoint numbers by endpoint id.
    pub endpoint_ids: Vec<(Box<str>, u32)>,
    /// Per endpoint: its policy (`None`: the default policy, which allows everything).
    pub endpoints: Vec<Option<CNamed>>,
    /// Per endpoint with a policy and action (`endpoint * ACTION_COUNT + action`).
    pub ep_cells: Vec<EpCell>,
    /// The `sessions` of the world by session ARN.
    pub sessions: HashMap<Box<str>, Vec<CPolicy>>,
}

/// A statement of a compiled policy, with its parsed form.
struct StmtRef<'a> {
    compiled: &'a CPolicy,
    parsed: &'a Policy,
    principals: &'a [Option<Principals>],
    /// Statements name principals (RCPs, endpoint policies): one without a principal names no
    /// one.
    named: bool,
}

/// Builds the candidate tables; `classes` are a synthetic caller per caller class.
struct Builder<'w> {
    world: &'w World,
    classes: Vec<Request>,
    t: GTables,
}

impl Builder<'_> {
    /// How much of statement `i` is known in advance.
    fn settle(&mut self, s: &StmtRef, i: usize) -> Settled {
        let st = &s.compiled.statements[i];
        if !matches!(st.resource, CResource::Any) {
            return Settled::Eval;
        }
        if st.conditions.is_empty() {
            return Settled::Always;
        }
        let parsed = &s.parsed.statements[i];
        // A key the engine never derives (`KeyRef::Other`) is absent unless the request gives
        // it, whoever the caller is.
        let caller_only = parsed.conditions.iter().all(|c| {
            (CALLER_KEYS.contains(&c.key_lower.as_str())
                || KeyRef::of(&c.key_lower) == KeyRef::Other)
                && c.values.iter().all(|v| match v {
                    CondValue::Text(t) => t.as_plain().is_some(),
                    _ => true,
                })
        });
        if !caller_only {
            return Settled::Eval;
        }
        let mut keys = 0u64;
        for c in &parsed.conditions {
            let bit = match self.t.watched.iter().position(|k| **k == *c.key_lower) {
                Some(b) => b,
                None if self.t.watched.len() < 64 => {
                    self.t.watched.push(c.key_lower.as_str().into());
                    self.t.watched.len() - 1
                }
                // More distinct keys than a mask holds: evaluated per request.
                None => return Settled::Eval,
            };
            keys |= 1 << bit;
        }
        let offset = self.t.by_caller.len() as u32;
        for r in &self.classes {
            let view = View {
                world: self.world,
                request: r,
                caller: &r.caller,
                principal: None,
                comp: ComponentRef {
                    action: actions::CREATE_KEY,
                    key: None,
                    encryption_context: &[],
                    request_alias: None,
                    same_key: None,
                },
            };
            let holds = st
                .conditions
                .iter()
                .all(|c| c.holds(&view, Layer::Identity));
            self.t.by_caller.push(holds);
        }
        Settled::ByCaller { offset, keys }
    }

    /// The candidates of `effect` for `action` among `policies` (in order), each statement
    /// content once (a later copy applies exactly when the first does); stops after one that
    /// always applies to anyone, since nothing after it is reached.
    fn cands(
        &mut self,
        policies: &[(u32, StmtRef)],
        action: ActionId,
        effect: Effect,
    ) -> (Span, bool) {
        let start = self.t.cands.len() as u32;
        let mut kept: Vec<(u32, usize)> = Vec::new();
        let mut always = false;
        'outer: for (p, s) in policies {
            for (i, h) in s.compiled.hot.iter().enumerate() {
                if h.effect != effect || !h.actions.contains(action) {
                    continue;
                }
                let dup = kept.iter().any(|&(q, j)| {
                    let other = &policies.iter().find(|(r, _)| *r == q).expect("kept").1;
                    other.parsed.statements[j] == s.parsed.statements[i]
                });
                if dup {
                    continue;
                }
                kept.push((*p, i));
                let who = match s.principals.get(i).and_then(Option::as_ref) {
                    // A named policy's statement without a principal names no one.
                    None if s.named => continue,
                    None => Who::Anyone,
                    Some(pr) if !pr.negated && pr.entries.contains(&PrincipalEntry::Any) => {
                        Who::Anyone
                    }
                    Some(_) => Who::Named,
                };
                let settled = self.settle(s, i);
                self.t.cands.push(Cand {
                    policy: *p,
                    stmt: i as u32,
                    settled,
                    who,
                });
                if settled == Settled::Always && who == Who::Anyone {
                    always = true;
                    break 'outer;
                }
            }
        }
        let len = self.t.cands.len() as u32 - start;
        (Span { start, len }, always)
    }

    /// The gate of levels (each a list of policies that can allow) for `action`.
    fn gate(&mut self, levels: &[Vec<(u32, StmtRef)>], action: ActionId) -> Gate {
        let mut spans = Vec::new();
        for level in levels {
            let (span, always) = self.cands(level, action, Effect::Allow);
            if always {
                // Nothing of this level needs checking.
                self.t.cands.truncate(span.start as usize);
                continue;
            }
            if span.len == 0 {
                return Gate::Closed;
            }
            spans.push(span);
        }
        if spans.is_empty() {
            return Gate::Open;
        }
        let start = self.t.levels.len() as u32;
        self.t.levels.extend(spans);
        Gate::Levels(Span {
            start,
            len: self.t.levels.len() as u32 - start,
        })
    }
}

/// A synthetic request by `principal`, for settling statements per caller class.
fn class_request(principal: &str) -> Option<Request> {
    Some(Request::bare(
        Caller::parse(principal).ok()?,
        actions::CREATE_KEY,
        "*".into(),
    ))
}

/// Compiles the guardrail layers of `world`.
pub fn compile(world: &World) -> GTables {
    let mut t = GTables {
        any: world.has_guardrails(),
        ..GTables::default()
    };
    if !t.any {
        return t;
    }
    for p in &world.org_policies {
        let source = Source::Scp {
            policy_id: p.id.clone(),
        };
        t.org_policies.push(CNamed::new(&p.policy, source));
    }
    let mut ids: Vec<&String> = world.accounts.keys().collect();
    ids.sort();
    t.account_ids = ids.iter().map(|s| s.as_str().into()).collect();
    for (i, id) in ids.iter().enumerate() {
        match intern::account_number(id) {
            Some(n) => t.by_number.push((n, i as u32)),
            None => {
                t.by_name.insert(id.as_str().into(), i as u32);
            }
        }
    }
    t.by_number.sort_unstable();

    // One synthetic caller per class: a service, an account outside the world, each account.
    let mut classes = vec![class_request("kms.amazonaws.com")];
    let outside = (0u64..)
        .map(|n| format!("{n:012}"))
        .find(|a| !world.accounts.contains_key(a))
        .expect("an account id outside the world");
    classes.push(class_request(&format!("arn:aws:iam::{outside}:root")));
    for id in &ids {
        classes.push(class_request(&format!("arn:aws:iam::{id}:root")));
    }
    // An account id that is not a valid ARN part has no synthetic caller: its statements are
    // then evaluated per request.
    let settle = classes.iter().all(Option::is_some);
    let classes: Vec<Request> = classes.into_iter().flatten().collect();
    let org = std::mem::take(&mut t.org_policies);
    let mut b = Builder { world, classes, t };
    let stmt = |i: usize| StmtRef {
        compiled: &org[i].policy,
        parsed: &world.org_policies[i].policy,
        principals: &org[i].principals,
        named: world.org_policies[i].kind == OrgPolicyKind::Rcp,
    };
    b.t.account_chain = vec![NONE; ids.len()];
    for (a, id) in ids.iter().enumerate() {
        let Some(chain) = world.chain(id) else {
            continue;
        };
        let c = b.t.chains.len() as u32;
        b.t.account_chain[a] = c;
        // SCP policies in level order, each policy once.
        let mut in_order: Vec<usize> = Vec::new();
        for l in &chain.scp_levels {
            for &p in &l.policies {
                if !in_order.contains(&p) {
                    in_order.push(p);
                }
            }
        }
        let scp_all: Vec<(u32, StmtRef)> = in_order.iter().map(|&i| (i as u32, stmt(i))).collect();
        let levels: Vec<Vec<(u32, StmtRef)>> = chain
            .scp_levels
            .iter()
            .map(|l| l.policies.iter().map(|&i| (i as u32, stmt(i))).collect())
            .collect();
        let rcp_all: Vec<(u32, StmtRef)> = if chain.management {
            Vec::new()
        } else {
            let mut seen: Vec<usize> = Vec::new();
            chain
                .rcps
                .iter()
                .filter(|&&i| {
                    let new = !seen.contains(&i);
                    seen.push(i);
                    new
                })
                .map(|&i| (i as u32, stmt(i)))
                .collect()
        };
        let mut rcps_any = false;
        for action in 0..actions::ACTION_COUNT as ActionId {
            let (scp_deny, _) = b.cands(&scp_all, action, Effect::Deny);
            let scp_gate = b.gate(&levels, action);
            let (rcp_deny, _) = b.cands(&rcp_all, action, Effect::Deny);
            rcps_any |= rcp_deny.len > 0;
            b.t.cells.push(Cell {
                scp_deny,
                scp_gate,
                rcp_deny,
            });
        }
        b.t.chains.push(ChainInfo {
            scps: chain.scps_enabled && !chain.management,
            rcps: rcps_any,
        });
    }
    if !settle {
        for c in &mut b.t.cands {
            if matches!(c.settled, Settled::ByCaller { .. }) {
                c.settled = Settled::Eval;
            }
        }
    }
    b.t.org_policies = org;
    b.t.key_chain = world
        .keys
        .iter()
        .map(|k| {
            b.t.account_of(&k.account, intern::account_number(&k.account))
                .map_or(NONE, |a| b.t.account_chain[a as usize])
        })
        .collect();

    // Endpoints.
    let mut eps: Vec<Option<CNamed>> = Vec::new();
    for (i, e) in world.vpc_endpoints.iter().enumerate() {
        b.t.endpoint_ids.push((e.id.as_str().into(), i as u32));
        eps.push(e.policy.as_ref().map(|p| {
            CNamed::new(
                p,
                Source::VpcEndpointPolicy {
                    endpoint: e.id.clone(),
                },
            )
        }));
    }
    for (i, e) in world.vpc_endpoints.iter().enumerate() {
        let (Some(c), Some(parsed)) = (&eps[i], &e.policy) else {
            // No policy: cells that never deny and always allow.
            for _ in 0..actions::ACTION_COUNT {
                b.t.ep_cells.push(EpCell {
                    deny: Span::default(),
                    gate: Gate::Open,
                });
            }
            continue;
        };
        let one = || {
            vec![(
                i as u32,
                StmtRef {
                    compiled: &c.policy,
                    parsed,
                    principals: &c.principals,
                    named: true,
                },
            )]
        };
        for action in 0..actions::ACTION_COUNT as ActionId {
            let (deny, _) = b.cands(&one(), action, Effect::Deny);
            let gate = b.gate(&[one()], action);
            b.t.ep_cells.push(EpCell { deny, gate });
        }
    }
    b.t.endpoints = eps;
    b.t.endpoint_ids.sort_unstable();

    for s in &world.sessions {
        let policies = s
            .policies
            .iter()
            .enumerate()
            .map(|(n, p)| {
                compile_plain(
                    p,
                    Source::SessionPolicy {
                        session: s.arn.clone(),
                        policy: n,
                    },
                )
            })
            .collect();
        b.t.sessions.insert(s.arn.as_str().into(), policies);
    }
    b.t
}

impl GTables {
    /// The account number of an account id.
    fn account_of(&self, account: &str, number: Option<u64>) -> Option<u32> {
        match number {
            Some(n) => self
                .by_number
                .binary_search_by_key(&n, |x| x.0)
                .ok()
                .map(|i| self.by_number[i].1),
            None if self.by_name.is_empty() => None,
            None => self.by_name.get(account).copied(),
        }
    }

    fn cell(&self, chain: u32, action: ActionId) -> &Cell {
        &self.cells[chain as usize * actions::ACTION_COUNT + action as usize]
    }
}

/// The session policies of a check: the request's own (compiled for this check), else the
/// world's; `None` when the caller is not a session or has none.
pub enum SessionPolicies<'a> {
    None,
    Owned(Vec<CPolicy>),
    World(&'a [CPolicy]),
}

impl<'a> SessionPolicies<'a> {
    /// Looks up (or compiles) the session policies of `request`'s caller.
    pub fn of(t: &'a GTables, request: &Request) -> SessionPolicies<'a> {
        let c = &request.caller;
        if !matches!(
            c.kind,
            CallerKind::AssumedRole { .. } | CallerKind::FederatedUser { .. }
        ) {
            return SessionPolicies::None;
        }
        if let Some(list) = &request.session_policies {
            return SessionPolicies::Owned(
                list.iter()
                    .enumerate()
                    .map(|(n, p)| {
                        compile_plain(
                            p,
                            Source::SessionPolicy {
                                session: c.arn.clone(),
                                policy: n,
                            },
                        )
                    })
                    .collect(),
            );
        }
        if t.sessions.is_empty() {
            return SessionPolicies::None;
        }
        match t.sessions.get(c.arn.as_str()) {
            Some(v) => SessionPolicies::World(v),
            None => SessionPolicies::None,
        }
    }

    fn list(&self) -> Option<&[CPolicy]> {
        match self {
            SessionPolicies::None => None,
            SessionPolicies::Owned(v) => Some(v),
            SessionPolicies::World(v) => Some(v),
        }
    }

    /// Whether the session policies allow the component (true without any, except for a
    /// federated-user session, which then has no identity-side permissions).
    pub(super) fn allows(&self, eval: &Eval, caller: &Caller) -> bool {
        match self.list() {
            Some(list) => list.iter().any(|p| eval.first(p, Effect::Allow).is_some()),
            None => !matches!(caller.kind, CallerKind::FederatedUser { .. }),
        }
    }

    /// The first session-policy Deny that applies: (policy number, statement).
    pub(super) fn deny(&self, eval: &Eval) -> Option<ReasonRef> {
        for (n, p) in self.list()?.iter().enumerate() {
            if let Some(s) = eval.first(p, Effect::Deny) {
                return Some(ReasonRef::Session {
                    policy: n as u32,
                    stmt: s,
                });
            }
        }
        None
    }
}

/// Whether a statement's principal element names the caller (at any level).
fn names(p: Option<&Principals>, caller: &Caller) -> bool {
    match p {
        None => false,
        Some(p) if p.negated => !exempt(p, caller),
        Some(p) => p
            .entries
            .iter()
            .any(|e| e.matches(caller) != PrincipalMatch::No),
    }
}

/// What the guardrail layers say about one component, given the world's tables.
pub struct Guard<'a> {
    pub t: &'a GTables,
    pub caller: &'a Caller,
    /// The caller's world principal ARN (for the service-linked role test).
    pub role_arn: Option<&'a str>,
    /// The caller's account as a number, when it is a 12-digit id.
    pub account_number: Option<u64>,
    /// The world key of the component, if any.
    pub key_index: Option<u32>,
}

/// The per-component facts the guardrail cells are read with, found once.
struct Facts<'a> {
    /// The caller's SCP chain, when SCPs govern the caller's account (the service-linked role
    /// exemption is tested only when an SCP would decide).
    scp_chain: Option<u32>,
    /// The chain whose RCPs govern the component, likewise.
    rcp_chain: Option<u32>,
    /// The endpoint the request came through, when the world holds it with a policy.
    endpoint: Option<(u32, &'a CNamed)>,
    /// The caller class for [`Settled::ByCaller`].
    class: usize,
    /// The watched keys the request gives itself (bits of [`GTables::watched`]): statements
    /// reading one of them are evaluated.
    given: u64,
    /// Whether the caller is a service-linked role, once asked.
    linked: std::cell::Cell<Option<bool>>,
}

impl<'a> Guard<'a> {
    fn facts(&self, eval: &Eval) -> Facts<'a> {
        let t = self.t;
        let caller = self.caller;
        let service = caller.is_service();
        let account = if service {
            None
        } else {
            t.account_of(&caller.account, self.account_number)
        };
        let caller_chain = account
            .map(|a| t.account_chain[a as usize])
            .filter(|&c| c != NONE);
        let scp_chain = caller_chain.filter(|&c| t.chains[c as usize].scps);
        let rcp_chain = match eval.view.comp.key {
            _ if eval.action == actions::RETIRE_GRANT => None,
            Some(k) if k.metadata.key_manager == "AWS" => None,
            Some(k) => match self.key_index {
                Some(i) => Some(t.key_chain[i as usize]),
                None => t
                    .account_of(&k.account, intern::account_number(&k.account))
                    .map(|a| t.account_chain[a as usize]),
            }
            .filter(|&c| c != NONE),
            None if service => None,
            None => caller_chain,
        };
        let rcp_chain = rcp_chain.filter(|&c| t.chains[c as usize].rcps);
        let endpoint = if t.endpoints.is_empty() {
            None
        } else {
            self.endpoint(eval)
        };
        let mut given = 0u64;
        for (k, _) in &eval.view.request.context {
            for (bit, name) in t.watched.iter().enumerate() {
                if k.eq_ignore_ascii_case(name) {
                    given |= 1 << bit;
                }
            }
        }
        let class = match account {
            _ if service => CLASS_SERVICE,
            Some(a) => 2 + a as usize,
            None => CLASS_UNKNOWN,
        };
        Facts {
            scp_chain,
            rcp_chain,
            endpoint,
            class,
            given,
            linked: std::cell::Cell::new(None),
        }
    }

    /// Whether the caller is a service-linked role, exempt from SCPs and RCPs.
    fn linked(&self, f: &Facts) -> bool {
        match f.linked.get() {
            Some(b) => b,
            None => {
                let b = is_service_linked(self.caller, self.role_arn);
                f.linked.set(Some(b));
                b
            }
        }
    }

    fn endpoint(&self, eval: &Eval) -> Option<(u32, &'a CNamed)> {
        // The request's own aws:SourceVpce (the last spelling wins, as in the context).
        let (_, value) = eval
            .view
            .request
            .context
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case("aws:sourcevpce"))?;
        let crate::request::ContextValue::Single(id) = value else {
            return None;
        };
        let ids = &self.t.endpoint_ids;
        let i = ids[ids.binary_search_by(|(e, _)| (**e).cmp(id.as_str())).ok()?].1;
        self.t.endpoints[i as usize].as_ref().map(|p| (i, p))
    }

    /// Whether candidate `c` of `policy` applies to the component.
    fn applies(&self, eval: &Eval, f: &Facts, c: &Cand, policy: &CNamed) -> bool {
        if c.who == Who::Named && !names(policy.principals[c.stmt as usize].as_ref(), self.caller) {
            return false;
        }
        match c.settled {
            Settled::Always => true,
            Settled::ByCaller { offset, keys } if keys & f.given == 0 => {
                self.t.by_caller[offset as usize + f.class]
            }
            _ => eval.applies(
                &policy.policy.statements[c.stmt as usize],
                Layer::Identity,
                false,
            ),
        }
    }

    /// The first candidate of `span` that applies.
    fn first(
        &self,
        eval: &Eval,
        f: &Facts,
        span: Span,
        policy: impl Fn(u32) -> &'a CNamed,
    ) -> Option<Cand> {
        self.t.cands[span.range()]
            .iter()
            .find(|c| self.applies(eval, f, c, policy(c.policy)))
            .copied()
    }

    /// Whether every level of a gate has a candidate that applies.
    fn passes(
        &self,
        eval: &Eval,
        f: &Facts,
        gate: Gate,
        policy: impl Fn(u32) -> &'a CNamed + Copy,
    ) -> bool {
        match gate {
            Gate::Open => true,
            Gate::Closed => false,
            Gate::Levels(levels) => self.t.levels[levels.range()]
                .iter()
                .all(|&span| self.first(eval, f, span, policy).is_some()),
        }
    }

    /// The guardrails' verdict on a component: the first Deny of the SCPs, RCPs and the
    /// endpoint policy (session policies are checked by the caller, before these), else the
    /// missing allow of an SCP level or of the endpoint policy, else nothing.
    pub(super) fn check(&self, eval: &Eval) -> Option<Result<ReasonRef, Missing>> {
        let t = self.t;
        let f = self.facts(eval);
        let org = |p: u32| &t.org_policies[p as usize];
        let action = eval.action;
        if let Some(c) = f.scp_chain {
            let hit = self.first(eval, &f, t.cell(c, action).scp_deny, org);
            if let Some(c) = hit.filter(|_| !self.linked(&f)) {
                return Some(Ok(ReasonRef::Org {
                    policy: c.policy,
                    stmt: c.stmt,
                }));
            }
        }
        if let Some(c) = f.rcp_chain {
            let hit = self.first(eval, &f, t.cell(c, action).rcp_deny, org);
            if let Some(c) = hit.filter(|_| !self.linked(&f)) {
                return Some(Ok(ReasonRef::Org {
                    policy: c.policy,
                    stmt: c.stmt,
                }));
            }
        }
        let ep_cell = f.endpoint.map(|(e, p)| {
            (
                p,
                &t.ep_cells[e as usize * actions::ACTION_COUNT + action as usize],
            )
        });
        if let Some((p, cell)) = ep_cell {
            if let Some(c) = self.first(eval, &f, cell.deny, |_| p) {
                return Some(Ok(ReasonRef::Endpoint {
                    endpoint: c.policy,
                    stmt: c.stmt,
                }));
            }
        }
        if let Some(c) = f.scp_chain {
            let gate = t.cell(c, action).scp_gate;
            if gate != Gate::Open && !self.passes(eval, &f, gate, org) && !self.linked(&f) {
                return Some(Err(Missing::ScpAllow));
            }
        }
        if let Some((p, cell)) = ep_cell {
            if !self.passes(eval, &f, cell.gate, |_| p) {
                return Some(Err(Missing::VpcEndpointAllow));
            }
        }
        None
    }
}

/// The reason for a guardrail [`ReasonRef`].
pub fn reason(world: &World, r: &ReasonRef, request: &Request) -> Option<Reason> {
    let (source, policy, stmt) = match *r {
        ReasonRef::Org { policy, stmt } => {
            let p = &world.org_policies[policy as usize];
            let source = match p.kind {
                crate::world::OrgPolicyKind::Scp => Source::Scp {
                    policy_id: p.id.clone(),
                },
                crate::world::OrgPolicyKind::Rcp => Source::Rcp {
                    policy_id: p.id.clone(),
                },
            };
            (source, &p.policy, stmt)
        }
        ReasonRef::Endpoint { endpoint, stmt } => {
            let e = &world.vpc_endpoints[endpoint as usize];
            let source = Source::VpcEndpointPolicy {
                endpoint: e.id.clone(),
            };
            (source, e.policy.as_ref()?, stmt)
        }
        ReasonRef::Session { policy, stmt } => {
            let arn = &request.caller.arn;
            let list = match &request.session_policies {
                Some(l) => l,
                None => &world.session(arn)?.policies,
            };
            let source = Source::SessionPolicy {
                session: arn.clone(),
                policy: policy as usize,
            };
            (source, &list[policy as usize], stmt)
        }
        _ => return None,
    };
    Some(Reason {
        source,
        statement: Some(stmt as usize),
        sid: policy.statements[stmt as usize].sid.clone(),
    })
}

#[cfg(test)]
mod tests {
    //! Each kind of cell, and each way a settled cell falls back to evaluation, decided by the
    //! engine and held equal to the reference evaluator.

    use super::*;
    use crate::decision::Outcome;
    use crate::engine::Engine;
    use serde_json::{json, Value};

    const A: &str = "111122223333";
    const OUTSIDE: &str = "444455556666";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    /// Account A in organization o-abc under root r-1 and OU ou-1, FullAWSAccess attached at
    /// `full` levels, plus `policies`; a key of A whose policy allows A and the outside account;
    /// the role `app` of A allowed `kms:*`; and `endpoints`.
    fn world(full: &[&str], policies: Vec<Value>, endpoints: Value) -> Engine {
        let mut all = vec![
            json!({"Id": "p-FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY",
            "Content": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            "Targets": full}),
        ];
        all.extend(policies);
        let w = json!({
            "accounts": [{"id": A, "org_id": "o-abc", "org_paths": ["o-abc/r-1/ou-1/"]}, {"id": OUTSIDE}],
            "organizations": [{"id": "o-abc", "root": "r-1", "management_account": "999999999999"}],
            "organization_policies": all,
            "vpc_endpoints": endpoints,
            "keys": [{"arn": KEY, "policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{A}:root"), format!("arn:aws:iam::{OUTSIDE}:root")]},
                 "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}]}}],
            "principals": [
                {"arn": format!("arn:aws:iam::{A}:role/app"), "policies": [{"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]},
                {"arn": format!("arn:aws:iam::{OUTSIDE}:role/partner"), "policies": [{"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]}]
        });
        Engine::compile(World::from_value(&w, "test world").expect("loads"))
    }

    fn scp(id: &str, statement: Value, target: &str) -> Value {
        json!({"Id": id, "Type": "SERVICE_CONTROL_POLICY",
            "Content": {"Version": "2012-10-17", "Statement": [statement]}, "Targets": [target]})
    }

    /// Decides `request` with the engine, checks the reference evaluator agrees, and returns
    /// the outcome.
    fn decide(engine: &Engine, request: Value) -> Outcome {
        let (r, _) = Request::from_value(&request).expect("request");
        let got = engine.decide(&r);
        let want = crate::reference::evaluate(engine.world(), &r);
        assert_eq!(got, want, "{request}");
        got.outcome
    }

    fn req(principal: &str, action: &str, context: Value) -> Value {
        json!({"principal": principal, "action": action, "resource": KEY, "context": context})
    }

    const APP: &str = "arn:aws:sts::111122223333:assumed-role/app/s";
    const PARTNER: &str = "arn:aws:sts::444455556666:assumed-role/partner/s";

    fn cell(e: &Engine, action: &str) -> Cell {
        let t = &e.guards;
        let a = t
            .account_of(A, intern::account_number(A))
            .expect("account A");
        let c = t.account_chain[a as usize];
        *t.cell(c, actions::by_name(action).expect("action"))
    }

    fn cands(e: &Engine, span: Span) -> Vec<Settled> {
        e.guards.cands[span.range()]
            .iter()
            .map(|c| c.settled)
            .collect()
    }

    #[test]
    fn an_unconditional_deny_is_settled_and_an_open_chain_skips_the_gate() {
        let e = world(
            &["r-1", "ou-1", A],
            vec![scp(
                "p-nodelete",
                json!({"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}),
                "ou-1",
            )],
            json!([]),
        );
        let c = cell(&e, "ScheduleKeyDeletion");
        assert_eq!(cands(&e, c.scp_deny), vec![Settled::Always]);
        assert_eq!(c.scp_gate, Gate::Open);
        assert_eq!(cell(&e, "Decrypt").scp_deny.len, 0);
        assert_eq!(
            decide(&e, req(APP, "kms:ScheduleKeyDeletion", json!({}))),
            Outcome::ExplicitDeny
        );
        assert_eq!(
            decide(&e, req(APP, "kms:Decrypt", json!({}))),
            Outcome::Allow
        );
    }

    #[test]
    fn a_deny_on_the_callers_organization_is_settled_per_caller_and_evaluated_when_the_request_gives_the_key(
    ) {
        let perimeter = json!({"Id": "p-perimeter", "Type": "RESOURCE_CONTROL_POLICY",
            "Content": {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
                "Action": "kms:*", "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"},
                              "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]},
            "Targets": ["r-1"]});
        let e = world(&["r-1", "ou-1", A], vec![perimeter], json!([]));
        let c = cell(&e, "Decrypt");
        assert!(matches!(
            cands(&e, c.rcp_deny)[..],
            [Settled::ByCaller { .. }]
        ));
        assert_eq!(
            decide(&e, req(APP, "kms:Decrypt", json!({}))),
            Outcome::Allow
        );
        assert_eq!(
            decide(&e, req(PARTNER, "kms:Decrypt", json!({}))),
            Outcome::ExplicitDeny
        );
        assert_eq!(
            decide(&e, req("logs.amazonaws.com", "kms:Decrypt", json!({}))),
            Outcome::Allow
        );
        // A request giving a caller key itself is evaluated: the value keyward derives passes
        // the claim check, a contradicting one is a claim keyward does not believe, and where
        // keyward derives none (an account outside the organization) the request's value counts.
        for (who, ctx, want) in [
            (APP, json!({"aws:PrincipalOrgID": "o-abc"}), Outcome::Allow),
            (
                APP,
                json!({"aws:PrincipalOrgID": "o-other"}),
                Outcome::ImplicitDeny,
            ),
            (
                PARTNER,
                json!({"aws:principalisawsservice": "false"}),
                Outcome::ExplicitDeny,
            ),
            (
                PARTNER,
                json!({"aws:principalorgid": "o-abc"}),
                Outcome::Allow,
            ),
        ] {
            assert_eq!(
                decide(&e, req(who, "kms:Decrypt", ctx.clone())),
                want,
                "{ctx}"
            );
        }
    }

    #[test]
    fn conditional_notaction_and_resource_statements_are_evaluated() {
        let e = world(
            &["r-1", "ou-1", A],
            vec![
                scp(
                    "p-region",
                    json!({"Effect": "Deny", "NotAction": ["kms:Decrypt"], "Resource": "*",
                        "Condition": {"StringEquals": {"aws:RequestedRegion": "ap-south-2"}}}),
                    "r-1",
                ),
                scp(
                    "p-key",
                    json!({"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "arn:aws:kms:*:*:key/k1"}),
                    A,
                ),
            ],
            json!([]),
        );
        assert_eq!(
            cell(&e, "Decrypt").scp_deny.len,
            0,
            "NotAction leaves Decrypt out"
        );
        // The region deny reads a key only requests give: settled, and evaluated when the
        // request gives it. The key deny names a resource pattern: evaluated.
        assert!(matches!(
            cands(&e, cell(&e, "Encrypt").scp_deny)[..],
            [Settled::ByCaller { .. }, Settled::Eval]
        ));
        let region = json!({"aws:RequestedRegion": "ap-south-2"});
        assert_eq!(
            decide(&e, req(APP, "kms:GenerateDataKey", region.clone())),
            Outcome::ExplicitDeny
        );
        assert_eq!(decide(&e, req(APP, "kms:Decrypt", region)), Outcome::Allow);
        assert_eq!(
            decide(&e, req(APP, "kms:GenerateDataKey", json!({}))),
            Outcome::Allow
        );
        assert_eq!(
            decide(&e, req(APP, "kms:Encrypt", json!({}))),
            Outcome::ExplicitDeny
        );
    }

    #[test]
    fn a_level_without_fullawsaccess_needs_its_own_allow() {
        // FullAWSAccess detached from ou-1, which allows Decrypt outright and Encrypt with MFA.
        let e = world(
            &["r-1", A],
            vec![
                scp(
                    "p-decrypt",
                    json!({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}),
                    "ou-1",
                ),
                scp(
                    "p-encrypt",
                    json!({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
                        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}),
                    "ou-1",
                ),
            ],
            json!([]),
        );
        assert_eq!(cell(&e, "Decrypt").scp_gate, Gate::Open);
        assert_eq!(cell(&e, "GenerateDataKey").scp_gate, Gate::Closed);
        let Gate::Levels(levels) = cell(&e, "Encrypt").scp_gate else {
            panic!("Encrypt needs evaluation")
        };
        assert_eq!(levels.len, 1, "only ou-1");
        assert_eq!(
            decide(&e, req(APP, "kms:Decrypt", json!({}))),
            Outcome::Allow
        );
        assert_eq!(
            decide(&e, req(APP, "kms:GenerateDataKey", json!({}))),
            Outcome::ImplicitDeny
        );
        assert_eq!(
            decide(
                &e,
                req(
                    APP,
                    "kms:Encrypt",
                    json!({"aws:MultiFactorAuthPresent": "true"})
                )
            ),
            Outcome::Allow
        );
        assert_eq!(
            decide(&e, req(APP, "kms:Encrypt", json!({}))),
            Outcome::ImplicitDeny
        );
        // The outside account has no chain; the management account's SCPs do not apply.
        assert_eq!(
            decide(&e, req(PARTNER, "kms:GenerateDataKey", json!({}))),
            Outcome::Allow
        );
    }

    #[test]
    fn endpoint_cells_settle_what_they_can_and_name_callers_per_request() {
        let e = world(
            &["r-1", "ou-1", A],
            vec![],
            json!([
                {"VpcEndpointId": "vpce-1", "VpcId": "vpc-1", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
                    {"Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}},
                    {"Effect": "Allow", "Principal": {"AWS": OUTSIDE}, "Action": "kms:GenerateDataKey", "Resource": "*"},
                    {"Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}]}},
                {"VpcEndpointId": "vpce-2", "VpcId": "vpc-1"}
            ]),
        );
        let t = &e.guards;
        let ep = |action: &str| t.ep_cells[actions::by_name(action).expect("action") as usize];
        assert_eq!(ep("Decrypt").gate, Gate::Open);
        assert_eq!(ep("DescribeKey").gate, Gate::Closed);
        let Gate::Levels(l) = ep("Encrypt").gate else {
            panic!("Encrypt is settled per caller")
        };
        let level = t.levels[l.start as usize];
        assert!(matches!(
            t.cands[level.range()][0].settled,
            Settled::ByCaller { .. }
        ));
        let Gate::Levels(l) = ep("GenerateDataKey").gate else {
            panic!("GenerateDataKey names a principal")
        };
        let level = t.levels[l.start as usize];
        assert_eq!(t.cands[level.range()][0].who, Who::Named);
        assert_eq!(
            cands(&e, ep("ScheduleKeyDeletion").deny),
            vec![Settled::Always]
        );

        let through = |e: &str| json!({"aws:SourceVpce": e});
        for (who, action, vpce, want) in [
            (APP, "kms:Decrypt", "vpce-1", Outcome::Allow),
            (APP, "kms:DescribeKey", "vpce-1", Outcome::ImplicitDeny),
            (APP, "kms:Encrypt", "vpce-1", Outcome::Allow),
            (PARTNER, "kms:Encrypt", "vpce-1", Outcome::ImplicitDeny),
            (PARTNER, "kms:GenerateDataKey", "vpce-1", Outcome::Allow),
            (APP, "kms:GenerateDataKey", "vpce-1", Outcome::ImplicitDeny),
            (
                APP,
                "kms:ScheduleKeyDeletion",
                "vpce-1",
                Outcome::ExplicitDeny,
            ),
            (APP, "kms:ScheduleKeyDeletion", "vpce-2", Outcome::Allow),
            (APP, "kms:DescribeKey", "vpce-3", Outcome::Allow),
        ] {
            assert_eq!(
                decide(&e, req(who, action, through(vpce))),
                want,
                "{who} {action} {vpce}"
            );
        }
        // The request's own aws:PrincipalOrgID is evaluated, not the settled answer.
        assert_eq!(
            decide(
                &e,
                req(
                    APP,
                    "kms:Encrypt",
                    json!({"aws:SourceVpce": "vpce-1", "aws:PrincipalOrgID": "o-abc"})
                )
            ),
            Outcome::Allow
        );
        assert_eq!(
            decide(
                &e,
                req(
                    APP,
                    "kms:Encrypt",
                    json!({"aws:SourceVpce": "vpce-1", "aws:PrincipalOrgID": "o-x"})
                )
            ),
            Outcome::ImplicitDeny
        );
    }
}
