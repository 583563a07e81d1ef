//! The compiled engine: the fast path every user-facing command decides with. An [`Engine`] is an
//! immutable snapshot of a world compiled into decision tables ([`compile`]); [`LiveEngine`]
//! holds the current one behind an atomic pointer so a reload never blocks a reader.
//!
//! A check resolves the request's strings to ids without allocating (a string the world never
//! mentions resolves to "unknown" and can still match `*` and conditions), picks candidate
//! statements with bit operations over the per-action and per-principal masks, and evaluates
//! conditions for those alone. Every decision must equal the reference evaluator's, outcome and
//! reasons; `tests/differential.rs` holds them equal on random worlds and requests.

pub(crate) mod compile;
pub(crate) mod cond;
pub(crate) mod guardrails;
pub(crate) mod intern;
pub(crate) mod live;
pub(crate) mod view;

use crate::actions::{self, ActionId, ResourceKind};
use crate::arn::{hierarchy, Caller, CallerKind, PrincipalEntry, PrincipalMatch};
use crate::context::{self, ComponentKind, Layer};
use crate::decision::{Decision, Outcome, Reason, Source};
use crate::policy::{Effect, Principals};
use crate::request::{Request, RequestAction};
use crate::world::{has_pair, Grant, Key, World};
use compile::{CPolicy, CStatement, Tables};
use intern::{TokenId, TokenKind};
use smallvec::SmallVec;
use std::time::SystemTime;
use view::{ComponentRef, View};

pub use live::{Installed, LiveEngine};

/// A world compiled for fast decisions. Immutable once built; its decisions equal
/// [`crate::reference::evaluate`]'s.
///
/// ```
/// use keyward::{Engine, Outcome, Request, World};
///
/// let engine = Engine::compile(World::load("corpus/default/world.json")?);
/// let (request, _) = Request::from_json(r#"{"principal": "arn:aws:sts::111122223333:assumed-role/app-web/i-0fedcba9876543210",
///     "action": "kms:Decrypt", "encryption_context": {"app": "web"},
///     "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#)?;
/// assert_eq!(engine.decide(&request).outcome, Outcome::Allow);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Engine {
    world: World,
    tables: Tables,
    guards: guardrails::GTables,
    /// When this snapshot was compiled.
    pub loaded_at: SystemTime,
}

/// What decided a request, as indexes into the engine's tables (turned into [`Reason`]s only
/// when someone reads them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReasonRef {
    /// Statement `stmt` of the policy of key `key`.
    KeyStatement { key: u32, stmt: u32 },
    /// Flattened identity statement `stmt` of world principal `principal`.
    Identity { principal: u32, stmt: u32 },
    /// Statement `stmt` of the permissions boundary of `principal`.
    Boundary { principal: u32, stmt: u32 },
    /// Grant number `grant` of the world.
    Grant(u32),
    /// The caller is its account's root user.
    RootUser,
    /// Statement `stmt` of organization policy `policy` (an SCP or RCP) of the world.
    Org { policy: u32, stmt: u32 },
    /// Statement `stmt` of the policy of the world's VPC endpoint number `endpoint`.
    Endpoint { endpoint: u32, stmt: u32 },
    /// Statement `stmt` of session policy number `policy` of the caller's session.
    Session { policy: u32, stmt: u32 },
}

/// A decision in compact form: what the hot path returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reasons: SmallVec<[ReasonRef; 2]>,
    pub key_state_error: Option<&'static str>,
    /// An allowed PutKeyPolicy whose new policy fails the lockout safety check.
    pub lockout: bool,
}

impl Verdict {
    fn deny(outcome: Outcome) -> Verdict {
        Verdict {
            outcome,
            reasons: SmallVec::new(),
            key_state_error: None,
            lockout: false,
        }
    }
}

/// A request's strings resolved against the tables: the caller's principal tokens and the
/// world principal holding its identity policies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resolved {
    exact: Option<TokenId>,
    role: Option<TokenId>,
    account: Option<TokenId>,
    principal: Option<u32>,
    /// The key of a single-key request, and whether it was named by an alias.
    key: Option<(u32, bool)>,
    /// The caller's account as a number ([`intern::account_number`]), so the cross-account
    /// test compares two integers instead of two strings held elsewhere in memory.
    account_number: Option<u64>,
}

/// The caller side of a check.
struct CallerCtx<'a> {
    caller: &'a Caller,
    res: Resolved,
}

impl Engine {
    /// Compiles a world.
    pub fn compile(world: World) -> Engine {
        let tables = compile::compile(&world);
        let guards = guardrails::compile(&world);
        Engine {
            world,
            tables,
            guards,
            loaded_at: SystemTime::now(),
        }
    }

    /// The world this snapshot was compiled from.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Heap bytes of the compiled tables (an estimate; the world the engine was compiled from is
    /// not counted).
    pub fn table_bytes(&self) -> usize {
        self.tables.heap_bytes()
    }

    /// Number of distinct principal tokens the policies mention.
    pub fn token_count(&self) -> usize {
        self.tables.names.len()
    }

    /// Decides a request, with owned reasons.
    pub fn decide(&self, request: &Request) -> Decision {
        let v = self.check(request);
        self.to_decision(&v, request)
    }

    /// Turns a verdict into a decision with owned reasons.
    pub fn to_decision(&self, v: &Verdict, request: &Request) -> Decision {
        Decision {
            outcome: v.outcome,
            reasons: v.reasons.iter().map(|r| self.reason(r, request)).collect(),
            key_state_error: v.key_state_error.map(str::to_owned),
            operation_error: v
                .lockout
                .then(|| crate::reference::LOCKOUT_ERROR.to_owned()),
        }
    }

    /// The reason a [`ReasonRef`] stands for.
    pub fn reason(&self, r: &ReasonRef, request: &Request) -> Reason {
        let t = &self.tables;
        match *r {
            ReasonRef::KeyStatement { key, stmt } => t.keys[key as usize]
                .policy
                .as_ref()
                .expect("decided by it")
                .cold[stmt as usize]
                .reason
                .clone(),
            ReasonRef::Identity { principal, stmt } => {
                t.identities[principal as usize].policies.cold[stmt as usize]
                    .reason
                    .clone()
            }
            ReasonRef::Boundary { principal, stmt } => t.identities[principal as usize]
                .boundary
                .as_ref()
                .expect("decided by it")
                .cold[stmt as usize]
                .reason
                .clone(),
            ReasonRef::Grant(g) => {
                let g = &self.world.grants[g as usize];
                Reason {
                    source: Source::Grant {
                        key: g.key.clone(),
                        grant_id: g.grant_id.clone(),
                    },
                    statement: None,
                    sid: None,
                }
            }
            ReasonRef::RootUser => Reason {
                source: Source::RootUser {
                    account: request.caller.account.clone(),
                },
                statement: None,
                sid: None,
            },
            ReasonRef::Org { .. } | ReasonRef::Endpoint { .. } | ReasonRef::Session { .. } => {
                guardrails::reason(&self.world, r, request).expect("decided by it")
            }
        }
    }

    /// Resolves a request's strings to ids, without allocating.
    pub fn resolve(&self, request: &Request) -> Resolved {
        let t = &self.tables;
        let c = &request.caller;
        let n = &t.names;
        // One lookup for the caller's own name, one for its role, one for its account.
        let (exact, own_principal) = match c.kind {
            CallerKind::User { .. } | CallerKind::Root | CallerKind::Role { .. } => {
                let e = n.arn(&c.arn);
                (e.token, e.principal)
            }
            CallerKind::AssumedRole { .. } | CallerKind::FederatedUser { .. } => {
                let token = strip_partition(&c.arn).and_then(|s| n.sts_token(s));
                let principal = if n.sts_principals {
                    n.arn(&c.arn).principal
                } else {
                    None
                };
                (token, principal)
            }
            CallerKind::Service { ref name } => (n.service(name), None),
        };
        let account_number = intern::account_number(&c.account);
        let role_entry = c
            .role_name()
            .map(|name| n.role(&c.account, account_number, name))
            .unwrap_or_default();
        let account = if c.is_service() {
            None
        } else {
            n.account(&c.account, account_number)
        };
        let role = role_entry.token;
        let principal = own_principal.or(role_entry.principal);
        let key = match request.action {
            RequestAction::One(a) if actions::info(a).resource == ResourceKind::Key => {
                match t.key_by_arn.get(&request.resource) {
                    Some(k) => Some((k, false)),
                    None => t
                        .key_by_alias_arn
                        .get(request.resource.as_str())
                        .map(|&k| (k, true)),
                }
            }
            _ => None,
        };
        Resolved {
            exact,
            role,
            account,
            principal,
            key,
            account_number,
        }
    }

    /// Decides a request: resolve, then check.
    pub fn check(&self, request: &Request) -> Verdict {
        self.check_resolved(request, &self.resolve(request))
    }

    /// Decides a request whose strings were resolved by [`Engine::resolve`].
    pub fn check_resolved(&self, request: &Request, res: &Resolved) -> Verdict {
        let cc = CallerCtx {
            caller: &request.caller,
            res: *res,
        };
        let plain = !context::claims_derived_facts(request);
        if let (RequestAction::One(action), Some((k, by_alias)), true) =
            (request.action, res.key, plain)
        {
            // The common case: one action on one key, with no derived key claimed by the request.
            let key = &self.world.keys[k as usize];
            if !request.caller.is_service() && key.partition != request.caller.partition {
                // Never across partitions (`context::components` says why).
                return Verdict::deny(Outcome::ImplicitDeny);
            }
            let info = actions::info(action);
            let alias = if by_alias && info.request_alias {
                crate::arn::split_arn(&request.resource).map(|p| p[5])
            } else {
                None
            };
            let comp = ComponentRef {
                action,
                key: Some(key),
                encryption_context: &request.encryption_context,
                request_alias: alias,
                same_key: (action == actions::RE_ENCRYPT_FROM || action == actions::RE_ENCRYPT_TO)
                    .then_some(false),
            };
            // Named by its ARN, the key's ARN is the request's resource string, already in cache.
            let resource = if by_alias {
                &key.arn
            } else {
                &request.resource
            };
            let mut v = self.component(request, &cc, comp, Some(k), resource);
            v.key_state_error = self.key_state_error(action, k);
            if action == actions::PUT_KEY_POLICY
                && request.policy.is_some()
                && v.outcome == Outcome::Allow
            {
                // Rare and off the hot path: the reference evaluator runs the lockout check.
                v.lockout = context::components(&self.world, request)
                    .is_ok_and(|c| crate::reference::lockout(&self.world, request, &c));
            }
            return v;
        }
        self.check_components(request, &cc)
    }

    /// Requests with several components, resourceless actions and alias operations.
    fn check_components(&self, request: &Request, cc: &CallerCtx) -> Verdict {
        let comps = match context::components(&self.world, request) {
            Ok(c) => c,
            Err(_) => return Verdict::deny(Outcome::ImplicitDeny),
        };
        let mut results: SmallVec<[Verdict; 3]> = SmallVec::new();
        for c in &comps {
            let key_index = c.key.and_then(|k| self.tables.key_by_arn.get(&k.arn));
            let comp = ComponentRef {
                action: c.action,
                key: c.key,
                encryption_context: c.encryption_context,
                request_alias: c.request_alias.as_deref(),
                same_key: c.same_key,
            };
            debug_assert!(c.kind != ComponentKind::Key || key_index.is_some());
            results.push(self.component(request, cc, comp, key_index, &c.resource));
        }
        let key_state = comps
            .iter()
            .find_map(|c| self.key_state_error(c.action, self.tables.key_by_arn.get(&c.key?.arn)?));
        let mut v = if let Some(r) = results.iter().find(|r| r.outcome == Outcome::ExplicitDeny) {
            r.clone()
        } else if let Some(r) = results.iter().find(|r| r.outcome == Outcome::ImplicitDeny) {
            r.clone()
        } else {
            let mut reasons: SmallVec<[ReasonRef; 2]> = SmallVec::new();
            for r in results.iter().flat_map(|r| &r.reasons) {
                if !reasons.contains(r) {
                    reasons.push(*r);
                }
            }
            Verdict {
                outcome: Outcome::Allow,
                reasons,
                key_state_error: None,
                lockout: false,
            }
        };
        v.key_state_error = key_state;
        v
    }

    /// One component, as docs/semantics.md §7.10 `authorize_component`.
    fn component(
        &self,
        request: &Request,
        cc: &CallerCtx,
        comp: ComponentRef,
        key_index: Option<u32>,
        resource: &str,
    ) -> Verdict {
        let info = actions::info(comp.action);
        let caller = cc.caller;
        let cross = comp.key.is_some_and(|k| {
            !caller.is_service()
                && match (
                    cc.res.account_number,
                    key_index.and_then(|i| self.tables.keys[i as usize].account),
                ) {
                    (Some(caller_number), Some(key_number)) => caller_number != key_number,
                    _ => caller.account != k.account,
                }
        });
        if cross && !info.cross_account {
            return Verdict::deny(Outcome::ImplicitDeny);
        }
        let principal = cc.res.principal;
        let view = View {
            world: &self.world,
            request,
            caller,
            principal: principal.map(|p| &self.world.principals[p as usize]),
            comp,
        };
        let identity = principal.map(|p| &self.tables.identities[p as usize]);
        let key_policy = key_index.and_then(|k| self.tables.keys[k as usize].policy.as_ref());
        let eval = Eval {
            view: &view,
            action: comp.action,
            resource,
            key: key_index.map(|k| &self.tables.keys[k as usize]),
            parts: std::cell::OnceCell::new(),
        };

        // Explicit deny anywhere wins (§7.3).
        if let (Some(k), Some(policy)) = (key_index, key_policy) {
            if let Some(s) = eval.first_key_policy_deny(policy, cc) {
                return one(
                    Outcome::ExplicitDeny,
                    ReasonRef::KeyStatement { key: k, stmt: s },
                );
            }
        }
        let (identity_deny, identity_allow) = match identity {
            Some(id) => eval.scan(&id.policies, !caller.is_root()),
            None => (None, None),
        };
        if let (Some(p), Some(id)) = (principal, identity) {
            if let Some(s) = identity_deny {
                return one(
                    Outcome::ExplicitDeny,
                    ReasonRef::Identity {
                        principal: p,
                        stmt: s,
                    },
                );
            }
            if let Some(s) = id
                .boundary
                .as_ref()
                .and_then(|b| eval.first(b, Effect::Deny))
            {
                return one(
                    Outcome::ExplicitDeny,
                    ReasonRef::Boundary {
                        principal: p,
                        stmt: s,
                    },
                );
            }
        }

        // Session policies and the guardrail layers (docs/guardrails.md).
        let sessions = guardrails::SessionPolicies::of(&self.guards, request);
        if let Some(r) = sessions.deny(&eval) {
            return one(Outcome::ExplicitDeny, r);
        }
        if self.guards.any {
            let guard = guardrails::Guard {
                t: &self.guards,
                caller,
                role_arn: view.principal.map(|p| p.arn.as_str()),
                account_number: cc.res.account_number,
                key_index,
            };
            match guard.check(&eval) {
                Some(Ok(r)) => return one(Outcome::ExplicitDeny, r),
                Some(Err(_)) => return Verdict::deny(Outcome::ImplicitDeny),
                None => {}
            }
        }

        // The identity side: root is not governed by identity policies. The permissions
        // boundary and the session policies both limit it.
        let mut boundary_ok: Option<bool> = None;
        let mut boundary = || {
            *boundary_ok.get_or_insert_with(|| {
                identity
                    .and_then(|id| id.boundary.as_ref())
                    .is_none_or(|b| eval.first(b, Effect::Allow).is_some())
                    && sessions.allows(&eval, caller)
            })
        };
        let iam: Option<ReasonRef> = if caller.is_root() {
            Some(ReasonRef::RootUser)
        } else {
            match (principal, identity_allow) {
                (Some(p), Some(s)) if boundary() => Some(ReasonRef::Identity {
                    principal: p,
                    stmt: s,
                }),
                _ => None,
            }
        };
        let (Some(key), Some(k)) = (comp.key, key_index) else {
            return match iam {
                Some(r) => one(Outcome::Allow, r),
                None => Verdict::deny(Outcome::ImplicitDeny),
            };
        };
        if comp.action == actions::RETIRE_GRANT {
            return self.retire_grant(request, key, caller, iam);
        }
        let Some(policy) = key_policy else {
            return Verdict::deny(Outcome::ImplicitDeny);
        };
        let (direct, delegated) = eval.key_policy_allows(policy, cc, &mut boundary);
        let kp = |s: u32| ReasonRef::KeyStatement { key: k, stmt: s };
        if !cross {
            // Same account (§7.4): a direct key-policy allow suffices; a delegated one needs IAM.
            match (direct, delegated, iam) {
                (Some(d), _, _) => return one(Outcome::Allow, kp(d)),
                (None, Some(d), Some(i)) => return two(kp(d), i),
                _ => {}
            }
        } else if let (Some(d), Some(i)) = (direct.or(delegated), iam) {
            // Cross account (§7.6): the key side and the caller's IAM side.
            return two(kp(d), i);
        }
        match self.grant_allows(&eval, k, cc, iam.is_some()) {
            Some(g) => one(Outcome::Allow, ReasonRef::Grant(g)),
            None => Verdict::deny(Outcome::ImplicitDeny),
        }
    }

    /// The key-state error a cryptographic operation (or CreateGrant) meets on key `k` when it
    /// is not enabled (docs/semantics.md §5 rule 6).
    fn key_state_error(&self, action: ActionId, k: u32) -> Option<&'static str> {
        let info = actions::info(action);
        if info.cryptographic || action == actions::CREATE_GRANT {
            self.tables.keys[k as usize].state_error
        } else {
            None
        }
    }

    /// The first grant on key `k` that allows the component (docs/semantics.md §7.5.2).
    fn grant_allows(&self, eval: &Eval, k: u32, cc: &CallerCtx, iam_allows: bool) -> Option<u32> {
        let info = actions::info(eval.action);
        if !info.grant_op {
            return None;
        }
        let by_token = &self.tables.keys[k as usize].grants_by_token;
        if by_token.is_empty() {
            return None;
        }
        let root = cc.caller.is_root();
        let mut candidates: SmallVec<[u32; 8]> = SmallVec::new();
        for (token, role_or_exact) in [
            (cc.res.exact, true),
            (cc.res.role, true),
            (cc.res.account, false),
        ] {
            let Some(t) = token else { continue };
            if let Ok(i) = by_token.binary_search_by_key(&t, |x| x.0) {
                let (_, kind, grants) = &by_token[i];
                // An account grantee: the root user directly, other principals with an IAM allow.
                if role_or_exact || *kind != TokenKind::Account || root || iam_allows {
                    candidates.extend_from_slice(grants);
                }
            }
        }
        candidates.sort_unstable();
        candidates.into_iter().find(|&g| {
            let grant = &self.world.grants[g as usize];
            grant.operations.iter().any(|op| op == info.name)
                && grant_constraints_hold(grant, eval.view)
        })
    }

    /// RetireGrant (docs/semantics.md §7.5.4): the grant decides, not the key policy.
    fn retire_grant(
        &self,
        request: &Request,
        key: &Key,
        caller: &Caller,
        iam: Option<ReasonRef>,
    ) -> Verdict {
        let Some(id) = request.grant_id.as_deref() else {
            return Verdict::deny(Outcome::ImplicitDeny);
        };
        let Some((g, grant)) = self
            .world
            .grants
            .iter()
            .enumerate()
            .find(|(_, g)| g.key == key.arn && g.grant_id == id)
        else {
            return Verdict::deny(Outcome::ImplicitDeny);
        };
        let gr = ReasonRef::Grant(g as u32);
        let with_iam = || match iam {
            Some(i) if i != ReasonRef::RootUser => two(gr, i),
            _ => one(Outcome::Allow, gr),
        };
        let allowed_by = |e: &PrincipalEntry| match e.matches(caller) {
            PrincipalMatch::Direct | PrincipalMatch::DirectRole => Some(false),
            PrincipalMatch::AccountDelegation if iam.is_some() => Some(true),
            _ => None,
        };
        let by_retiring = grant.retiring.as_ref().and_then(allowed_by);
        let by_grantee = if grant.operations.iter().any(|op| op == "RetireGrant") {
            allowed_by(&grant.grantee)
        } else {
            None
        };
        match by_retiring.or(by_grantee) {
            Some(false) => one(Outcome::Allow, gr),
            Some(true) => with_iam(),
            None if !caller.is_service()
                && caller.account == grant.issuing_account
                && iam.is_some() =>
            {
                with_iam()
            }
            None => Verdict::deny(Outcome::ImplicitDeny),
        }
    }
}

fn one(outcome: Outcome, r: ReasonRef) -> Verdict {
    let mut reasons = SmallVec::new();
    reasons.push(r);
    Verdict {
        outcome,
        reasons,
        key_state_error: None,
        lockout: false,
    }
}

fn two(a: ReasonRef, b: ReasonRef) -> Verdict {
    let mut reasons = SmallVec::new();
    reasons.push(a);
    reasons.push(b);
    Verdict {
        outcome: Outcome::Allow,
        reasons,
        key_state_error: None,
        lockout: false,
    }
}

/// `arn:PARTITION:REST` → `REST`.
fn strip_partition(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    rest.split_once(':').map(|(_, r)| r)
}

fn grant_constraints_hold(g: &Grant, view: &View) -> bool {
    let action = view.comp.action;
    let info = actions::info(action);
    let c = &g.constraints;
    if let Some(arn) = &c.source_arn {
        if view.single("aws:sourcearn", Layer::Identity).as_deref() != Some(arn.as_str()) {
            return false;
        }
    }
    let ec = view.comp.encryption_context;
    if action == actions::CREATE_GRANT {
        // The child grant must be within the parent (docs/semantics.md §7.5.3).
        let ops: SmallVec<[&str; 4]> = match view.get_named("kms:grantoperations", Layer::Identity)
        {
            Some(view::Val::Many(m)) => (0..m.len()).map(|i| m.get(i)).collect(),
            Some(view::Val::One(s)) => {
                return g.operations.iter().any(|op| *op == *s) && child_constraints(g, view, ec)
            }
            None => SmallVec::new(),
        };
        return !ops.is_empty()
            && ops.iter().all(|op| g.operations.iter().any(|p| p == op))
            && child_constraints(g, view, ec);
    }
    if !info.takes_encryption_context {
        return true;
    }
    c.accepts_context(ec)
}

fn child_constraints(parent: &Grant, view: &View, child: &[(String, String)]) -> bool {
    let child_type = view.single("kms:grantconstrainttype", Layer::Identity);
    let within = |s: &[(String, String)]| s.iter().all(|(k, v)| has_pair(child, k, v));
    match (&parent.constraints.equals, &parent.constraints.subset) {
        (Some(e), _) => {
            child_type.as_deref() == Some("EncryptionContextEquals")
                && e.len() == child.len()
                && within(e)
        }
        (None, Some(s)) => {
            matches!(
                child_type.as_deref(),
                Some("EncryptionContextEquals" | "EncryptionContextSubset")
            ) && within(s)
        }
        (None, None) => true,
    }
}

/// Evaluation of compiled policies for one component.
struct Eval<'a> {
    view: &'a View<'a>,
    action: ActionId,
    resource: &'a str,
    /// The key whose ARN is the resource (its parts are precomputed), if any.
    key: Option<&'a compile::CKey>,
    /// The resource split into its ARN parts, once per component and only when a pattern needs it.
    parts: std::cell::OnceCell<Option<[&'a str; 6]>>,
}

impl<'a> Eval<'a> {
    /// The resource's ARN parts.
    fn parts(&self) -> Option<&[&'a str; 6]> {
        self.parts
            .get_or_init(|| match self.key {
                Some(k) => Some(k.parts(self.resource)),
                None => crate::arn::split_arn(self.resource),
            })
            .as_ref()
    }

    /// Whether a candidate statement applies: its resource (unless it was matched at compile
    /// time) and its conditions.
    fn applies(&self, st: &CStatement, layer: Layer, static_resource: bool) -> bool {
        let resource_ok = if st.resource.is_dynamic() {
            st.resource.matches(
                self.resource,
                || self.parts(),
                |t| cond::resource_glob(t, self.view, layer),
            )
        } else {
            static_resource
                || st
                    .resource
                    .matches(self.resource, || self.parts(), |_| None)
        };
        if !resource_ok {
            return false;
        }
        if st.conditions.is_empty() {
            return true;
        }
        if st.reads_resource_aliases && layer == Layer::Identity && self.view.aliases_over_quota() {
            return st.effect == Effect::Deny;
        }
        st.conditions.iter().all(|c| c.holds(self.view, layer))
    }

    /// For identity policies and boundaries: the first Deny and the first Allow statement that
    /// apply, in policy order (the scan stops at the first Deny, which wins).
    fn scan(&self, policy: &CPolicy, want_allow: bool) -> (Option<u32>, Option<u32>) {
        let a = self.action;
        let mut allow = None;
        for (i, h) in policy.hot.iter().enumerate() {
            if !h.actions.contains(a) {
                continue;
            }
            let deny = h.effect == Effect::Deny;
            if !deny && (allow.is_some() || !want_allow) {
                continue;
            }
            if self.applies(&policy.statements[i], Layer::Identity, false) {
                if deny {
                    return (Some(i as u32), allow);
                }
                allow = Some(i as u32);
            }
        }
        (None, allow)
    }

    /// The first statement of `effect` that applies (boundaries).
    fn first(&self, policy: &CPolicy, effect: Effect) -> Option<u32> {
        let a = self.action;
        policy.hot.iter().enumerate().find_map(|(i, h)| {
            (h.effect == effect
                && h.actions.contains(a)
                && self.applies(&policy.statements[i], Layer::Identity, false))
            .then_some(i as u32)
        })
    }

    /// The statements of `mask` (in chunk `base`) that can apply to this action with `effect`.
    fn with_action(&self, policy: &CPolicy, base: u32, mut mask: u64, effect: Effect) -> u64 {
        let mut out = 0;
        while mask != 0 {
            let bit = mask & mask.wrapping_neg();
            mask &= mask - 1;
            let h = policy.hot[(base + bit.trailing_zeros()) as usize];
            if h.effect == effect && h.actions.contains(self.action) {
                out |= bit;
            }
        }
        out
    }

    /// NotPrincipal statements in `mask` that apply to the caller (it is not exempt).
    fn not_principal_hits(
        &self,
        policy: &CPolicy,
        base: u32,
        mut mask: u64,
        caller: &Caller,
    ) -> u64 {
        let mut hits = 0;
        while mask != 0 {
            let bit = mask & mask.wrapping_neg();
            mask &= mask - 1;
            let st = &policy.cold[(base + bit.trailing_zeros()) as usize];
            if st
                .not_principal
                .as_ref()
                .is_some_and(|p| !exempt(p, caller))
            {
                hits |= bit;
            }
        }
        hits
    }

    /// The first key-policy Deny statement that names the caller at any level and applies.
    fn first_key_policy_deny(&self, policy: &CPolicy, cc: &CallerCtx) -> Option<u32> {
        for chunk in &policy.chunks {
            let named = chunk.star
                | chunk.token_mask(cc.res.exact)
                | chunk.token_mask(cc.res.role)
                | chunk.token_mask(cc.res.account)
                | chunk.not_principal;
            let mut m = self.with_action(policy, chunk.base, named, Effect::Deny);
            if m & chunk.not_principal != 0 {
                m = (m & !chunk.not_principal)
                    | self.not_principal_hits(
                        policy,
                        chunk.base,
                        m & chunk.not_principal,
                        cc.caller,
                    );
            }
            while m != 0 {
                let i = chunk.base + m.trailing_zeros();
                m &= m - 1;
                if self.applies(&policy.statements[i as usize], Layer::KeyPolicy, true) {
                    return Some(i);
                }
            }
        }
        None
    }

    /// The first key-policy Allow matching the caller directly, and the first matching it
    /// through its account (docs/semantics.md §2.1, §7.4); a role-ARN match counts as direct only when the
    /// permissions boundary allows.
    fn key_policy_allows(
        &self,
        policy: &CPolicy,
        cc: &CallerCtx,
        boundary_ok: &mut dyn FnMut() -> bool,
    ) -> (Option<u32>, Option<u32>) {
        let root = cc.caller.is_root();
        let mut delegated = None;
        for chunk in &policy.chunks {
            let account = chunk.token_mask(cc.res.account);
            let role_mask = chunk.token_mask(cc.res.role);
            let deleg_mask = if root { 0 } else { account };
            let mut direct_mask =
                chunk.star | chunk.token_mask(cc.res.exact) | if root { account } else { 0 };
            let np = self.with_action(policy, chunk.base, chunk.not_principal, Effect::Allow);
            if np != 0 {
                direct_mask |= self.not_principal_hits(policy, chunk.base, np, cc.caller);
            }
            let mut m = self.with_action(
                policy,
                chunk.base,
                direct_mask | role_mask | deleg_mask,
                Effect::Allow,
            );
            while m != 0 {
                let bit = m & m.wrapping_neg();
                m &= m - 1;
                let i = chunk.base + bit.trailing_zeros();
                if !self.applies(&policy.statements[i as usize], Layer::KeyPolicy, true) {
                    continue;
                }
                if direct_mask & bit != 0 || (role_mask & bit != 0 && boundary_ok()) {
                    return (Some(i), delegated);
                }
                if deleg_mask & bit != 0 && delegated.is_none() {
                    delegated = Some(i);
                }
            }
        }
        (None, delegated)
    }
}

/// Whether a `NotPrincipal` list exempts the caller: every level of its hierarchy is listed.
fn exempt(p: &Principals, caller: &Caller) -> bool {
    hierarchy(caller)
        .iter()
        .all(|&level| p.entries.iter().any(|e| e.lists_level(caller, level)))
}
