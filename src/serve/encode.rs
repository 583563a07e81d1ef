//! Writing decisions (docs/formats.md) straight into a response buffer.
//!
//! [`Decision::to_value`] builds a `serde_json::Value` tree (a map per reason, a copy of every
//! string) that is serialized and dropped at once; on the batch route that was the largest cost
//! after parsing. This writes the same JSON — the same fields, in the same (sorted) key order,
//! byte for byte — from the decision directly. The tests below hold the two equal.

use crate::decision::{Decision, Reason, Source};
use smallvec::SmallVec;
use std::io::Write as _;

/// A field value in a reason.
enum Field<'a> {
    Str(&'a str),
    Num(usize),
}

/// Appends `decision` as the decision format (docs/formats.md) JSON (without explanation), with `warnings` when there are any.
pub fn write_decision(out: &mut Vec<u8>, decision: &Decision, warnings: &[String]) {
    // Destructured in full so that a field added to `Decision` fails to compile here until it
    // is written too.
    let Decision {
        outcome,
        reasons,
        key_state_error,
        operation_error,
    } = decision;
    out.extend_from_slice(b"{\"decision\":\"");
    out.extend_from_slice(outcome.as_str().as_bytes());
    out.push(b'"');
    if let Some(error) = key_state_error {
        out.extend_from_slice(b",\"key_state_error\":");
        write_str(out, error);
    }
    if let Some(error) = operation_error {
        out.extend_from_slice(b",\"operation_error\":");
        write_str(out, error);
    }
    out.extend_from_slice(b",\"reasons\":[");
    for (i, reason) in reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_reason(out, reason);
    }
    out.push(b']');
    if !warnings.is_empty() {
        out.extend_from_slice(b",\"warnings\":[");
        for (i, w) in warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, w);
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// Appends one reason with its keys in sorted order, as `Reason::to_value` serializes.
fn write_reason(out: &mut Vec<u8>, reason: &Reason) {
    let Reason {
        source,
        statement,
        sid,
    } = reason;
    // Each source has at most three fields of its own, plus sid and statement.
    let mut fields: SmallVec<[(&str, Field); 6]> = SmallVec::new();
    match source {
        Source::KeyPolicy { key } => {
            fields.push(("source", Field::Str("key-policy")));
            fields.push(("key", Field::Str(key)));
        }
        Source::IdentityPolicy { principal, policy } => {
            fields.push(("source", Field::Str("identity-policy")));
            fields.push(("principal", Field::Str(principal)));
            fields.push(("policy", Field::Num(*policy)));
        }
        Source::GroupPolicy { group, policy } => {
            fields.push(("source", Field::Str("group-policy")));
            fields.push(("group", Field::Str(group)));
            fields.push(("policy", Field::Num(*policy)));
        }
        Source::PermissionsBoundary { principal } => {
            fields.push(("source", Field::Str("permissions-boundary")));
            fields.push(("principal", Field::Str(principal)));
        }
        Source::Grant { key, grant_id } => {
            fields.push(("source", Field::Str("grant")));
            fields.push(("key", Field::Str(key)));
            fields.push(("grant_id", Field::Str(grant_id)));
        }
        Source::RootUser { account } => {
            fields.push(("source", Field::Str("root-user")));
            fields.push(("account", Field::Str(account)));
        }
        Source::Scp { policy_id } => {
            fields.push(("source", Field::Str("scp")));
            fields.push(("policy_id", Field::Str(policy_id)));
        }
        Source::Rcp { policy_id } => {
            fields.push(("source", Field::Str("rcp")));
            fields.push(("policy_id", Field::Str(policy_id)));
        }
        Source::VpcEndpointPolicy { endpoint } => {
            fields.push(("source", Field::Str("vpc-endpoint-policy")));
            fields.push(("endpoint", Field::Str(endpoint)));
        }
        Source::SessionPolicy { session, policy } => {
            fields.push(("source", Field::Str("session-policy")));
            fields.push(("session", Field::Str(session)));
            fields.push(("policy", Field::Num(*policy)));
        }
    }
    if let Some(sid) = sid {
        fields.push(("sid", Field::Str(sid)));
    }
    if let Some(i) = *statement {
        fields.push(("statement", Field::Num(i)));
    }
    fields.sort_unstable_by_key(|(name, _)| *name);
    out.push(b'{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        match value {
            Field::Str(s) => write_str(out, s),
            Field::Num(v) => {
                let _ = write!(out, "{v}");
            }
        }
    }
    out.push(b'}');
}

/// Appends a JSON string, escaped as serde_json escapes it.
fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Rare: let serde_json do the escaping. Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Outcome;
    use crate::engine::Engine;

    fn encoded(d: &Decision, warnings: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        write_decision(&mut out, d, warnings);
        out
    }

    fn reference(d: &Decision, warnings: &[String]) -> Vec<u8> {
        let mut v = d.to_value(None);
        if !warnings.is_empty() {
            v["warnings"] = warnings.to_vec().into();
        }
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn every_reason_source_encodes_as_to_value_does() {
        let reason = |source, statement, sid: Option<&str>| Reason {
            source,
            statement,
            sid: sid.map(str::to_owned),
        };
        let d = Decision {
            outcome: Outcome::Allow,
            reasons: vec![
                reason(
                    Source::KeyPolicy { key: "k".into() },
                    Some(2),
                    Some("Allow \"use\"\n"),
                ),
                reason(
                    Source::IdentityPolicy {
                        principal: "p".into(),
                        policy: 3,
                    },
                    Some(0),
                    None,
                ),
                reason(
                    Source::GroupPolicy {
                        group: "g".into(),
                        policy: 1,
                    },
                    Some(4),
                    Some("G"),
                ),
                reason(
                    Source::PermissionsBoundary {
                        principal: "p\u{1}".into(),
                    },
                    Some(1),
                    None,
                ),
                reason(
                    Source::Grant {
                        key: "k".into(),
                        grant_id: "gid".into(),
                    },
                    None,
                    None,
                ),
                reason(
                    Source::RootUser {
                        account: "111122223333".into(),
                    },
                    None,
                    Some("é"),
                ),
            ],
            key_state_error: Some("DisabledException".into()),
            operation_error: Some("MalformedPolicyDocumentException".into()),
        };
        let warnings = vec!["request field x: unknown".to_owned()];
        assert_eq!(encoded(&d, &warnings), reference(&d, &warnings));
        let bare = Decision {
            outcome: Outcome::ImplicitDeny,
            reasons: vec![],
            key_state_error: None,
            operation_error: None,
        };
        assert_eq!(encoded(&bare, &[]), reference(&bare, &[]));
    }

    #[test]
    fn generated_decisions_encode_as_to_value_does() {
        let generated = crate::gen::world(crate::gen::Shape {
            keys: 60,
            principals: 40,
            seed: 3,
        });
        let world = crate::world::World::from_value(&generated.world, "generated").unwrap();
        let engine = Engine::compile(world);
        let mut outcomes = std::collections::HashSet::new();
        for value in generated.requests(2_000, 3) {
            let (request, _) = crate::request::Request::from_value(&value).unwrap();
            let d = engine.decide(&request);
            outcomes.insert(d.outcome);
            assert_eq!(encoded(&d, &[]), reference(&d, &[]), "{value}");
        }
        assert_eq!(outcomes.len(), 3, "the workload should reach every outcome");
    }
}
