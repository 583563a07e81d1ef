//! A request (docs/formats.md (Requests)): who asks, for which KMS action, on which resource, with which context.
//! Parsing validates the principal and the action once, so evaluators never see a malformed request.

use crate::actions::{self, ActionId};
use crate::arn::Caller;
use crate::json::type_name;
use crate::policy::{parse_policy, ParseOptions, Policy, PolicyKind};
use serde_json::{Map, Value};
use std::fmt;

/// A context value given with the request: one string, or a set of strings. Numbers and booleans
/// are kept in their string form, as AWS compares them (docs/semantics.md §1.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextValue {
    Single(String),
    Multi(Vec<String>),
}

/// The action a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestAction {
    /// One KMS action.
    One(ActionId),
    /// `kms:ReEncrypt`: `kms:ReEncryptFrom` on the source key and `kms:ReEncryptTo` on the
    /// destination key (docs/semantics.md §2.2).
    ReEncrypt,
}

/// An authorization request (docs/formats.md, "Requests"). Reading one also returns warnings,
/// such as unknown fields.
///
/// ```
/// let (request, warnings) = keyward::Request::from_json(r#"{"principal": "arn:aws:sts::111122223333:assumed-role/app-web/i-0fedcba9876543210",
///     "action": "kms:Decrypt", "encryption_context": {"app": "web"},
///     "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#)?;
/// assert_eq!(request.action_name(), "kms:Decrypt");
/// assert!(warnings.is_empty());
/// # Ok::<(), keyward::request::RequestError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The caller, parsed from `principal`.
    pub caller: Caller,
    pub action: RequestAction,
    /// A key ARN, an alias ARN, or `*` for actions without a resource.
    pub resource: String,
    /// Context keys given by the request, with their names as written.
    pub context: Vec<(String, ContextValue)>,
    /// The encryption context (for CreateGrant: the child grant's constraint pairs).
    pub encryption_context: Vec<(String, String)>,
    pub grant_tokens: Vec<String>,
    /// The grant that RetireGrant / RevokeGrant act on.
    pub grant_id: Option<String>,
    /// ReEncrypt: the destination key (key or alias ARN) and its encryption context.
    pub destination: Option<String>,
    pub destination_encryption_context: Vec<(String, String)>,
    /// CreateAlias / UpdateAlias: the key the alias is to point to.
    pub target_key: Option<String>,
    /// PutKeyPolicy: the new key policy, for the lockout safety check (docs/semantics.md §7.9).
    pub policy: Option<Policy>,
    /// The session policies of an assumed-role or federated-user session (docs/guardrails.md);
    /// `None` when the request gives none (a `sessions` entry of the world may).
    pub session_policies: Option<Vec<Policy>>,
}

/// Why a request could not be read: the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request field {}: {}", self.field, self.message)
    }
}

impl std::error::Error for RequestError {}

fn err(field: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Fields a request may carry.
const FIELDS: &[&str] = &[
    "principal",
    "action",
    "resource",
    "context",
    "encryption_context",
    "grant_tokens",
    "grant_id",
    "destination",
    "destination_encryption_context",
    "target_key",
    "policy",
    "session_policies",
];

impl Request {
    /// A request by `caller` for one `action` on `resource` that carries nothing else: the
    /// starting point for requests built from a record or for an analysis.
    pub(crate) fn bare(caller: Caller, action: ActionId, resource: String) -> Request {
        Request {
            caller,
            action: RequestAction::One(action),
            resource,
            context: Vec::new(),
            encryption_context: Vec::new(),
            grant_tokens: Vec::new(),
            grant_id: None,
            destination: None,
            destination_encryption_context: Vec::new(),
            target_key: None,
            policy: None,
            session_policies: None,
        }
    }

    /// Reads a request from JSON. Unknown fields are returned as warnings.
    pub fn from_value(value: &Value) -> Result<(Request, Vec<String>), RequestError> {
        let obj = value.as_object().ok_or_else(|| {
            err(
                "(request)",
                format!("must be a JSON object, found {}", type_name(value)),
            )
        })?;
        let warnings = obj
            .keys()
            .filter(|k| !FIELDS.contains(&k.as_str()))
            .map(|k| format!("request field {k}: unknown field, ignored"))
            .collect();
        let string = |field: &str| -> Result<Option<String>, RequestError> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(err(
                    field,
                    format!("must be a string, found {}", type_name(v)),
                )),
            }
        };
        let principal = string("principal")?.ok_or_else(|| err("principal", "missing"))?;
        let caller = Caller::parse(&principal).map_err(|e| err("principal", e))?;
        let action_text = string("action")?.ok_or_else(|| err("action", "missing"))?;
        let action = parse_request_action(&action_text).map_err(|e| err("action", e))?;
        let resource = string("resource")?.ok_or_else(|| err("resource", "missing"))?;
        if resource != "*" && crate::arn::split_arn(&resource).is_none() {
            return Err(err(
                "resource",
                format!("{resource:?} is not a key ARN, an alias ARN or \"*\""),
            ));
        }
        let context = match obj.get("context") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => context_values(m)?,
            Some(v) => {
                return Err(err(
                    "context",
                    format!("must be an object, found {}", type_name(v)),
                ))
            }
        };
        let encryption_context = string_pairs(obj, "encryption_context")?;
        let destination_encryption_context = string_pairs(obj, "destination_encryption_context")?;
        let grant_tokens = match obj.get("grant_tokens") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        err(
                            &format!("grant_tokens[{i}]"),
                            format!("must be a string, found {}", type_name(v)),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(v) => {
                return Err(err(
                    "grant_tokens",
                    format!("must be an array of strings, found {}", type_name(v)),
                ))
            }
        };
        let destination = string("destination")?;
        if action == RequestAction::ReEncrypt && destination.is_none() {
            return Err(err(
                "destination",
                "kms:ReEncrypt needs the destination key",
            ));
        }
        let request = Request {
            caller,
            action,
            resource,
            context,
            encryption_context,
            grant_tokens,
            grant_id: string("grant_id")?,
            destination,
            destination_encryption_context,
            target_key: string("target_key")?,
            policy: match obj.get("policy") {
                None | Some(Value::Null) => None,
                Some(v) => Some(new_key_policy(v)?),
            },
            session_policies: crate::world::guardrails::request_session_policies(
                obj.get("session_policies"),
            )
            .map_err(|(field, message)| err(&field, message))?,
        };
        Ok((request, warnings))
    }

    /// Reads a request from JSON text.
    pub fn from_json(text: &str) -> Result<(Request, Vec<String>), RequestError> {
        let value =
            crate::json::parse(text).map_err(|e| err("(request)", format!("invalid JSON: {e}")))?;
        Request::from_value(&value)
    }

    /// The action as written in canonical form (`kms:Decrypt`, `kms:ReEncrypt`).
    pub fn action_name(&self) -> String {
        match self.action {
            RequestAction::One(id) => actions::full_name(id),
            RequestAction::ReEncrypt => "kms:ReEncrypt".into(),
        }
    }

    /// The request as JSON, in the the request format (docs/formats.md) format.
    pub fn to_value(&self) -> Value {
        let mut o = Map::new();
        o.insert("principal".into(), self.caller.arn.clone().into());
        o.insert("action".into(), self.action_name().into());
        o.insert("resource".into(), self.resource.clone().into());
        if !self.context.is_empty() {
            let ctx = self
                .context
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        ContextValue::Single(s) => Value::from(s.clone()),
                        ContextValue::Multi(vs) => Value::from(vs.clone()),
                    };
                    (k.clone(), v)
                })
                .collect();
            o.insert("context".into(), Value::Object(ctx));
        }
        let pairs = |p: &[(String, String)]| {
            Value::Object(
                p.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                    .collect(),
            )
        };
        if !self.encryption_context.is_empty() {
            o.insert("encryption_context".into(), pairs(&self.encryption_context));
        }
        if !self.grant_tokens.is_empty() {
            o.insert("grant_tokens".into(), self.grant_tokens.clone().into());
        }
        if let Some(g) = &self.grant_id {
            o.insert("grant_id".into(), g.clone().into());
        }
        if let Some(d) = &self.destination {
            o.insert("destination".into(), d.clone().into());
        }
        if !self.destination_encryption_context.is_empty() {
            o.insert(
                "destination_encryption_context".into(),
                pairs(&self.destination_encryption_context),
            );
        }
        if let Some(t) = &self.target_key {
            o.insert("target_key".into(), t.clone().into());
        }
        if self.policy.is_some() {
            o.insert("policy".into(), "(new key policy)".into());
        }
        if let Some(p) = &self.session_policies {
            o.insert(
                "session_policies".into(),
                format!("({} session policies)", p.len()).into(),
            );
        }
        Value::Object(o)
    }
}

/// Reads the new key policy of a PutKeyPolicy request (an object, or the JSON string the API
/// takes); a policy AWS would reject is an error naming its statement and field.
fn new_key_policy(v: &Value) -> Result<Policy, RequestError> {
    let (doc, text) = match v {
        Value::String(s) => (
            crate::json::parse(s).map_err(|e| {
                err(
                    "policy",
                    format!("MalformedPolicyDocumentException: not valid JSON: {e}"),
                )
            })?,
            Some(s.as_str()),
        ),
        v => (v.clone(), None),
    };
    parse_policy(&doc, text, PolicyKind::Key, &ParseOptions::default())
        .map(|(p, _)| p)
        .map_err(|errors| {
            err(
                "policy",
                errors
                    .iter()
                    .map(|e| {
                        format!(
                            "MalformedPolicyDocumentException: {}: {}",
                            e.place, e.message
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
}

/// Parses a request action: `kms:<Operation>` (case-insensitive) or `kms:ReEncrypt`.
pub fn parse_request_action(text: &str) -> Result<RequestAction, String> {
    if text.eq_ignore_ascii_case("kms:ReEncrypt") {
        return Ok(RequestAction::ReEncrypt);
    }
    actions::parse_action(text)
        .map(RequestAction::One)
        .ok_or_else(|| {
            let hint = actions::suggest(text).map(|a| format!("; did you mean {a:?}?"));
            format!(
                "{text:?} is not a KMS action (kms:Operation){}",
                hint.unwrap_or_default()
            )
        })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the request's context: every known key is checked against its type (see
/// [`crate::context_keys`]); one key written twice in different case, or an encryption-context key
/// (which only `encryption_context` may give), is an error naming the key.
fn context_values(m: &Map<String, Value>) -> Result<Vec<(String, ContextValue)>, RequestError> {
    let mut out: Vec<(String, ContextValue)> = Vec::with_capacity(m.len());
    for (k, v) in m {
        let field = format!("context.{k}");
        if let Some((first, _)) = out.iter().find(|(o, _)| o.eq_ignore_ascii_case(k)) {
            return Err(err(
                &field,
                format!("the same condition key as context.{first} (key names ignore case); give it once"),
            ));
        }
        if crate::context_keys::is_encryption_context_key(&k.to_ascii_lowercase()) {
            return Err(err(
                &field,
                "an encryption-context key comes from encryption_context (or \
                 destination_encryption_context), not from context",
            ));
        }
        let value = crate::context_keys::read_value(k, v).map_err(|e| {
            if let Some(rest) = e.strip_prefix('[') {
                let (i, msg) = rest.split_once("] ").unwrap_or((rest, ""));
                err(&format!("{field}[{i}]"), msg)
            } else {
                err(&field, e)
            }
        })?;
        out.push((k.clone(), value));
    }
    Ok(out)
}

fn string_pairs(
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Vec<(String, String)>, RequestError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                // Encryption-context values are strings; a number is compared as its text (E40).
                let max = crate::context_keys::MAX_VALUE_BYTES;
                if k.len() > max || scalar(v).is_some_and(|s| s.len() > max) {
                    return Err(err(
                        &format!("{field}.{k}"),
                        format!("longer than {max} bytes"),
                    ));
                }
                scalar(v).map(|s| (k.clone(), s)).ok_or_else(|| {
                    err(
                        &format!("{field}.{k}"),
                        format!("must be a string, found {}", type_name(v)),
                    )
                })
            })
            .collect(),
        Some(v) => Err(err(
            field,
            format!("must be an object of strings, found {}", type_name(v)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_b2_example() {
        let (r, w) = Request::from_json(
            r#"{"principal": "arn:aws:sts::111122223333:assumed-role/app-web/i-0abc", "action": "kms:Decrypt",
                "resource": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "context": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "aws:MultiFactorAuthPresent": true, "aws:TagKeys": ["a", "b"]},
                "encryption_context": {"aws:s3:arn": "arn:aws:s3:::bucket/object"}, "grant_tokens": [], "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(r.context.len(), 3);
        assert!(r.context.contains(&(
            "aws:MultiFactorAuthPresent".into(),
            ContextValue::Single("true".into())
        )));
        let (again, _) = Request::from_value(&r.to_value()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn errors_name_the_field() {
        let e = Request::from_json(r#"{"principal": "arn:aws:iam::111122223333:user/a", "action": "s3:GetObject", "resource": "*"}"#).unwrap_err();
        assert_eq!(e.field, "action");
        let e = Request::from_json(r#"{"principal": 5, "action": "kms:Decrypt", "resource": "*"}"#)
            .unwrap_err();
        assert_eq!(e.field, "principal");
    }
}
