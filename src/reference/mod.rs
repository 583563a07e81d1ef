//! The reference evaluator: docs/semantics.md §7 written out as plainly as possible. It is the specification
//! in code — slow, obvious and exhaustive — and the oracle that the compiled engine is held equal
//! to. It matches policy strings against the request directly (globs, ARN parts, variables) and
//! keeps notes for `--explain`.

use crate::actions::{self, ActionId};
use crate::arn::{hierarchy, Caller, PrincipalEntry, PrincipalMatch};
use crate::context::{self, Component, Context, Layer};
use crate::decision::{Decision, Explanation, Missing, Outcome, Reason, Source};
use crate::pattern::{arn_matches, Glob};
use crate::policy::condition::{cidr_contains, parse_date, parse_number};
use crate::policy::{
    BaseOp, CondValue, Condition, Effect, Family, Policy, Principals, ResourcePattern, SetOp,
    Statement,
};
use crate::request::{ContextValue, Request};
use crate::world::{has_pair, Grant, Key, Principal, World};
use base64::Engine as _;

mod guardrails;

/// Decides `req` against `world`, plainly and slowly: the specification the compiled
/// [`crate::Engine`] is held equal to.
///
/// ```
/// use keyward::{Outcome, Request, World};
///
/// let world = World::load("corpus/default/world.json")?;
/// let (request, _) = Request::from_json(r#"{"principal": "arn:aws:sts::111122223333:assumed-role/app-web/i-0fedcba9876543210",
///     "action": "kms:Decrypt", "encryption_context": {"app": "web"},
///     "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#)?;
/// assert_eq!(keyward::reference::evaluate(&world, &request).outcome, Outcome::Allow);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate(world: &World, req: &Request) -> Decision {
    explain(world, req).0
}

/// Decides `req` against `world` and explains the decision.
pub fn explain(world: &World, req: &Request) -> (Decision, Explanation) {
    let mut notes = Vec::new();
    let comps = match context::components(world, req) {
        Ok(c) => c,
        Err(why) => {
            let decision = Decision {
                outcome: Outcome::ImplicitDeny,
                reasons: Vec::new(),
                key_state_error: None,
                operation_error: None,
            };
            notes.push(format!("fail closed: {why}"));
            return (
                decision,
                Explanation {
                    missing: Some(Missing::Unresolvable),
                    notes,
                },
            );
        }
    };
    let mut results = Vec::with_capacity(comps.len());
    for comp in &comps {
        let ctx = Context::build(world, req, comp);
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
        results.push(eval.component());
    }
    let key_state_error = comps.iter().find_map(|c| key_state_error(c.action, c.key?));
    let pick = |o: Outcome| results.iter().find(|r| r.0 == o);
    let (outcome, reasons, missing) = if let Some(r) = pick(Outcome::ExplicitDeny) {
        r.clone()
    } else if let Some(r) = pick(Outcome::ImplicitDeny) {
        r.clone()
    } else {
        let mut reasons: Vec<Reason> = Vec::new();
        for r in results.iter().flat_map(|r| &r.1) {
            if !reasons.contains(r) {
                reasons.push(r.clone());
            }
        }
        (Outcome::Allow, reasons, None)
    };
    if let Some(m) = missing {
        notes.push(missing_sentence(m, req));
    }
    let operation_error = (outcome == Outcome::Allow && lockout(world, req, &comps)).then(|| {
        notes.push("the policy lockout safety check failed: the new key policy would not allow the caller to call kms:PutKeyPolicy afterwards (docs/semantics.md §7.9, E69)".into());
        LOCKOUT_ERROR.to_owned()
    });
    (
        Decision {
            outcome,
            reasons,
            key_state_error,
            operation_error,
        },
        Explanation { missing, notes },
    )
}

/// The error of a PutKeyPolicy call whose new policy fails the lockout safety check.
pub const LOCKOUT_ERROR: &str = "MalformedPolicyDocumentException";

/// The policy lockout safety check (docs/semantics.md §7.9, E69): a PutKeyPolicy request carrying a new
/// policy, without `kms:BypassPolicyLockoutSafetyCheck` true, fails when the new policy would not
/// allow the same caller, in the same context, to call `kms:PutKeyPolicy` on the key. Whether AWS
/// evaluates request conditions here is not documented; keyward uses the current context.
pub fn lockout(world: &World, req: &Request, comps: &[Component]) -> bool {
    let (Some(policy), [comp]) = (&req.policy, comps) else {
        return false;
    };
    if comp.action != actions::PUT_KEY_POLICY || comp.key.is_none() {
        return false;
    }
    let bypass = req
        .context
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("kms:BypassPolicyLockoutSafetyCheck") && matches!(v, crate::request::ContextValue::Single(s) if s.eq_ignore_ascii_case("true")));
    if bypass {
        return false;
    }
    let ctx = Context::build(world, req, comp);
    let mut notes = Vec::new();
    let mut eval = Eval {
        world,
        caller: &req.caller,
        comp,
        ctx: &ctx,
        notes: &mut notes,
        grant_id: None,
        policy_override: Some(policy),
        session: req.session_policies.as_deref(),
    };
    eval.component().0 != Outcome::Allow
}

/// The key-state error a cryptographic operation (or CreateGrant) meets on a key that is not
/// enabled (docs/semantics.md §5 rule 6); `None` when the key state does not stop the operation.
pub fn key_state_error(action: ActionId, key: &Key) -> Option<String> {
    let info = actions::info(action);
    if !(info.cryptographic || info.name == "CreateGrant") || key.metadata.key_state == "Enabled" {
        return None;
    }
    Some(match key.metadata.key_state.as_str() {
        "Disabled" => "DisabledException".into(),
        _ => "KMSInvalidStateException".into(),
    })
}

fn missing_sentence(m: Missing, req: &Request) -> String {
    let who = &req.caller.arn;
    let what = req.action_name();
    match m {
        Missing::Unresolvable => "the request names no key or alias that the world has".into(),
        Missing::NoKeyPolicy => "the key has no key policy, so nothing on it is allowed".into(),
        Missing::KeyPolicyAllow => format!("no key-policy statement allows {who} to {what}, directly or through its account, and no grant does"),
        Missing::KeyPolicyDelegation => format!("an identity policy allows {what}, but the key policy does not give the caller's account (arn:aws:iam::{}:root) this action, so IAM policies have no effect", req.caller.account),
        Missing::IdentityPolicyAllow => format!("no identity policy of {who} allows {what} on this resource"),
        Missing::PermissionsBoundary => format!("the permissions boundary of {who} does not allow {what}"),
        Missing::NotCrossAccountAction => format!("{what} cannot be used on a key in another account, whatever the policies say"),
        Missing::CrossAccountKeySide => format!("cross-account: the key policy does not allow {who} or its account to {what}"),
        Missing::CrossAccountCallerSide => format!("cross-account: the key policy allows it, but no identity policy in the caller's account allows {what} on the key"),
        Missing::GrantConstraint => "a grant names the caller and operation, but its constraints (encryption context or source ARN) are not met".into(),
        Missing::RetireGrantRules => format!("{who} is not the grant's retiring principal, a grantee allowed to retire it, or its issuing account"),
        Missing::ScpAllow => format!("scp: the service control policies of the caller's account do not allow {what} at every level of its organization path"),
        Missing::VpcEndpointAllow => format!("vpc-endpoint-policy: the VPC endpoint's policy does not allow {who} to {what}"),
        Missing::SessionPolicy => format!("session-policy: the session policies of {who} do not allow {what} (a federated-user session without session policies has no identity-side permissions)"),
    }
}

type ComponentResult = (Outcome, Vec<Reason>, Option<Missing>);

pub(crate) struct Eval<'a> {
    pub(crate) world: &'a World,
    pub(crate) caller: &'a Caller,
    pub(crate) comp: &'a Component<'a>,
    pub(crate) ctx: &'a Context,
    pub(crate) notes: &'a mut Vec<String>,
    pub(crate) grant_id: Option<&'a str>,
    /// A key policy to use instead of the key's own (the lockout safety check).
    pub(crate) policy_override: Option<&'a Policy>,
    /// The request's own session policies, which win over a `sessions` entry of the world.
    pub(crate) session: Option<&'a [Policy]>,
}

/// The identity side of a caller: the first identity-policy allow, and whether a permissions
/// boundary took it away.
struct IamSide {
    allow: Option<Reason>,
    boundary_blocked: bool,
    /// The session policies took the allow away (or a federated-user session has none).
    session_blocked: bool,
}

impl<'a> Eval<'a> {
    fn note(&mut self, text: String) {
        if !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }

    fn component(&mut self) -> ComponentResult {
        let info = actions::info(self.comp.action);
        let key = self.comp.key;
        let cross =
            key.is_some_and(|k| !self.caller.is_service() && self.caller.account != k.account);
        if cross && !info.cross_account {
            return (
                Outcome::ImplicitDeny,
                Vec::new(),
                Some(Missing::NotCrossAccountAction),
            );
        }
        if let Some(deny) = self.explicit_deny().or_else(|| self.guardrail_deny()) {
            return (Outcome::ExplicitDeny, vec![deny], None);
        }
        if let Some(missing) = self.guardrail_gate() {
            return (Outcome::ImplicitDeny, Vec::new(), Some(missing));
        }
        let iam = self.iam_side();
        let Some(key) = key else {
            // Resourceless actions and the alias half of alias operations: IAM alone decides.
            return match iam.allow {
                Some(r) => (Outcome::Allow, vec![r], None),
                None if iam.boundary_blocked => (
                    Outcome::ImplicitDeny,
                    Vec::new(),
                    Some(Missing::PermissionsBoundary),
                ),
                None if iam.session_blocked => (
                    Outcome::ImplicitDeny,
                    Vec::new(),
                    Some(Missing::SessionPolicy),
                ),
                None => (
                    Outcome::ImplicitDeny,
                    Vec::new(),
                    Some(Missing::IdentityPolicyAllow),
                ),
            };
        };
        if info.name == "RetireGrant" {
            return self.retire_grant(key, &iam);
        }
        let Some(policy) = self.policy_override.or(key.policy.as_ref()) else {
            return (
                Outcome::ImplicitDeny,
                Vec::new(),
                Some(Missing::NoKeyPolicy),
            );
        };
        let (direct, delegated, role_cancelled) = self.key_policy_allows(key, policy);
        let (grant, grant_constraint_failed) = self.grant_allows(key, iam.allow.is_some());
        if !cross {
            if let Some(r) = direct {
                return (Outcome::Allow, vec![r], None);
            }
            if let (Some(kp), Some(ip)) = (&delegated, &iam.allow) {
                return (Outcome::Allow, vec![kp.clone(), ip.clone()], None);
            }
            if let Some(g) = grant {
                return (Outcome::Allow, vec![g], None);
            }
            let missing = if grant_constraint_failed {
                Missing::GrantConstraint
            } else if role_cancelled && !self.boundary_allows() {
                Missing::PermissionsBoundary
            } else if role_cancelled || (delegated.is_some() && iam.session_blocked) {
                Missing::SessionPolicy
            } else if delegated.is_some() && iam.boundary_blocked {
                Missing::PermissionsBoundary
            } else if delegated.is_some() {
                Missing::IdentityPolicyAllow
            } else if iam.allow.is_some() {
                Missing::KeyPolicyDelegation
            } else {
                Missing::KeyPolicyAllow
            };
            return (Outcome::ImplicitDeny, Vec::new(), Some(missing));
        }
        let key_side = direct.or(delegated);
        if let (Some(kp), Some(ip)) = (&key_side, &iam.allow) {
            return (Outcome::Allow, vec![kp.clone(), ip.clone()], None);
        }
        if let Some(g) = grant {
            return (Outcome::Allow, vec![g], None);
        }
        let missing = if grant_constraint_failed {
            Missing::GrantConstraint
        } else if key_side.is_none() {
            Missing::CrossAccountKeySide
        } else {
            Missing::CrossAccountCallerSide
        };
        (Outcome::ImplicitDeny, Vec::new(), Some(missing))
    }

    /// The first matching Deny statement: key policy, then identity and group policies, then the
    /// permissions boundary (docs/semantics.md §7.3).
    fn explicit_deny(&mut self) -> Option<Reason> {
        if let Some(key) = self.comp.key {
            if let Some(policy) = self.policy_override.or(key.policy.as_ref()) {
                for (i, st) in policy.statements.iter().enumerate() {
                    if st.effect == Effect::Deny
                        && principal_level(st.principal.as_ref(), self.caller) != PrincipalMatch::No
                        && self.statement_applies(st, policy, Layer::KeyPolicy)
                    {
                        return Some(reason(
                            Source::KeyPolicy {
                                key: key.arn.clone(),
                            },
                            i,
                            st,
                        ));
                    }
                }
            }
        }
        let principal = self.world.principal_for(self.caller)?;
        for (source, policy) in self.identity_policies(principal) {
            if let Some((i, st)) = self.first_statement(policy, Effect::Deny) {
                return Some(reason(source, i, st));
            }
        }
        let boundary = principal.permissions_boundary.as_ref()?;
        let (i, st) = self.first_statement(boundary, Effect::Deny)?;
        Some(reason(
            Source::PermissionsBoundary {
                principal: principal.arn.clone(),
            },
            i,
            st,
        ))
    }

    /// The caller's identity policies, then those of its groups.
    fn identity_policies(&self, p: &'a Principal) -> Vec<(Source, &'a Policy)> {
        let mut out: Vec<(Source, &Policy)> = p
            .policies
            .iter()
            .enumerate()
            .map(|(i, pol)| {
                (
                    Source::IdentityPolicy {
                        principal: p.arn.clone(),
                        policy: i,
                    },
                    pol,
                )
            })
            .collect();
        for g in &p.groups {
            if let Some(group) = self.world.group(g) {
                out.extend(group.policies.iter().enumerate().map(|(i, pol)| {
                    (
                        Source::GroupPolicy {
                            group: g.clone(),
                            policy: i,
                        },
                        pol,
                    )
                }));
            }
        }
        out
    }

    fn first_statement<'p>(
        &mut self,
        policy: &'p Policy,
        effect: Effect,
    ) -> Option<(usize, &'p Statement)> {
        policy.statements.iter().enumerate().find(|(_, st)| {
            st.effect == effect && self.statement_applies(st, policy, Layer::Identity)
        })
    }

    /// Whether the caller's permissions boundary (if any) allows this component.
    fn boundary_allows(&mut self) -> bool {
        match self
            .world
            .principal_for(self.caller)
            .and_then(|p| p.permissions_boundary.as_ref())
        {
            Some(b) => self.first_statement(b, Effect::Allow).is_some(),
            None => true,
        }
    }

    /// The identity side: root is not governed by identity policies; others need an allow in an
    /// identity policy that the permissions boundary also allows.
    fn iam_side(&mut self) -> IamSide {
        if self.caller.is_root() {
            let r = Reason {
                source: Source::RootUser {
                    account: self.caller.account.clone(),
                },
                statement: None,
                sid: None,
            };
            return IamSide {
                allow: Some(r),
                boundary_blocked: false,
                session_blocked: false,
            };
        }
        let Some(principal) = self.world.principal_for(self.caller) else {
            return IamSide {
                allow: None,
                boundary_blocked: false,
                session_blocked: false,
            };
        };
        let mut allow = None;
        for (source, policy) in self.identity_policies(principal) {
            if let Some((i, st)) = self.first_statement(policy, Effect::Allow) {
                allow = Some(reason(source, i, st));
                break;
            }
        }
        if allow.is_some() && !self.boundary_allows() {
            return IamSide {
                allow: None,
                boundary_blocked: true,
                session_blocked: false,
            };
        }
        if allow.is_some() && !self.session_allows() {
            return IamSide {
                allow: None,
                boundary_blocked: false,
                session_blocked: true,
            };
        }
        IamSide {
            allow,
            boundary_blocked: false,
            session_blocked: false,
        }
    }

    /// The first key-policy Allow that matches the caller directly, the first that matches it
    /// through its account, and whether a role-ARN match was cancelled by the boundary.
    fn key_policy_allows(
        &mut self,
        key: &Key,
        policy: &Policy,
    ) -> (Option<Reason>, Option<Reason>, bool) {
        let (mut direct, mut delegated, mut cancelled) = (None, None, false);
        let mut boundary: Option<bool> = None;
        for (i, st) in policy.statements.iter().enumerate() {
            if st.effect != Effect::Allow || !self.statement_applies(st, policy, Layer::KeyPolicy) {
                continue;
            }
            let mut level = PrincipalMatch::No;
            for m in principal_levels(st.principal.as_ref(), self.caller) {
                let m = if m == PrincipalMatch::DirectRole {
                    let ok = *boundary
                        .get_or_insert_with(|| self.boundary_allows() && self.session_allows());
                    if ok {
                        PrincipalMatch::Direct
                    } else {
                        cancelled = true;
                        PrincipalMatch::No
                    }
                } else {
                    m
                };
                level = level.max(m);
            }
            let r = || {
                reason(
                    Source::KeyPolicy {
                        key: key.arn.clone(),
                    },
                    i,
                    st,
                )
            };
            match level {
                PrincipalMatch::Direct if direct.is_none() => direct = Some(r()),
                PrincipalMatch::AccountDelegation if delegated.is_none() => delegated = Some(r()),
                _ => {}
            }
        }
        let cancelled = cancelled && direct.is_none();
        (direct, delegated, cancelled)
    }

    /// The first grant on the key that allows this component (docs/semantics.md §7.5.2), and whether some
    /// grant named the caller and operation but failed its constraints.
    fn grant_allows(&mut self, key: &Key, iam_allows: bool) -> (Option<Reason>, bool) {
        let info = actions::info(self.comp.action);
        if !info.grant_op {
            return (None, false);
        }
        let mut constraint_failed = false;
        for g in self.world.grants_for_key(&key.arn) {
            if !g.operations.iter().any(|op| op == info.name)
                || !self.grantee_matches(&g.grantee, iam_allows)
            {
                continue;
            }
            if self.grant_constraints_hold(g) {
                let r = Reason {
                    source: Source::Grant {
                        key: key.arn.clone(),
                        grant_id: g.grant_id.clone(),
                    },
                    statement: None,
                    sid: None,
                };
                return (Some(r), false);
            }
            constraint_failed = true;
        }
        (None, constraint_failed)
    }

    /// Whether a grant's grantee (or retiring principal) is the caller: as a direct principal
    /// match, or — for an account — the root user, or an IAM principal of that account whose
    /// identity policies allow the action (docs/semantics.md §7.5.2 point 3, the default for §10 question 5).
    fn grantee_matches(&mut self, grantee: &PrincipalEntry, iam_allows: bool) -> bool {
        match grantee.matches(self.caller) {
            PrincipalMatch::Direct | PrincipalMatch::DirectRole => true,
            PrincipalMatch::AccountDelegation => {
                self.note("assumption (docs/semantics.md §10 q5): a grant to an account lets its IAM principals use it only with an identity-policy allow".into());
                iam_allows
            }
            PrincipalMatch::No => false,
        }
    }

    pub(crate) fn grant_constraints_hold(&mut self, g: &Grant) -> bool {
        let info = actions::info(self.comp.action);
        let c = &g.constraints;
        if let Some(arn) = &c.source_arn {
            if self.ctx.single("aws:sourcearn", Layer::Identity) != Some(arn.as_str()) {
                return false;
            }
        }
        let ec = self.comp.encryption_context;
        if info.name == "CreateGrant" {
            return self.child_grant_within(g);
        }
        if !info.takes_encryption_context {
            return true;
        }
        c.accepts_context(ec)
    }

    /// CreateGrant allowed by a grant: the child grant may have only the parent's operations and
    /// constraints at least as strict (docs/semantics.md §7.5.3).
    fn child_grant_within(&self, parent: &Grant) -> bool {
        let ops = match self.ctx.get("kms:grantoperations", Layer::Identity) {
            Some(ContextValue::Multi(v)) => v.clone(),
            Some(ContextValue::Single(s)) => vec![s.clone()],
            None => Vec::new(),
        };
        if ops.is_empty() || !ops.iter().all(|op| parent.operations.contains(op)) {
            return false;
        }
        let child_type = self.ctx.single("kms:grantconstrainttype", Layer::Identity);
        let child = self.comp.encryption_context;
        let within = |s: &[(String, String)]| s.iter().all(|(k, v)| has_pair(child, k, v));
        match (&parent.constraints.equals, &parent.constraints.subset) {
            (Some(e), _) => {
                child_type == Some("EncryptionContextEquals") && e.len() == child.len() && within(e)
            }
            (None, Some(s)) => {
                matches!(
                    child_type,
                    Some("EncryptionContextEquals" | "EncryptionContextSubset")
                ) && within(s)
            }
            (None, None) => true,
        }
    }

    /// RetireGrant (docs/semantics.md §7.5.4): the grant decides, not the key policy.
    fn retire_grant(&mut self, key: &Key, iam: &IamSide) -> ComponentResult {
        let deny = (
            Outcome::ImplicitDeny,
            Vec::new(),
            Some(Missing::RetireGrantRules),
        );
        let Some(id) = self.grant_id else {
            self.note("RetireGrant needs grant_id to name the grant".into());
            return deny;
        };
        let Some(g) = self
            .world
            .grants_for_key(&key.arn)
            .find(|g| g.grant_id == id)
        else {
            self.note(format!("grant {id} is not on this key"));
            return deny;
        };
        let grant = Reason {
            source: Source::Grant {
                key: key.arn.clone(),
                grant_id: g.grant_id.clone(),
            },
            statement: None,
            sid: None,
        };
        let with_iam = |r: &Reason| match &iam.allow {
            Some(ip) if !matches!(ip.source, Source::RootUser { .. }) => {
                vec![r.clone(), ip.clone()]
            }
            _ => vec![r.clone()],
        };
        let iam_ok = iam.allow.is_some();
        if let Some(retiring) = &g.retiring {
            match retiring.matches(self.caller) {
                PrincipalMatch::Direct | PrincipalMatch::DirectRole => {
                    return (Outcome::Allow, vec![grant], None)
                }
                PrincipalMatch::AccountDelegation if iam_ok => {
                    return (Outcome::Allow, with_iam(&grant), None)
                }
                _ => {}
            }
        }
        if g.operations.iter().any(|op| op == "RetireGrant") {
            match g.grantee.matches(self.caller) {
                PrincipalMatch::Direct | PrincipalMatch::DirectRole => {
                    return (Outcome::Allow, vec![grant], None)
                }
                PrincipalMatch::AccountDelegation if iam_ok => {
                    return (Outcome::Allow, with_iam(&grant), None)
                }
                _ => {}
            }
        }
        if !self.caller.is_service() && self.caller.account == g.issuing_account && iam_ok {
            return (Outcome::Allow, with_iam(&grant), None);
        }
        deny
    }

    /// Whether a statement's action, resource and conditions match this component (principals are
    /// checked by the caller of this function).
    fn statement_applies(&mut self, st: &Statement, policy: &Policy, layer: Layer) -> bool {
        let (Some(actions), Some(resources)) = (&st.action, &st.resource) else {
            return false;
        };
        let action = actions::full_name(self.comp.action);
        let hit = actions
            .patterns
            .iter()
            .any(|p| Glob::new(p).matches(&action, true));
        if hit == actions.negated {
            return false;
        }
        let lookup = |k: &str| self.ctx.single(&k.to_ascii_lowercase(), layer);
        let resource = &self.comp.resource;
        let hit = resources.patterns.iter().any(|p| match p {
            ResourcePattern::Any => true,
            ResourcePattern::Arn(t) => t
                .to_glob(lookup)
                .is_some_and(|g| arn_matches(&g, resource, false)),
        });
        if hit == resources.negated {
            return false;
        }
        let _ = policy;
        self.conditions_hold(&st.conditions, layer, st.effect)
    }

    pub(crate) fn conditions_hold(
        &mut self,
        conds: &[Condition],
        layer: Layer,
        effect: Effect,
    ) -> bool {
        for c in conds {
            if layer == Layer::KeyPolicy && context::is_identity_only_key(&c.key_lower) {
                self.note(format!("assumption (docs/semantics.md E51): {} is documented for IAM policies only; in a key policy it is treated as absent", c.key));
            }
            if c.key_lower == "kms:resourcealiases"
                && layer == Layer::Identity
                && self.ctx.aliases_over_quota
            {
                self.note(format!("the key has more than {} aliases: conditions on kms:ResourceAliases fail closed (E50)", context::MAX_ALIASES_PER_KEY));
                return effect == Effect::Deny;
            }
        }
        conds.iter().all(|c| self.condition_holds(c, layer))
    }

    /// One condition, exactly as docs/semantics.md §3.2 writes it.
    fn condition_holds(&mut self, c: &Condition, layer: Layer) -> bool {
        let op = c.operator;
        let value = self.ctx.get(&c.key_lower, layer);
        if op.base == BaseOp::Null {
            let present = match value {
                None => false,
                Some(ContextValue::Single(_)) => true,
                Some(ContextValue::Multi(v)) => !v.is_empty(),
            };
            let want_absent = c.values.contains(&CondValue::Absent(true));
            let want_present = c.values.contains(&CondValue::Absent(false));
            return (want_absent && !present) || (want_present && present);
        }
        let set: Vec<&str> = match value {
            None => Vec::new(),
            Some(ContextValue::Single(s)) => vec![s.as_str()],
            Some(ContextValue::Multi(v)) => v.iter().map(String::as_str).collect(),
        };
        match op.set {
            Some(SetOp::ForAllValues) => {
                set.is_empty() || set.iter().all(|v| self.base_match(c, v, layer))
            }
            Some(SetOp::ForAnyValue) => {
                if set.is_empty() {
                    op.if_exists
                } else {
                    set.iter().any(|v| self.base_match(c, v, layer))
                }
            }
            None => match value {
                None => op.if_exists || op.base.is_negated(),
                Some(ContextValue::Multi(_)) => {
                    self.note(format!("assumption (docs/semantics.md §3.2 note M): {} is multivalued and {} has no set operator, so it never matches", c.key, op.name()));
                    false
                }
                Some(ContextValue::Single(v)) => self.base_match(c, v, layer),
            },
        }
    }

    fn base_match(&self, c: &Condition, v: &str, layer: Layer) -> bool {
        let any = c
            .values
            .iter()
            .any(|pv| self.positive_cmp(c.operator.base, v, pv, layer));
        any != c.operator.base.is_negated()
    }

    /// The positive comparison of one context value with one policy value (docs/semantics.md §3.3).
    fn positive_cmp(&self, base: BaseOp, v: &str, pv: &CondValue, layer: Layer) -> bool {
        use BaseOp::*;
        let lookup = |k: &str| self.ctx.single(&k.to_ascii_lowercase(), layer);
        match (base.family(), pv) {
            (Family::String, CondValue::Text(t)) => match base {
                StringLike | StringNotLike => {
                    t.to_glob(lookup).is_some_and(|g| g.matches(v, false))
                }
                StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => t
                    .to_text(lookup)
                    .is_some_and(|p| p.to_lowercase() == v.to_lowercase()),
                _ => t.to_text(lookup).is_some_and(|p| p == v),
            },
            (Family::Arn, CondValue::Text(t)) => {
                t.to_glob(lookup).is_some_and(|g| arn_matches(&g, v, false))
            }
            (Family::Bool, CondValue::Text(t)) => {
                let as_bool = |s: &str| match s.to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
                match (t.to_text(lookup).as_deref().and_then(as_bool), as_bool(v)) {
                    (Some(p), Some(x)) => p == x,
                    _ => false,
                }
            }
            (Family::Numeric, CondValue::Number(p)) => match parse_number(v) {
                Some(x) => base.accepts(x.partial_cmp(p)),
                None => false,
            },
            (Family::Date, CondValue::Date(p)) => match parse_date(v) {
                Some(x) => base.accepts(Some(x.cmp(p))),
                None => false,
            },
            (Family::Ip, CondValue::Cidr(net, bits)) => {
                v.parse().is_ok_and(|ip| cidr_contains(*net, *bits, ip))
            }
            (Family::Binary, CondValue::Bytes(p)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .unwrap_or_else(|_| v.as_bytes().to_vec());
                bytes == *p
            }
            _ => false,
        }
    }
}

fn reason(source: Source, statement: usize, st: &Statement) -> Reason {
    Reason {
        source,
        statement: Some(statement),
        sid: st.sid.clone(),
    }
}

/// The match level of each entry of a `Principal` element, or of a `NotPrincipal` element as a
/// whole (docs/semantics.md §2.1): a `NotPrincipal` applies directly to every caller it does not exempt.
pub(crate) fn principal_levels(
    principals: Option<&Principals>,
    caller: &Caller,
) -> Vec<PrincipalMatch> {
    let Some(p) = principals else {
        return Vec::new();
    };
    if !p.negated {
        return p.entries.iter().map(|e| e.matches(caller)).collect();
    }
    let exempt = hierarchy(caller)
        .iter()
        .all(|&level| p.entries.iter().any(|e| e.lists_level(caller, level)));
    vec![if exempt {
        PrincipalMatch::No
    } else {
        PrincipalMatch::Direct
    }]
}

/// The strongest match of a principal element.
pub(crate) fn principal_level(principals: Option<&Principals>, caller: &Caller) -> PrincipalMatch {
    principal_levels(principals, caller)
        .into_iter()
        .max()
        .unwrap_or(PrincipalMatch::No)
}
