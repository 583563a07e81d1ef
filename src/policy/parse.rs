//! Reading policy documents from JSON into the model, with the validation AWS applies when a
//! policy is written (docs/semantics.md §1). Every error names the statement (index and Sid) and the field.

use super::condition::{
    parse_value, suspicious_date_warning, unknown_key_warning, Condition, Family, Operator, SetOp,
};
use super::template::Template;
use super::*;
use crate::arn::{split_arn, PrincipalEntry};
use crate::json::type_name;
use serde_json::{Map, Value};

/// Settings for policy validation.
#[derive(Clone, Copy, Debug)]
pub struct ParseOptions {
    /// Largest key policy accepted, in UTF-8 bytes (docs/semantics.md §1.2: 32,768 by default).
    pub max_key_policy_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_key_policy_bytes: 32_768,
        }
    }
}

/// Parses and validates a policy. `text` is the document as sent (for the size and character
/// checks); when `None` the compact serialization of `value` is used. Returns the policy and its
/// warnings, or every error found.
pub fn parse_policy(
    value: &Value,
    text: Option<&str>,
    kind: PolicyKind,
    options: &ParseOptions,
) -> Result<(Policy, Vec<Finding>), Vec<Finding>> {
    let mut p = Parser {
        kind,
        variables: false,
        findings: Vec::new(),
    };
    let policy = p.policy(value, text, options);
    if p.findings.iter().any(|f| f.severity == Severity::Error) {
        p.findings.retain(|f| f.severity == Severity::Error);
        Err(p.findings)
    } else {
        Ok((policy, p.findings))
    }
}

/// Where in a policy the character `c` first appears, as `Statement[i] (Sid …) field F`.
fn locate(policy: &Value, c: char) -> Option<String> {
    fn path(v: &Value, c: char) -> Option<String> {
        match v {
            Value::String(s) => s.contains(c).then(String::new),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| path(x, c).map(|p| format!("[{i}]{p}"))),
            Value::Object(m) => m.iter().find_map(|(k, x)| {
                if k.contains(c) {
                    Some(format!(".{k}"))
                } else {
                    path(x, c).map(|p| format!(".{k}{p}"))
                }
            }),
            _ => None,
        }
    }
    let statements: Vec<&Value> = match policy.get("Statement")? {
        Value::Array(items) => items.iter().collect(),
        s => vec![s],
    };
    for (i, st) in statements.iter().enumerate() {
        if let Some(p) = path(st, c) {
            let sid = st
                .get("Sid")
                .and_then(Value::as_str)
                .map(|s| format!(" (Sid {s:?})"))
                .unwrap_or_default();
            return Some(format!(
                "Statement[{i}]{sid} field {}",
                p.trim_start_matches('.')
            ));
        }
    }
    path(policy, c).map(|p| format!("field {}", p.trim_start_matches('.')))
}

struct Parser {
    kind: PolicyKind,
    variables: bool,
    findings: Vec<Finding>,
}

impl Parser {
    fn error(&mut self, place: &str, message: impl Into<String>) {
        self.findings.push(Finding {
            severity: Severity::Error,
            place: place.to_owned(),
            message: message.into(),
        });
    }

    fn warn(&mut self, place: &str, message: impl Into<String>) {
        self.findings.push(Finding {
            severity: Severity::Warning,
            place: place.to_owned(),
            message: message.into(),
        });
    }

    fn policy(&mut self, value: &Value, text: Option<&str>, options: &ParseOptions) -> Policy {
        let mut policy = Policy {
            version: None,
            id: None,
            statements: Vec::new(),
        };
        let Some(obj) = value.as_object() else {
            self.error(
                "policy",
                format!("must be a JSON object, found {}", type_name(value)),
            );
            return policy;
        };
        if self.kind == PolicyKind::Key {
            let owned;
            let text = match text {
                Some(t) => t,
                None => {
                    owned = value.to_string();
                    &owned
                }
            };
            if text.len() > options.max_key_policy_bytes {
                self.error(
                    "policy",
                    format!(
                        "LimitExceededException: key policy is {} bytes; the limit is {} bytes",
                        text.len(),
                        options.max_key_policy_bytes
                    ),
                );
            }
            if let Some(c) = text
                .chars()
                .find(|&c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
            {
                self.error(
                    &locate(value, c).unwrap_or_else(|| "policy".into()),
                    format!(
                        "MalformedPolicyDocumentException: character {c:?} (U+{:04X}) is outside the allowed character set (tab, LF, CR, U+0020-U+00FF)",
                        c as u32
                    ),
                );
            }
        }
        for (k, v) in obj {
            match k.as_str() {
                "Version" => match v.as_str() {
                    Some(s @ ("2012-10-17" | "2008-10-17")) => policy.version = Some(s.into()),
                    Some(s) => self.error(
                        "field Version",
                        format!("must be \"2012-10-17\" or \"2008-10-17\", found {s:?}"),
                    ),
                    None => self.error(
                        "field Version",
                        format!("must be a string, found {}", type_name(v)),
                    ),
                },
                "Id" => match v.as_str() {
                    Some(s) => policy.id = Some(s.into()),
                    None => self.error(
                        "field Id",
                        format!("must be a string, found {}", type_name(v)),
                    ),
                },
                "Statement" => {}
                other => self.error(
                    &format!("field {other}"),
                    "unknown top-level policy element",
                ),
            }
        }
        if policy.version.is_none() && !obj.contains_key("Version") {
            self.warn(
                "field Version",
                "no Version: policy variables are read as literal text (2008-10-17 semantics)",
            );
        }
        if self.kind == PolicyKind::Identity && policy.id.is_some() {
            self.warn("field Id", "Id is not used in identity policies");
        }
        self.variables = policy.version.as_deref() == Some("2012-10-17");
        match obj.get("Statement") {
            None => self.error(
                "field Statement",
                "missing; a policy needs at least one statement",
            ),
            Some(Value::Object(s)) => {
                if let Some(st) = self.statement(0, s) {
                    policy.statements.push(st);
                }
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_object() {
                        Some(s) => {
                            if let Some(st) = self.statement(i, s) {
                                policy.statements.push(st);
                            }
                        }
                        None => self.error(
                            &format!("Statement[{i}]"),
                            format!("must be an object, found {}", type_name(item)),
                        ),
                    }
                }
            }
            Some(v) => self.error(
                "field Statement",
                format!("must be an object or an array, found {}", type_name(v)),
            ),
        }
        policy
    }

    fn statement(&mut self, index: usize, obj: &Map<String, Value>) -> Option<Statement> {
        let sid = obj.get("Sid").and_then(Value::as_str).map(str::to_owned);
        let place = match &sid {
            Some(s) => format!("Statement[{index}] (Sid {s:?})"),
            None => format!("Statement[{index}]"),
        };
        let before = self.error_count();
        for k in obj.keys() {
            if !matches!(
                k.as_str(),
                "Sid"
                    | "Effect"
                    | "Principal"
                    | "NotPrincipal"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Condition"
            ) {
                self.error(&format!("{place} field {k}"), "unknown statement element");
            }
        }
        match obj.get("Sid") {
            Some(Value::String(s))
                if self.kind == PolicyKind::Identity
                    && !s.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                self.error(
                    &format!("{place} field Sid"),
                    "an identity-policy Sid may contain only letters and digits",
                );
            }
            Some(Value::String(_)) => {}
            Some(v) => self.error(
                &format!("{place} field Sid"),
                format!("must be a string, found {}", type_name(v)),
            ),
            None => {}
        }
        let effect = match obj.get("Effect") {
            Some(Value::String(s)) if s == "Allow" => Some(Effect::Allow),
            Some(Value::String(s)) if s == "Deny" => Some(Effect::Deny),
            Some(Value::String(s)) => {
                self.error(
                    &format!("{place} field Effect"),
                    format!("must be \"Allow\" or \"Deny\", found {s:?}"),
                );
                None
            }
            Some(v) => {
                self.error(
                    &format!("{place} field Effect"),
                    format!("must be a string, found {}", type_name(v)),
                );
                None
            }
            None => {
                self.error(&format!("{place} field Effect"), "missing");
                None
            }
        };
        let principal = self.principals(&place, obj);
        let action = self.either(&place, obj, "Action", "NotAction", |p, field, items| {
            let mut patterns = Vec::new();
            for (s, at) in items {
                if s.is_empty() {
                    p.error(&format!("{field}{at}"), "empty action");
                } else if s != "*" && !s.contains(':') {
                    p.error(
                        &format!("{field}{at}"),
                        format!("action {s:?} is not of the form service:Action"),
                    );
                } else {
                    if s.chars().any(char::is_control) {
                        p.warn(
                            &format!("{field}{at}"),
                            format!(
                                "action {s:?} holds a control character; it matches no request"
                            ),
                        );
                    }
                    let kms = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("kms:"));
                    if kms && !s.contains(['*', '?']) && crate::actions::parse_action(&s).is_none()
                    {
                        let hint = crate::actions::suggest(&s)
                            .map(|a| format!("; did you mean {a:?}?"))
                            .unwrap_or_default();
                        p.warn(
                            &format!("{field}{at}"),
                            format!("{s:?} is not a KMS action and matches no request{hint}"),
                        );
                    }
                    patterns.push(s);
                }
            }
            Some(patterns)
        });
        let resource = self.either(&place, obj, "Resource", "NotResource", |p, field, items| {
            let mut patterns = Vec::new();
            for (s, at) in items {
                match p.resource_pattern(&s) {
                    Ok(r) => patterns.push(r),
                    Err(e) => p.error(&format!("{field}{at}"), e),
                }
            }
            Some(patterns)
        });
        let conditions = self.conditions(&place, obj.get("Condition"));
        if self.kind == PolicyKind::Key {
            if action.is_none() {
                self.warn(
                    &place,
                    "no Action or NotAction: the statement never applies",
                );
            }
            if resource.is_none() {
                self.warn(
                    &place,
                    "no Resource or NotResource: the statement never applies",
                );
            }
            for c in &conditions {
                let ec = c.key_lower.starts_with("kms:encryptioncontext:")
                    || c.key_lower.starts_with("aws:requesttag/");
                if c.operator.set == Some(SetOp::ForAllValues) && ec {
                    self.error(
                        &format!("{place} field Condition.{}.{}", c.operator.name(), c.key),
                        "OverlyPermissiveCondition: ForAllValues with a single-valued key is rejected in key policies",
                    );
                }
            }
        } else if action.is_none() || resource.is_none() {
            let missing = if action.is_none() {
                "Action"
            } else {
                "Resource"
            };
            if !obj.contains_key(missing) && !obj.contains_key(&format!("Not{missing}")) {
                self.error(
                    &format!("{place} field {missing}"),
                    format!(
                        "missing; an identity-policy statement needs {missing} or Not{missing}"
                    ),
                );
            }
        }
        for c in &conditions {
            if c.operator.set.is_none()
                && c.operator.base != BaseOp::Null
                && MULTI_VALUED_KEYS.contains(&c.key_lower.as_str())
            {
                self.warn(
                    &format!("{place} field Condition.{}.{}", c.operator.name(), c.key),
                    "multivalued key without ForAnyValue:/ForAllValues: never matches",
                );
            }
        }
        if self.error_count() > before {
            return None;
        }
        Some(Statement {
            sid,
            effect: effect?,
            principal,
            action: action.map(|(negated, patterns)| Actions { negated, patterns }),
            resource: resource.map(|(negated, patterns)| Resources { negated, patterns }),
            conditions,
        })
    }

    fn error_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    /// Reads `Action`/`NotAction` or `Resource`/`NotResource`: exactly one of the pair, a string or
    /// an array of strings.
    fn either<T>(
        &mut self,
        place: &str,
        obj: &Map<String, Value>,
        pos: &str,
        neg: &str,
        build: impl FnOnce(&mut Self, &str, Vec<(String, String)>) -> Option<T>,
    ) -> Option<(bool, T)> {
        let (negated, name, value) = match (obj.get(pos), obj.get(neg)) {
            (Some(_), Some(_)) => {
                self.error(
                    &format!("{place} field {pos}"),
                    format!("a statement may have {pos} or {neg}, not both"),
                );
                return None;
            }
            (Some(v), None) => (false, pos, v),
            (None, Some(v)) => (true, neg, v),
            (None, None) => return None,
        };
        let field = format!("{place} field {name}");
        let items = self.strings(&field, value)?;
        build(self, &field, items).map(|t| (negated, t))
    }

    /// A string or a non-empty array of strings, with each item's position suffix.
    fn strings(&mut self, field: &str, value: &Value) -> Option<Vec<(String, String)>> {
        match value {
            Value::String(s) => Some(vec![(s.clone(), String::new())]),
            Value::Array(items) if !items.is_empty() => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push((s.to_owned(), format!("[{i}]"))),
                        None => self.error(
                            &format!("{field}[{i}]"),
                            format!("must be a string, found {}", type_name(item)),
                        ),
                    }
                }
                Some(out)
            }
            Value::Array(_) => {
                self.error(field, "must not be an empty array");
                None
            }
            v => {
                self.error(
                    field,
                    format!(
                        "must be a string or an array of strings, found {}",
                        type_name(v)
                    ),
                );
                None
            }
        }
    }

    fn principals(&mut self, place: &str, obj: &Map<String, Value>) -> Option<Principals> {
        let (negated, name, value) = match (obj.get("Principal"), obj.get("NotPrincipal")) {
            (Some(_), Some(_)) => {
                self.error(
                    &format!("{place} field Principal"),
                    "a statement may have Principal or NotPrincipal, not both",
                );
                return None;
            }
            (Some(v), None) => (false, "Principal", v),
            (None, Some(v)) => (true, "NotPrincipal", v),
            (None, None) => {
                if self.kind == PolicyKind::Key {
                    self.error(
                        &format!("{place} field Principal"),
                        "missing; each key-policy statement must name a principal",
                    );
                }
                return None;
            }
        };
        let field = format!("{place} field {name}");
        if self.kind == PolicyKind::Identity {
            self.error(
                &field,
                format!("{name} is not allowed in an identity policy"),
            );
            return None;
        }
        let mut entries = Vec::new();
        match value {
            Value::String(s) if s == "*" => entries.push(PrincipalEntry::Any),
            Value::String(s) => self.error(
                &field,
                format!("must be \"*\" or an object such as {{\"AWS\": ...}}, found {s:?}"),
            ),
            Value::Object(map) => {
                for (kind, v) in map {
                    let sub = format!("{field}.{kind}");
                    let Some(items) = self.strings(&sub, v) else {
                        continue;
                    };
                    for (s, at) in items {
                        let parsed = match kind.as_str() {
                            "AWS" => PrincipalEntry::parse_aws(&s),
                            "Service" => PrincipalEntry::parse_service(&s),
                            "Federated" => {
                                self.warn(&format!("{sub}{at}"), "a Federated principal never matches a KMS caller");
                                Ok(PrincipalEntry::Never(s.clone()))
                            }
                            "CanonicalUser" => Err("CanonicalUser principals are not valid for KMS".into()),
                            other => Err(format!("unknown principal type {other:?} (expected AWS, Service or Federated)")),
                        };
                        match parsed {
                            Ok(PrincipalEntry::Never(id)) if kind == "AWS" => {
                                self.warn(&format!("{sub}{at}"), format!("{id:?} is the unique id of a deleted principal; it never matches"));
                                entries.push(PrincipalEntry::Never(id));
                            }
                            Ok(e) => entries.push(e),
                            Err(e) => self.error(&format!("{sub}{at}"), e),
                        }
                    }
                }
                if map.is_empty() {
                    self.error(&field, "names no principal");
                }
            }
            v => self.error(
                &field,
                format!("must be \"*\" or an object, found {}", type_name(v)),
            ),
        }
        Some(Principals { negated, entries })
    }

    fn resource_pattern(&mut self, text: &str) -> Result<ResourcePattern, String> {
        if text == "*" {
            return Ok(ResourcePattern::Any);
        }
        let Some([arn, partition, service, region, account, resource]) = split_arn(text) else {
            return Err(format!("resource {text:?} is not \"*\" or an ARN (arn:partition:service:region:account:resource)"));
        };
        let head = [arn, partition, service, region, account];
        if head.iter().any(|p| p.contains("${")) {
            return Err(format!("resource {text:?}: policy variables are allowed only in the resource part of an ARN"));
        }
        if service.contains(['*', '?']) {
            return Err(format!(
                "resource {text:?}: wildcards are not allowed in the service part of an ARN"
            ));
        }
        let _ = resource;
        Ok(ResourcePattern::Arn(Template::parse(text, self.variables)?))
    }

    fn conditions(&mut self, place: &str, value: Option<&Value>) -> Vec<Condition> {
        let mut out = Vec::new();
        let Some(value) = value else { return out };
        let Some(block) = value.as_object() else {
            self.error(
                &format!("{place} field Condition"),
                format!("must be an object, found {}", type_name(value)),
            );
            return out;
        };
        for (op_name, keys) in block {
            let field = format!("{place} field Condition.{op_name}");
            let operator = match Operator::parse(op_name) {
                Ok(op) => op,
                Err(e) => {
                    self.error(&field, e);
                    continue;
                }
            };
            let Some(keys) = keys.as_object() else {
                self.error(
                    &field,
                    format!(
                        "must be an object of condition keys, found {}",
                        type_name(keys)
                    ),
                );
                continue;
            };
            for (key, values) in keys {
                let kfield = format!("{field}.{key}");
                if key.is_empty() || key.contains("${") {
                    self.error(
                        &kfield,
                        "condition key names may not be empty or contain policy variables",
                    );
                    continue;
                }
                if let Some(w) = unknown_key_warning(key) {
                    self.warn(&kfield, w);
                }
                let items: Vec<&Value> = match values {
                    Value::Array(a) if a.is_empty() => {
                        self.error(&kfield, "must not be an empty array");
                        continue;
                    }
                    Value::Array(a) => a.iter().collect(),
                    v => vec![v],
                };
                let variables = self.variables
                    && matches!(
                        operator.base.family(),
                        Family::String | Family::Arn | Family::Bool
                    );
                let mut parsed = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let at = if matches!(values, Value::Array(_)) {
                        format!("{kfield}[{i}]")
                    } else {
                        kfield.clone()
                    };
                    let text = match item {
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        v => {
                            self.error(&at, format!("condition values must be strings, numbers or booleans, found {}", type_name(v)));
                            continue;
                        }
                    };
                    if operator.base.family() == Family::Date {
                        if let Some(w) = suspicious_date_warning(&text) {
                            self.warn(&at, w);
                        }
                    }
                    match parse_value(&operator, &text, variables) {
                        Ok(v) => parsed.push(v),
                        Err(e) => self.error(&at, e),
                    }
                }
                out.push(Condition {
                    operator,
                    key: key.clone(),
                    key_lower: key.to_ascii_lowercase(),
                    values: parsed,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, kind: PolicyKind) -> Result<(Policy, Vec<Finding>), Vec<Finding>> {
        let v = crate::json::parse(text).unwrap();
        parse_policy(&v, Some(text), kind, &ParseOptions::default())
    }

    #[test]
    fn default_key_policy() {
        let (p, w) = parse(
            r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
            PolicyKind::Key,
        )
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(p.statements.len(), 1);
        assert_eq!(
            p.statements[0].principal.as_ref().unwrap().entries[0],
            PrincipalEntry::Account("111122223333".into())
        );
    }

    #[test]
    fn errors_name_statement_and_field() {
        let e = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Sid":"X","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}"#,
            PolicyKind::Key,
        )
        .unwrap_err();
        assert_eq!(
            e[0].place,
            "Statement[1] (Sid \"X\") field Condition.StringEqualz"
        );
        let e = parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":5,"Action":"kms:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        )
        .unwrap_err();
        assert_eq!(e[0].place, "Statement[0] field Effect");
    }

    #[test]
    fn key_policy_rules() {
        let forall = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContext:a":"b"}}}}"#;
        assert!(parse(forall, PolicyKind::Key).unwrap_err()[0]
            .message
            .contains("OverlyPermissive"));
        let no_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert!(parse(no_principal, PolicyKind::Key).is_err());
        assert!(parse(no_principal, PolicyKind::Identity).is_ok());
        let bad_char = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"It\u{2019}s\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}";
        assert!(parse(bad_char, PolicyKind::Key).unwrap_err()[0]
            .message
            .contains("character"));
    }
}
