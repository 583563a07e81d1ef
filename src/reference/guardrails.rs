//! The guardrail layers in the reference evaluator, written plainly from docs/guardrails.md:
//! service control policies on the caller's side, resource control policies on the key's side,
//! the VPC endpoint policy, and session policies.

use super::*;
use crate::arn::CallerKind;
use crate::world::guardrails::is_service_linked;
use crate::world::{Chain, OrgPolicy};

impl<'a> Eval<'a> {
    /// Whether SCPs govern the caller, and the caller account's chain if so: not a service
    /// principal, in an organization whose SCPs the world gives, not its management account, not
    /// a service-linked role.
    fn scp_chain(&self) -> Option<&'a Chain> {
        if self.caller.is_service() {
            return None;
        }
        let chain = self.world.chain(&self.caller.account)?;
        if !chain.scps_enabled || chain.management || self.service_linked() {
            return None;
        }
        Some(chain)
    }

    fn service_linked(&self) -> bool {
        let role = self
            .world
            .principal_for(self.caller)
            .map(|p| p.arn.as_str());
        is_service_linked(self.caller, role)
    }

    /// The RCPs that govern this component: those on the key owner's path (the caller's own for
    /// an action without a key), unless the owner is the management account, the key is AWS
    /// managed, the action is RetireGrant, or the caller is a service-linked role.
    fn rcps(&mut self) -> Vec<&'a OrgPolicy> {
        let account = match self.comp.key {
            Some(k) => {
                if k.metadata.key_manager == "AWS" {
                    return Vec::new();
                }
                k.account.as_str()
            }
            None if self.caller.is_service() => return Vec::new(),
            None => self.caller.account.as_str(),
        };
        if self.comp.action == actions::RETIRE_GRANT || self.service_linked() {
            return Vec::new();
        }
        let Some(chain) = self.world.chain(account) else {
            return Vec::new();
        };
        if chain.management || chain.rcps.is_empty() {
            return Vec::new();
        }
        if self.comp.key.is_none() {
            self.note(format!("documented default: {} names no key, so the resource control policies of the caller's account {account} apply", actions::full_name(self.comp.action)));
        }
        chain
            .rcps
            .iter()
            .map(|&i| &self.world.org_policies[i])
            .collect()
    }

    /// The session policies of the caller: the request's own, else the world's `sessions` entry;
    /// only role and federated-user sessions have them.
    pub(super) fn session_policies(&self) -> Option<&'a [Policy]> {
        if !matches!(
            self.caller.kind,
            CallerKind::AssumedRole { .. } | CallerKind::FederatedUser { .. }
        ) {
            return None;
        }
        self.session.or_else(|| {
            self.world
                .session(&self.caller.arn)
                .map(|s| &s.policies[..])
        })
    }

    /// Whether the session policies (if any) allow this component: some session policy has an
    /// Allow statement that applies. A federated-user session without session policies has no
    /// identity-side permissions.
    pub(super) fn session_allows(&mut self) -> bool {
        match self.session_policies() {
            Some(list) => list
                .iter()
                .any(|p| self.first_statement(p, Effect::Allow).is_some()),
            None => !matches!(self.caller.kind, CallerKind::FederatedUser { .. }),
        }
    }

    /// The endpoint whose policy governs the request, when `aws:SourceVpce` names one the world
    /// knows.
    fn endpoint(&mut self) -> Option<&'a crate::world::VpcEndpoint> {
        let id = self
            .ctx
            .single("aws:sourcevpce", Layer::Identity)?
            .to_owned();
        let e = self.world.vpc_endpoint(&id);
        if e.is_none() {
            self.note(format!("the request came through VPC endpoint {id}, which the world does not hold: decided without an endpoint policy"));
        }
        e
    }

    /// The first statement of `effect` in a policy with principals (RCP, endpoint policy) that
    /// names the caller and applies.
    fn first_with_principal<'p>(
        &mut self,
        policy: &'p Policy,
        effect: Effect,
    ) -> Option<(usize, &'p Statement)> {
        policy.statements.iter().enumerate().find(|(_, st)| {
            st.effect == effect
                && principal_level(st.principal.as_ref(), self.caller) != PrincipalMatch::No
                && self.statement_applies(st, policy, Layer::Identity)
        })
    }

    /// The first Deny of a guardrail layer: session policies, SCPs, RCPs, the endpoint policy.
    pub(super) fn guardrail_deny(&mut self) -> Option<Reason> {
        if let Some(list) = self.session_policies() {
            for (n, p) in list.iter().enumerate() {
                if let Some((i, st)) = self.first_statement(p, Effect::Deny) {
                    let source = Source::SessionPolicy {
                        session: self.caller.arn.clone(),
                        policy: n,
                    };
                    return Some(reason(source, i, st));
                }
            }
        }
        if let Some(chain) = self.scp_chain() {
            for level in &chain.scp_levels {
                for &p in &level.policies {
                    let scp = &self.world.org_policies[p];
                    if let Some((i, st)) = self.first_statement(&scp.policy, Effect::Deny) {
                        let source = Source::Scp {
                            policy_id: scp.id.clone(),
                        };
                        return Some(reason(source, i, st));
                    }
                }
            }
        }
        for rcp in self.rcps() {
            if let Some((i, st)) = self.first_with_principal(&rcp.policy, Effect::Deny) {
                let source = Source::Rcp {
                    policy_id: rcp.id.clone(),
                };
                return Some(reason(source, i, st));
            }
        }
        let endpoint = self.endpoint()?;
        let policy = endpoint.policy.as_ref()?;
        let (i, st) = self.first_with_principal(policy, Effect::Deny)?;
        let source = Source::VpcEndpointPolicy {
            endpoint: endpoint.id.clone(),
        };
        Some(reason(source, i, st))
    }

    /// The guardrail allow that is missing, if any: a level of the caller's path where no
    /// attached SCP allows, or an endpoint policy that does not allow. (RCPs never allow
    /// implicitly-denied requests away: `RCPFullAWSAccess` allows everything at every level.)
    pub(super) fn guardrail_gate(&mut self) -> Option<Missing> {
        if let Some(chain) = self.scp_chain() {
            for level in &chain.scp_levels {
                let allowed = level.policies.iter().any(|&p| {
                    let scp = &self.world.org_policies[p];
                    self.first_statement(&scp.policy, Effect::Allow).is_some()
                });
                if !allowed {
                    let attached: Vec<&str> = level
                        .policies
                        .iter()
                        .map(|&p| self.world.org_policies[p].id.as_str())
                        .collect();
                    let what = actions::full_name(self.comp.action);
                    self.note(if attached.is_empty() {
                        format!("scp: no service control policy is attached at {}, so nothing there allows {what}", level.id)
                    } else {
                        format!("scp: at {} no attached service control policy ({}) allows {what}", level.id, attached.join(", "))
                    });
                    return Some(Missing::ScpAllow);
                }
            }
        }
        let endpoint = self.endpoint()?;
        let policy = endpoint.policy.as_ref()?;
        if self.first_with_principal(policy, Effect::Allow).is_none() {
            self.note(format!(
                "vpc-endpoint-policy: the policy of {} does not allow {}",
                endpoint.id,
                actions::full_name(self.comp.action)
            ));
            return Some(Missing::VpcEndpointAllow);
        }
        None
    }
}
