//! Findings (`keyward findings`): the exposures a reviewer wants flagged in a world, each with
//! the key or principal, the statement or grant, and why (docs/analysis.md).

use super::{Analyzer, Cond, Entry};
use crate::actions::{self, ActionSet};
use crate::arn::PrincipalEntry;
use crate::policy::{Effect, ResourcePattern, Statement};
use crate::world::{Key, World};
use serde_json::{json, Value};

/// How serious a finding is, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One exposure.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// A stable code: `external-access`, `public-principal`, `cross-account-grant`,
    /// `no-administrator`, `identity-kms-star`, `broad-iam-delegation`.
    pub code: &'static str,
    /// The key concerned, when there is one.
    pub key: Option<String>,
    /// The statement or grant, as a reason is written (`key policy of …, statement 1 (Sid …)`).
    pub place: String,
    pub why: String,
}

impl Finding {
    /// The finding as a JSON object.
    pub fn to_json(&self) -> Value {
        json!({"severity": self.severity.name(), "code": self.code, "key": self.key,
               "place": self.place, "why": self.why})
    }
}

/// Condition keys that confine a `*` principal to known callers.
fn limits_callers(c: &Cond) -> bool {
    let Cond::Policy { condition, .. } = c else {
        return false;
    };
    let k = condition.key_lower.as_str();
    matches!(
        k,
        "kms:calleraccount"
            | "aws:principalaccount"
            | "aws:principalorgid"
            | "aws:principalorgpaths"
            | "aws:principalarn"
            | "aws:sourceaccount"
            | "aws:sourcearn"
            | "aws:sourcevpce"
            | "aws:sourcevpc"
            | "aws:userid"
    ) && !condition.operator.base.is_negated()
        && !condition.operator.if_exists
}

/// The accounts a class entry or grantee lets in, when it names one.
fn account_of(principal: &str) -> Option<&str> {
    if let Some(a) = principal.strip_prefix("account:") {
        return Some(a);
    }
    crate::arn::split_arn(principal).map(|p| p[4])
}

fn org_of<'a>(world: &'a World, account: &str) -> Option<&'a str> {
    world.accounts.get(account)?.org_id.as_deref()
}

/// Whether `account` is outside the key's account and organization.
fn outside(world: &World, key: &Key, account: &str) -> bool {
    account != key.account
        && (org_of(world, account).is_none()
            || org_of(world, account) != org_of(world, &key.account))
}

/// Whether a statement allows every KMS action on every resource without a condition.
fn kms_star_on_star(an: &Analyzer, st: &Statement) -> bool {
    st.effect == Effect::Allow
        && st.conditions.is_empty()
        && an.actions_of(st) == ActionSet::ALL
        && st
            .resource
            .as_ref()
            .is_some_and(|r| !r.negated && r.patterns.contains(&ResourcePattern::Any))
}

/// Every finding on the world, most serious first, then in world order.
pub fn findings(an: &Analyzer) -> Vec<Finding> {
    let world = an.world;
    let mut out = Vec::new();
    let all = super::analysed_actions();
    let put_key_policy = {
        let mut s = ActionSet::EMPTY;
        s.insert(actions::PUT_KEY_POLICY);
        s
    };
    // Principals with broad IAM allows, per account: kms:* on *.
    let mut broad: std::collections::HashMap<&str, Vec<String>> = Default::default();
    for p in &world.principals {
        for (i, pol) in p.policies.iter().enumerate() {
            for (j, st) in pol.statements.iter().enumerate() {
                if kms_star_on_star(an, st) {
                    broad
                        .entry(p.account.as_str())
                        .or_default()
                        .push(p.arn.clone());
                    out.push(Finding {
                        severity: Severity::Medium,
                        code: "identity-kms-star",
                        key: None,
                        place: format!(
                            "identity policy {i} of {}, statement {j}{}",
                            p.arn,
                            sid(st)
                        ),
                        why: "allows kms:* on every key (Resource \"*\") without a condition"
                            .into(),
                    });
                }
            }
        }
    }
    let mut groups: Vec<_> = world.groups.values().collect();
    groups.sort_by(|a, b| a.arn.cmp(&b.arn));
    for g in groups {
        for (i, pol) in g.policies.iter().enumerate() {
            for (j, st) in pol.statements.iter().enumerate() {
                if kms_star_on_star(an, st) {
                    if let Some(a) = crate::arn::split_arn(&g.arn).map(|p| p[4]) {
                        broad.entry(a).or_default().push(g.arn.clone());
                    }
                    out.push(Finding {
                        severity: Severity::Medium,
                        code: "identity-kms-star",
                        key: None,
                        place: format!("policy {i} of group {}, statement {j}{}", g.arn, sid(st)),
                        why: "allows kms:* on every key (Resource \"*\") without a condition"
                            .into(),
                    });
                }
            }
        }
    }

    for key in &world.keys {
        let Some(policy) = &key.policy else {
            out.push(Finding {
                severity: Severity::High,
                code: "no-administrator",
                key: Some(key.arn.clone()),
                place: format!("key {}", key.arn),
                why: "the key has no key policy: nobody can use or administer it".into(),
            });
            continue;
        };
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut once = |code: &str, place: &str| {
            let k = (code.to_owned(), place.to_owned());
            let new = !seen.contains(&k);
            if new {
                seen.push(k);
            }
            new
        };
        for a in all.iter() {
            for e in an.classes_with(key, a, false) {
                let place = e.via.first().map(|r| r.to_string()).unwrap_or_default();
                if e.principal == "*" {
                    let limited = e.conditions.iter().any(limits_callers);
                    if !limited && once("public-principal", &place) {
                        out.push(Finding {
                            severity: if e.conditions.is_empty() {
                                Severity::Critical
                            } else {
                                Severity::High
                            },
                            code: "public-principal",
                            key: Some(key.arn.clone()),
                            place: place.clone(),
                            why: public_why(world, &e),
                        });
                    }
                    continue;
                }
                let grant = e
                    .via
                    .first()
                    .is_some_and(|r| matches!(r.source, crate::decision::Source::Grant { .. }));
                let Some(account) = account_of(&e.principal) else {
                    continue;
                };
                if account == key.account {
                    continue;
                }
                if grant && once("cross-account-grant", &place) {
                    out.push(Finding {
                        severity: Severity::Medium,
                        code: "cross-account-grant",
                        key: Some(key.arn.clone()),
                        place: place.clone(),
                        why: format!(
                            "a grant lets {} (account {account}) use the key",
                            e.principal
                        ),
                    });
                }
                if outside(world, key, account) && once("external-access", &place) {
                    out.push(Finding {
                        severity: Severity::High,
                        code: "external-access",
                        key: Some(key.arn.clone()),
                        place,
                        why: format!(
                            "{} outside the key's account and organization can use the key ({})",
                            e.principal,
                            actions::full_name(a)
                        ),
                    });
                }
            }
        }
        // AWS managed keys (alias/aws/…, policy Id auto-…) are administered by AWS itself.
        let aws_managed = key.aliases.iter().any(|a| a.starts_with("alias/aws/"))
            || policy
                .id
                .as_deref()
                .is_some_and(|id| id.starts_with("auto-"));
        let admins = an.who_can(key, put_key_policy);
        if !aws_managed && admins.actions.iter().all(|(_, es)| es.is_empty()) {
            out.push(Finding {
                severity: Severity::High,
                code: "no-administrator",
                key: Some(key.arn.clone()),
                place: format!("key policy of {}", key.arn),
                why: "no principal or account can call kms:PutKeyPolicy on the key: it cannot be administered (lockout)".into(),
            });
        }
        // Delegation to the key's own account, where the account has broad IAM allows.
        if let Some(who) = broad.get(key.account.as_str()) {
            for (i, st) in policy.statements.iter().enumerate() {
                let delegates = st.effect == Effect::Allow
                    && st.principal.as_ref().is_some_and(|p| {
                        !p.negated
                            && p.entries.iter().any(
                                |e| matches!(e, PrincipalEntry::Account(a) if a == &key.account),
                            )
                    });
                if delegates {
                    let shown: Vec<&str> = who.iter().take(3).map(String::as_str).collect();
                    let more = who.len().saturating_sub(3);
                    out.push(Finding {
                        severity: Severity::Low,
                        code: "broad-iam-delegation",
                        key: Some(key.arn.clone()),
                        place: format!("key policy of {}, statement {i}{}", key.arn, sid(st)),
                        why: format!(
                            "the key policy enables IAM policies, and account {} has {} allowed kms:* on every key: {}{}",
                            key.account,
                            crate::cli::count(who.len(), "identity", "identities"),
                            shown.join(", "),
                            if more > 0 { format!(" and {more} more") } else { String::new() }
                        ),
                    });
                    break;
                }
            }
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn sid(st: &Statement) -> String {
    st.sid
        .as_ref()
        .map(|s| format!(" (Sid {s:?})"))
        .unwrap_or_default()
}

fn public_why(world: &World, e: &Entry) -> String {
    if e.conditions.is_empty() {
        return "Principal \"*\" without any condition: every AWS principal (in other accounts, with its own IAM allow) can use the key".into();
    }
    let conds: Vec<String> = e.conditions.iter().map(|c| c.text(world)).collect();
    format!(
        "Principal \"*\" whose conditions ({}) do not limit the caller's account, organization or identity",
        conds.join("; ")
    )
}
