//! Loading the guardrail parts of a world (docs/guardrails.md): `organizations`,
//! `organization_policies`, `vpc_endpoints` and `sessions`, and checking them once every file is
//! merged (an RCP that allows, a target on no account's path, a policy whose organization is
//! unclear).

use super::*;
use crate::world::guardrails::path_levels;

/// Fields of an `organization_policies` entry: `describe-policy`'s summary and content, and
/// `list-targets-for-policy`'s targets.
const ORG_POLICY_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "Type",
    "Content",
    "Targets",
    "OrganizationId",
    "Arn",
    "Description",
    "AwsManaged",
];

/// Fields of a `vpc_endpoints` entry that keyward reads; `describe-vpc-endpoints` prints many
/// more, which are ignored without a warning.
const ENDPOINT_FIELDS: &[&str] = &[
    "VpcEndpointId",
    "VpcId",
    "OwnerId",
    "ServiceName",
    "PolicyDocument",
];

/// An organization policy as read, before its organization is known.
pub(super) struct PendingPolicy {
    pub place: String,
    pub id: String,
    pub name: Option<String>,
    pub kind: OrgPolicyKind,
    pub org_id: Option<String>,
    pub policy: Policy,
    pub targets: Vec<String>,
}

impl Builder {
    pub(super) fn organization(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(
            o,
            &place,
            &[
                "id",
                "management_account",
                "root",
                "Id",
                "MasterAccountId",
                "Arn",
            ],
        );
        // `describe-organization` prints Id and MasterAccountId; the world form is lower case.
        let id = match o.get("Id") {
            Some(_) => self.string(o, &place, "Id", true),
            None => self.string(o, &place, "id", true),
        };
        let Some(id) = id else { return };
        let place = format!("{place} ({id})");
        if !id.starts_with("o-") {
            self.error(
                format!("{place} field id"),
                format!("{id:?} is not an organization id (o-…)"),
            );
            return;
        }
        let management = match o.get("MasterAccountId") {
            Some(_) => self.string(o, &place, "MasterAccountId", false),
            None => self.string(o, &place, "management_account", false),
        };
        if let Some(m) = &management {
            if !crate::arn::is_account_id(m) {
                self.error(
                    format!("{place} field management_account"),
                    format!("{m:?} is not a 12-digit account id"),
                );
            }
        }
        let root = self.string(o, &place, "root", false);
        if self.define("organization", &id, &place) {
            self.world.organizations.push(Organization {
                id,
                management_account: management,
                root,
            });
        }
    }

    pub(super) fn org_policy(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(o, &place, ORG_POLICY_FIELDS);
        let Some(id) = self.string(o, &place, "Id", true) else {
            return;
        };
        let place = format!("{place} ({id})");
        let name = self.string(o, &place, "Name", false);
        let kind = match self.string(o, &place, "Type", true).as_deref() {
            Some("SERVICE_CONTROL_POLICY") => OrgPolicyKind::Scp,
            Some("RESOURCE_CONTROL_POLICY") => OrgPolicyKind::Rcp,
            Some(other) => {
                self.warn(
                    format!("{place} field Type"),
                    format!("{other:?} policies do not affect KMS authorization; ignored"),
                );
                return;
            }
            None => return,
        };
        let org_id = self.string(o, &place, "OrganizationId", false);
        let mut targets = Vec::new();
        match o.get("Targets") {
            None => self.warn(
                format!("{place} field Targets"),
                "the policy is attached nowhere, so it never applies",
            ),
            Some(Value::Array(items)) => {
                for (i, t) in items.iter().enumerate() {
                    let id = t
                        .as_str()
                        .or_else(|| t.get("TargetId").and_then(Value::as_str));
                    match id {
                        Some(s) => targets.push(s.to_owned()),
                        None => self.error(
                            format!("{place} field Targets[{i}]"),
                            "must be a root, OU or account id, or a {\"TargetId\": …} object",
                        ),
                    }
                }
            }
            Some(v) => self.error(
                format!("{place} field Targets"),
                format!("must be an array, found {}", type_name(v)),
            ),
        }
        let doc_kind = match kind {
            OrgPolicyKind::Scp => PolicyKind::Identity,
            OrgPolicyKind::Rcp => PolicyKind::Key,
        };
        let Some(content) = o.get("Content") else {
            self.error(format!("{place} field Content"), "missing");
            return;
        };
        let Some(policy) = self.policy(content, &format!("{place} Content"), doc_kind) else {
            return;
        };
        if kind == OrgPolicyKind::Rcp && name.as_deref() != Some("RCPFullAWSAccess") {
            for (i, st) in policy.statements.iter().enumerate() {
                if st.effect == crate::policy::Effect::Allow {
                    self.error(
                        format!("{place} Content Statement[{i}] field Effect"),
                        "a resource control policy may only deny: RCPFullAWSAccess, the one that allows, is always attached",
                    );
                }
            }
        }
        self.pending_policies.push(PendingPolicy {
            place,
            id,
            name,
            kind,
            org_id,
            policy,
            targets,
        });
    }

    pub(super) fn vpc_endpoint(&mut self, o: &Map<String, Value>, place: String) {
        let Some(id) = self.string(o, &place, "VpcEndpointId", true) else {
            return;
        };
        let place = format!("{place} ({id})");
        let vpc_id = self.string(o, &place, "VpcId", false);
        let owner = self.string(o, &place, "OwnerId", false);
        if let Some(service) = self.string(o, &place, "ServiceName", false) {
            if !service.ends_with(".kms") && !service.ends_with(".kms-fips") {
                self.warn(
                    format!("{place} field ServiceName"),
                    format!(
                        "{service:?} is not a KMS endpoint; its policy never sees a KMS request"
                    ),
                );
            }
        }
        let policy = match o.get("PolicyDocument") {
            None | Some(Value::Null) => None,
            Some(v) => match self.policy(v, &format!("{place} PolicyDocument"), PolicyKind::Key) {
                Some(p) => Some(p),
                None => return,
            },
        };
        let _ = ENDPOINT_FIELDS;
        if self.define("VPC endpoint", &id, &place) {
            self.world.vpc_endpoints.push(VpcEndpoint {
                id,
                vpc_id,
                owner,
                policy,
            });
        }
    }

    pub(super) fn session(&mut self, o: &Map<String, Value>, place: String) {
        self.unknown_fields(o, &place, &["arn", "policies"]);
        let Some(arn) = self.string(o, &place, "arn", true) else {
            return;
        };
        let place = format!("{place} ({arn})");
        match Caller::parse(&arn) {
            Ok(c)
                if matches!(
                    c.kind,
                    CallerKind::AssumedRole { .. } | CallerKind::FederatedUser { .. }
                ) => {}
            Ok(_) => {
                self.error(
                    format!("{place} field arn"),
                    "only an assumed-role or federated-user session has session policies",
                );
                return;
            }
            Err(e) => {
                self.error(format!("{place} field arn"), e);
                return;
            }
        }
        if !o.contains_key("policies") {
            self.error(format!("{place} field policies"), "missing");
            return;
        }
        if o.get("policies")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            self.error(
                format!("{place} field policies"),
                "is empty: leave the session out when it has no session policy (an empty list would deny everything)",
            );
            return;
        }
        let policies = self.policies(o, &place, "policies");
        if self.define("session", &arn, &place) {
            self.world.sessions.push(Session { arn, policies });
        }
    }

    /// Once every file is read: give each organization policy its organization, and check that
    /// every target is a root, OU or account the world places in that organization.
    pub(super) fn finish_guardrails(&mut self) {
        // Which organization each root, OU and account id belongs to.
        let mut owner: HashMap<String, String> = HashMap::new();
        for org in &self.world.organizations {
            if let Some(r) = &org.root {
                owner.insert(r.clone(), org.id.clone());
            }
        }
        for (id, acct) in &self.world.accounts {
            let Some(org) = &acct.org_id else { continue };
            for p in &acct.org_paths {
                if !p.starts_with(&format!("{org}/")) {
                    self.errors.push(Finding {
                        severity: Severity::Error,
                        place: format!("accounts ({id}) field org_paths"),
                        message: format!("{p:?} does not start with the account's org_id {org:?}"),
                    });
                }
            }
            for level in path_levels(acct.org_paths.first().map(String::as_str), id) {
                owner.insert(level, org.clone());
            }
        }
        let pending = std::mem::take(&mut self.pending_policies);
        for p in pending {
            let mut orgs: Vec<String> = Vec::new();
            let mut ok = true;
            for (i, t) in p.targets.iter().enumerate() {
                match owner.get(t) {
                    Some(org) => {
                        if !orgs.contains(org) {
                            orgs.push(org.clone());
                        }
                    }
                    None => {
                        ok = false;
                        self.error(
                            format!("{} field Targets[{i}]", p.place),
                            format!("{t:?} is not the root, an OU or an account on any account's organization path in the world"),
                        );
                    }
                }
            }
            let org = match (&p.org_id, orgs.as_slice()) {
                (Some(given), found) if found.iter().all(|o| o == given) => given.clone(),
                (Some(given), found) => {
                    self.error(
                        format!("{} field OrganizationId", p.place),
                        format!("is {given:?}, but the targets are in {}", found.join(", ")),
                    );
                    continue;
                }
                (None, [one]) => one.clone(),
                (None, []) => {
                    if ok && self.world.organizations.len() == 1 {
                        self.world.organizations[0].id.clone()
                    } else {
                        if ok {
                            self.error(
                                format!("{} field OrganizationId", p.place),
                                "the policy has no target to say which organization it is in: give OrganizationId",
                            );
                        }
                        continue;
                    }
                }
                (None, many) => {
                    self.error(
                        format!("{} field Targets", p.place),
                        format!("the targets are in several organizations ({}): give OrganizationId and one entry per organization", many.join(", ")),
                    );
                    continue;
                }
            };
            if !ok {
                continue;
            }
            let tag = format!("{} in {org}", p.id);
            if !self.define("organization policy", &tag, &p.place) {
                continue;
            }
            self.world.org_policies.push(OrgPolicy {
                id: p.id,
                name: p.name,
                kind: p.kind,
                org_id: org,
                policy: p.policy,
                targets: p.targets,
            });
        }
    }
}
