//! The guardrail layers, compiled (docs/guardrails.md): every organization policy, endpoint
//! policy and session policy of the world compiled once; each account's SCP chain and RCP list
//! resolved once per account path; endpoints indexed by id. A world without guardrails skips
//! all of it with one test.

use super::compile::{compile_plain, CPolicy, CResource};
use super::{exempt, Eval, ReasonRef};
use crate::actions;
use crate::actions::ActionSet;
use crate::arn::{Caller, CallerKind, PrincipalMatch};
use crate::context::Layer;
use crate::decision::{Missing, Reason, Source};
use crate::policy::{Effect, Policy, Principals};
use crate::request::Request;
use crate::world::guardrails::is_service_linked;
use crate::world::World;
use std::collections::HashMap;

/// A policy whose statements name principals (RCPs, endpoint policies), compiled.
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

/// One account's control policies, as indexes into [`GTables::org_policies`].
#[derive(Default)]
pub struct CChain {
    /// SCPs apply (enabled in the organization, not the management account).
    pub scps: bool,
    /// Per level, outermost first: whether an attached SCP allows every action on every
    /// resource without condition (FullAWSAccess), so the level needs no check; and the SCPs.
    pub scp_levels: Vec<(bool, Box<[u32]>)>,
    /// The SCPs with a Deny statement, in level order, each content only once: a later copy of a
    /// policy denies exactly when the first does, so the first Deny found is the same.
    pub scp_denies: Box<[u32]>,
    /// The actions some SCP Deny statement of the chain can match.
    pub scp_deny_actions: ActionSet,
    /// The RCPs (none for the management account), deduplicated the same way.
    pub rcps: Box<[u32]>,
    pub rcp_deny_actions: ActionSet,
}

/// The policies of `ids` that have a Deny statement, each content once, in order; and the
/// actions their Deny statements can match.
fn distinct_denies(world: &World, t: &[CNamed], ids: &[usize]) -> (Box<[u32]>, ActionSet) {
    let mut kept: Vec<u32> = Vec::new();
    let mut actions = ActionSet::EMPTY;
    for &i in ids {
        let policy = &world.org_policies[i].policy;
        let set = t[i]
            .policy
            .hot
            .iter()
            .filter(|h| h.effect == Effect::Deny)
            .fold(ActionSet::EMPTY, |a, h| ActionSet(a.0 | h.actions.0));
        let seen = kept
            .iter()
            .any(|&k| world.org_policies[k as usize].policy == *policy);
        if set == ActionSet::EMPTY || seen {
            continue;
        }
        actions = ActionSet(actions.0 | set.0);
        kept.push(i as u32);
    }
    (kept.into(), actions)
}

/// Whether a compiled policy has an Allow statement for every action on every resource with no
/// condition.
fn allows_everything(c: &CNamed) -> bool {
    c.policy
        .hot
        .iter()
        .zip(&c.policy.statements)
        .any(|(h, st)| {
            h.effect == Effect::Allow
                && h.actions == ActionSet::ALL
                && matches!(st.resource, CResource::Any)
                && st.conditions.is_empty()
        })
}

/// The compiled guardrail layers of a world.
#[derive(Default)]
pub struct GTables {
    /// Whether the world has any guardrail at all.
    pub any: bool,
    pub org_policies: Vec<CNamed>,
    pub chains: HashMap<Box<str>, CChain>,
    /// Endpoint policies by endpoint id (`None`: the default policy, which allows everything).
    pub endpoints: HashMap<Box<str>, (u32, Option<CNamed>)>,
    /// The `sessions` of the world by session ARN.
    pub sessions: HashMap<Box<str>, Vec<CPolicy>>,
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
    for id in world.accounts.keys() {
        let Some(chain) = world.chain(id) else {
            continue;
        };
        let in_order: Vec<usize> = chain
            .scp_levels
            .iter()
            .flat_map(|l| l.policies.iter().copied())
            .collect();
        let (scp_denies, scp_deny_actions) = distinct_denies(world, &t.org_policies, &in_order);
        let (rcps, rcp_deny_actions) = if chain.management {
            (Box::default(), ActionSet::EMPTY)
        } else {
            distinct_denies(world, &t.org_policies, &chain.rcps)
        };
        let scp_levels = chain
            .scp_levels
            .iter()
            .map(|l| {
                let open = l
                    .policies
                    .iter()
                    .any(|&i| allows_everything(&t.org_policies[i]));
                (open, l.policies.iter().map(|&i| i as u32).collect())
            })
            .collect();
        let compiled = CChain {
            scps: chain.scps_enabled && !chain.management,
            scp_levels,
            scp_denies,
            scp_deny_actions,
            rcps,
            rcp_deny_actions,
        };
        t.chains.insert(id.as_str().into(), compiled);
    }
    for (i, e) in world.vpc_endpoints.iter().enumerate() {
        let policy = e.policy.as_ref().map(|p| {
            CNamed::new(
                p,
                Source::VpcEndpointPolicy {
                    endpoint: e.id.clone(),
                },
            )
        });
        t.endpoints.insert(e.id.as_str().into(), (i as u32, policy));
    }
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
        t.sessions.insert(s.arn.as_str().into(), policies);
    }
    t
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

/// The first statement of `effect` of a named policy that names the caller and applies.
fn first_named(eval: &Eval, c: &CNamed, effect: Effect, caller: &Caller) -> Option<u32> {
    let a = eval.action;
    c.policy.hot.iter().enumerate().find_map(|(i, h)| {
        (h.effect == effect
            && h.actions.contains(a)
            && names(c.principals[i].as_ref(), caller)
            && eval.applies(&c.policy.statements[i], Layer::Identity, false))
        .then_some(i as u32)
    })
}

/// What the guardrail layers say about one component, given the world's tables.
pub struct Guard<'a> {
    pub t: &'a GTables,
    pub caller: &'a Caller,
    /// The caller's world principal ARN (for the service-linked role test).
    pub role_arn: Option<&'a str>,
}

impl Guard<'_> {
    fn scp_chain(&self) -> Option<&CChain> {
        if self.caller.is_service() {
            return None;
        }
        let chain = self.t.chains.get(self.caller.account.as_str())?;
        (chain.scps && !is_service_linked(self.caller, self.role_arn)).then_some(chain)
    }

    fn rcps(&self, eval: &Eval) -> &[u32] {
        let account = match eval.view.comp.key {
            Some(k) if k.metadata.key_manager == "AWS" => return &[],
            Some(k) => k.account.as_str(),
            None if self.caller.is_service() => return &[],
            None => self.caller.account.as_str(),
        };
        if eval.action == actions::RETIRE_GRANT {
            return &[];
        }
        let Some(chain) = self.t.chains.get(account) else {
            return &[];
        };
        if !chain.rcp_deny_actions.contains(eval.action)
            || is_service_linked(self.caller, self.role_arn)
        {
            return &[];
        }
        &chain.rcps
    }

    fn endpoint(&self, eval: &Eval) -> Option<(u32, &CNamed)> {
        if self.t.endpoints.is_empty() {
            return None;
        }
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
        let (i, policy) = self.t.endpoints.get(id.as_str())?;
        policy.as_ref().map(|p| (*i, p))
    }

    /// The first Deny of SCPs, RCPs and the endpoint policy (session policies are checked by
    /// the caller, before these).
    pub(super) fn deny(&self, eval: &Eval) -> Option<ReasonRef> {
        if let Some(chain) = self.scp_chain() {
            if chain.scp_deny_actions.contains(eval.action) {
                for &p in chain.scp_denies.iter() {
                    let policy = &self.t.org_policies[p as usize].policy;
                    if let Some(s) = eval.first(policy, Effect::Deny) {
                        return Some(ReasonRef::Org { policy: p, stmt: s });
                    }
                }
            }
        }
        for &p in self.rcps(eval) {
            let c = &self.t.org_policies[p as usize];
            if let Some(s) = first_named(eval, c, Effect::Deny, self.caller) {
                return Some(ReasonRef::Org { policy: p, stmt: s });
            }
        }
        let (e, c) = self.endpoint(eval)?;
        let s = first_named(eval, c, Effect::Deny, self.caller)?;
        Some(ReasonRef::Endpoint {
            endpoint: e,
            stmt: s,
        })
    }

    /// The missing guardrail allow: an SCP level that allows nothing here, or the endpoint
    /// policy.
    pub(super) fn gate(&self, eval: &Eval) -> Option<Missing> {
        if let Some(chain) = self.scp_chain() {
            for (open, level) in &chain.scp_levels {
                if *open {
                    continue;
                }
                let ok = level.iter().any(|&p| {
                    eval.first(&self.t.org_policies[p as usize].policy, Effect::Allow)
                        .is_some()
                });
                if !ok {
                    return Some(Missing::ScpAllow);
                }
            }
        }
        let (_, c) = self.endpoint(eval)?;
        first_named(eval, c, Effect::Allow, self.caller)
            .is_none()
            .then_some(Missing::VpcEndpointAllow)
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
