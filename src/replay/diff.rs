//! What a new policy set would change, before it is deployed: the same logged traffic decided
//! against two worlds, and every record whose decision flips between allowed and denied, grouped
//! by principal, key and action with the statements that decided on each side.
//!
//! A change of kind of deny (explicit to implicit or back) is not a change of access and is not
//! listed.

use super::read::Input;
use super::{source_value, At};
use crate::decision::{Decision, Outcome};
use crate::engine::Engine;
use crate::request::Request;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One record whose decision changes.
#[derive(Clone, Debug)]
pub struct Change {
    pub at: At,
    pub event_id: Option<String>,
    pub request: Request,
    /// The decision under the first world (`--world`).
    pub before: Decision,
    /// The decision under the second world (`--against`).
    pub after: Decision,
}

/// The changed decisions of a replay: complete counts and the first changes (up to the limit).
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub allow_to_deny: u64,
    pub deny_to_allow: u64,
    /// The first changes by position.
    pub list: Vec<Change>,
}

/// Changes that share principal, resource, action, both outcomes and both sets of reasons.
#[derive(Debug)]
pub struct Group<'c> {
    pub principal: &'c str,
    pub resource: &'c str,
    pub action: String,
    pub changes: Vec<&'c Change>,
}

impl<'c> Group<'c> {
    fn first(&self) -> &'c Change {
        self.changes[0]
    }

    /// `allow-to-deny` or `deny-to-allow`.
    pub fn direction(&self) -> &'static str {
        if self.first().before.outcome == Outcome::Allow {
            "allow-to-deny"
        } else {
            "deny-to-allow"
        }
    }
}

impl Changes {
    /// Records whose decision changes.
    pub fn changed(&self) -> u64 {
        self.allow_to_deny + self.deny_to_allow
    }

    /// Counts one change (allowed before or not) and says how many are listed so far.
    pub(crate) fn count(&mut self, allowed_before: bool) -> usize {
        if allowed_before {
            self.allow_to_deny += 1;
        } else {
            self.deny_to_allow += 1;
        }
        self.list.len()
    }

    /// Joins the changes of consecutive pieces of input, keeping the first `cap` listed.
    pub fn merge(mut self, b: Changes, cap: usize) -> Changes {
        self.allow_to_deny += b.allow_to_deny;
        self.deny_to_allow += b.deny_to_allow;
        self.list.extend(b.list);
        self.list.sort_by_key(|c| c.at);
        self.list.truncate(cap);
        self
    }

    /// The listed changes grouped: allow→deny first, then by principal, resource and action.
    pub fn groups(&self) -> Vec<Group<'_>> {
        let mut map: BTreeMap<GroupKey, Vec<&Change>> = BTreeMap::new();
        for c in &self.list {
            let key = (
                c.before.outcome != Outcome::Allow,
                c.request.caller.arn.as_str(),
                c.request.resource.as_str(),
                c.request.action_name(),
                reasons(&c.before),
                reasons(&c.after),
            );
            map.entry(key).or_default().push(c);
        }
        map.into_iter()
            .map(|((_, principal, resource, action, _, _), changes)| Group {
                principal,
                resource,
                action,
                changes,
            })
            .collect()
    }

    /// The changes as JSON, each group with the decisions and explanations of both sides.
    pub fn to_json(&self, files: &[Input], before: &Engine, after: &Engine) -> Value {
        let file = |at: At| {
            files
                .get(at.file as usize)
                .map_or("?", |f| f.shown.as_str())
        };
        let groups: Vec<Value> = self
            .groups()
            .iter()
            .map(|g| {
                let first = g.first();
                let (_, before_x) = crate::reference::explain(before.world(), &first.request);
                let (_, after_x) = crate::reference::explain(after.world(), &first.request);
                json!({
                    "change": g.direction(),
                    "principal": g.principal,
                    "resource": g.resource,
                    "action": g.action,
                    "count": g.changes.len(),
                    "before": first.before.to_value(Some(&before_x)),
                    "after": first.after.to_value(Some(&after_x)),
                    "records": g.changes.iter().map(|c| source_value(file(c.at), c.at, c.event_id.as_deref())).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "changed": self.changed(),
            "allow_to_deny": self.allow_to_deny,
            "deny_to_allow": self.deny_to_allow,
            "unlisted": self.changed() - self.list.len() as u64,
            "groups": groups,
        })
    }

    /// The changes for people.
    pub fn to_text(&self, files: &[Input], before: &Engine, after: &Engine) -> String {
        let file = |at: At| {
            files
                .get(at.file as usize)
                .map_or("?", |f| f.shown.as_str())
        };
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "decisions that change with the second world: {} ({} allow → deny, {} deny → allow)",
            self.changed(),
            self.allow_to_deny,
            self.deny_to_allow
        );
        for g in self.groups() {
            let first = g.first();
            let _ = writeln!(
                w,
                "  {}: {} {} on {} ({})",
                g.direction(),
                g.principal,
                g.action,
                g.resource,
                plural(g.changes.len(), "record")
            );
            for (side, decision, engine) in [
                ("before", &first.before, before),
                ("after ", &first.after, after),
            ] {
                let _ = write!(w, "    {side}: {}", decision.outcome);
                if decision.reasons.is_empty() {
                    let (_, x) = crate::reference::explain(engine.world(), &first.request);
                    if let Some(m) = x.missing {
                        let _ = write!(w, " ({})", m.code());
                    }
                }
                let _ = writeln!(w);
                for r in &decision.reasons {
                    let _ = writeln!(w, "      by {r}");
                }
            }
            for c in &g.changes {
                let id = c
                    .event_id
                    .as_deref()
                    .map(|e| format!(" (eventID {e})"))
                    .unwrap_or_default();
                let _ = writeln!(w, "    {} record {}{id}", file(c.at), c.at.record);
            }
        }
        let unlisted = self.changed() - self.list.len() as u64;
        if unlisted > 0 {
            let _ = writeln!(
                w,
                "  … and {unlisted} more changed records (raise --limit to list them)"
            );
        }
        out
    }
}

/// What groups changes: direction (denied before), principal, resource, action, and the reasons
/// of both sides.
type GroupKey<'c> = (bool, &'c str, &'c str, String, Vec<String>, Vec<String>);

/// `1 record`, `2 records`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn reasons(d: &Decision) -> Vec<String> {
    d.reasons.iter().map(|r| r.to_string()).collect()
}
