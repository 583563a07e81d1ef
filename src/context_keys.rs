//! The condition keys AWS defines for KMS requests and the type of each (docs/semantics.md §4):
//! one table used both to warn about unknown keys in policies and to validate the context a
//! request brings. Requests come from callers, not from AWS, so a known key with a value of the
//! wrong shape (a list for a single-valued key, `"10.0.0.1 "` for an address, `1e20` for a
//! number) is an error rather than something a condition silently fails to match.

use crate::policy::condition::{parse_date, parse_number};
use crate::request::ContextValue;
use serde_json::Value;
use std::net::IpAddr;

/// The type of a condition key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    String,
    /// An ARN, compared with the ARN or String operators.
    Arn,
    Numeric,
    /// ISO 8601 or epoch seconds.
    Date,
    Bool,
    /// One IP address (no CIDR block).
    Ip,
}

/// One known condition key.
#[derive(Clone, Copy, Debug)]
pub struct KeyDef {
    /// The name as AWS spells it; a name ending in `:` or `/` is a prefix
    /// (`kms:EncryptionContext:<key>`, `aws:PrincipalTag/<key>`).
    pub name: &'static str,
    pub ty: KeyType,
    /// Multi-valued: the value is a set of strings.
    pub multi: bool,
}

const fn k(name: &'static str, ty: KeyType) -> KeyDef {
    KeyDef {
        name,
        ty,
        multi: false,
    }
}

const fn set(name: &'static str) -> KeyDef {
    KeyDef {
        name,
        ty: KeyType::String,
        multi: true,
    }
}

use KeyType::{Arn, Bool, Date, Ip, Numeric, String as Str};

/// Every `kms:` and `aws:` key AWS defines for KMS requests (docs/semantics.md §4.1, §4.2).
pub const KEYS: &[KeyDef] = &[
    k("kms:BypassPolicyLockoutSafetyCheck", Bool),
    k("kms:CallerAccount", Str),
    k("kms:CustomerMasterKeySpec", Str),
    k("kms:CustomerMasterKeyUsage", Str),
    k("kms:DataKeyPairSpec", Str),
    k("kms:EncryptionAlgorithm", Str),
    k("kms:EncryptionContext:", Str),
    set("kms:EncryptionContextKeys"),
    k("kms:ExpirationModel", Str),
    k("kms:GrantConstraintSourceArn", Arn),
    k("kms:GrantConstraintType", Str),
    k("kms:GrantIsForAWSResource", Bool),
    set("kms:GrantOperations"),
    k("kms:GranteePrincipal", Str),
    k("kms:GranteeServicePrincipal", Str),
    k("kms:KeyAgreementAlgorithm", Str),
    k("kms:KeyOrigin", Str),
    k("kms:KeySpec", Str),
    k("kms:KeyUsage", Str),
    k("kms:MacAlgorithm", Str),
    k("kms:MessageType", Str),
    k("kms:MultiRegion", Bool),
    k("kms:MultiRegionKeyType", Str),
    k("kms:PrimaryRegion", Str),
    k("kms:ReEncryptOnSameKey", Bool),
    k("kms:RecipientAttestation:", Str),
    k("kms:ReplicaRegion", Str),
    k("kms:RequestAlias", Str),
    set("kms:ResourceAliases"),
    k("kms:RetiringPrincipal", Str),
    k("kms:RetiringServicePrincipal", Str),
    k("kms:RotationPeriodInDays", Numeric),
    k("kms:ScheduleKeyDeletionPendingWindowInDays", Numeric),
    k("kms:SigningAlgorithm", Str),
    k("kms:TrailingDaysWithoutKeyUsage", Numeric),
    k("kms:ValidTo", Date),
    k("kms:ViaService", Str),
    k("kms:WrappingAlgorithm", Str),
    k("kms:WrappingKeySpec", Str),
    set("aws:CalledVia"),
    k("aws:CalledViaFirst", Str),
    k("aws:CalledViaLast", Str),
    k("aws:CurrentTime", Date),
    k("aws:Ec2InstanceSourcePrivateIPv4", Ip),
    k("aws:Ec2InstanceSourceVpc", Str),
    k("aws:EpochTime", Date),
    k("aws:FederatedProvider", Str),
    k("aws:MultiFactorAuthAge", Numeric),
    k("aws:MultiFactorAuthPresent", Bool),
    k("aws:PrincipalAccount", Str),
    k("aws:PrincipalArn", Arn),
    k("aws:PrincipalIsAWSService", Bool),
    k("aws:PrincipalOrgID", Str),
    set("aws:PrincipalOrgPaths"),
    k("aws:PrincipalServiceName", Str),
    set("aws:PrincipalServiceNamesList"),
    k("aws:PrincipalTag/", Str),
    k("aws:PrincipalType", Str),
    k("aws:referer", Str),
    k("aws:RequestedRegion", Str),
    k("aws:RequestTag/", Str),
    k("aws:ResourceAccount", Str),
    k("aws:ResourceOrgID", Str),
    set("aws:ResourceOrgPaths"),
    k("aws:ResourceTag/", Str),
    k("aws:SecureTransport", Bool),
    k("aws:SourceAccount", Str),
    k("aws:SourceArn", Arn),
    k("aws:SourceIdentity", Str),
    k("aws:SourceIp", Ip),
    k("aws:SourceOrgID", Str),
    set("aws:SourceOrgPaths"),
    k("aws:SourceVpc", Str),
    k("aws:SourceVpcArn", Arn),
    k("aws:SourceVpce", Str),
    set("aws:TagKeys"),
    k("aws:TokenIssueTime", Date),
    k("aws:UserAgent", Str),
    k("aws:userid", Str),
    k("aws:username", Str),
    k("aws:ViaAWSService", Bool),
    k("aws:VpcSourceIp", Ip),
];

/// The definition of a condition key (any case), if AWS defines it.
pub fn lookup(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| {
        let n = d.name;
        if n.ends_with(':') || n.ends_with('/') {
            name.len() > n.len() && name.is_char_boundary(n.len()) && {
                let (head, _) = name.split_at(n.len());
                head.eq_ignore_ascii_case(n)
            }
        } else {
            name.eq_ignore_ascii_case(n)
        }
    })
}

/// The longest value, in bytes, a request may give a context key or encryption-context pair.
/// AWS bounds every request parameter; keyward's bound is generous for real values (tags are at
/// most 256 characters, ARNs 2,048) and keeps a crafted request from carrying megabytes into
/// condition matching.
pub const MAX_VALUE_BYTES: usize = 8192;

/// Reads one context value given for `name`: a known key must have its type and arity (a
/// single-valued key given a list, even of one element, is an error); an unknown key may be a
/// string, number, boolean, or a list of them. Values are normalised as AWS would see them:
/// booleans and numbers in their canonical text, IPv4-mapped IPv6 addresses as IPv4.
pub fn read_value(name: &str, v: &Value) -> Result<ContextValue, String> {
    let Some(def) = lookup(name) else {
        return match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    scalar_text(item).ok_or_else(|| {
                        format!(
                            "[{i}] must be a string, number or boolean, found {}",
                            crate::json::type_name(item)
                        )
                    })
                })
                .collect::<Result<_, _>>()
                .map(ContextValue::Multi),
            v => scalar_text(v).map(ContextValue::Single).ok_or_else(|| {
                format!(
                    "must be a string, number, boolean or array, found {}",
                    crate::json::type_name(v)
                )
            }),
        }
        .and_then(|cv| check_len(&cv).map(|_| cv));
    };
    let cv = if def.multi {
        match v {
            Value::Array(items) => ContextValue::Multi(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(format!(
                            "[{i}] must be a string ({} is a set of strings), found {}",
                            def.name,
                            crate::json::type_name(other)
                        )),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Value::String(s) => ContextValue::Multi(vec![s.clone()]),
            other => {
                return Err(format!(
                    "must be a list of strings ({} is multi-valued), found {}",
                    def.name,
                    crate::json::type_name(other)
                ))
            }
        }
    } else {
        if let Value::Array(_) = v {
            return Err(format!(
                "{} is single-valued: give one {}, not a list",
                def.name,
                type_word(def.ty)
            ));
        }
        ContextValue::Single(typed(def, v)?)
    };
    check_len(&cv)?;
    Ok(cv)
}

fn check_len(cv: &ContextValue) -> Result<(), String> {
    let too_long = match cv {
        ContextValue::Single(s) => s.len() > MAX_VALUE_BYTES,
        ContextValue::Multi(m) => m.iter().any(|s| s.len() > MAX_VALUE_BYTES),
    };
    if too_long {
        Err(format!("a value is longer than {MAX_VALUE_BYTES} bytes"))
    } else {
        Ok(())
    }
}

fn type_word(ty: KeyType) -> &'static str {
    match ty {
        KeyType::String => "string",
        KeyType::Arn => "ARN string",
        KeyType::Numeric => "number",
        KeyType::Date => "date (ISO 8601 string or integer epoch seconds)",
        KeyType::Bool => "boolean",
        KeyType::Ip => "IP address string",
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A single value of a known key, checked against its type and normalised.
fn typed(def: &KeyDef, v: &Value) -> Result<String, String> {
    let wrong = || {
        format!(
            "{} must be a {}, found {}",
            def.name,
            type_word(def.ty),
            match v {
                Value::String(s) => format!("{s:?}"),
                other => other.to_string(),
            }
        )
    };
    match def.ty {
        KeyType::String | KeyType::Arn => match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(wrong()),
        },
        KeyType::Bool => match v {
            Value::Bool(b) => Ok(b.to_string()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok("true".into()),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok("false".into()),
            _ => Err(wrong()),
        },
        KeyType::Numeric => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(wrong()),
            };
            match parse_number(&text) {
                Some(x) if x.is_finite() => Ok(text),
                _ => Err(wrong()),
            }
        }
        KeyType::Date => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
                _ => return Err(wrong()),
            };
            // Epoch seconds must be whole; a calendar date must parse.
            let epoch = text.bytes().all(|b| b.is_ascii_digit()) && text.len() != 4;
            let calendar = text.contains('-');
            if (epoch || calendar) && parse_date(&text).is_some() {
                Ok(text)
            } else {
                Err(wrong())
            }
        }
        KeyType::Ip => {
            let Value::String(s) = v else {
                return Err(wrong());
            };
            match s.parse::<IpAddr>() {
                Ok(IpAddr::V6(v6)) => Ok(match v6.to_ipv4_mapped() {
                    Some(v4) => v4.to_string(),
                    None => v6.to_string(),
                }),
                Ok(ip) => Ok(ip.to_string()),
                Err(_) => Err(wrong()),
            }
        }
    }
}

/// Keys whose value keyward derives from the world or the request's own fields (the caller, the
/// key, the encryption context). A request's context may repeat such a key with the same value,
/// but a different value is a claim keyward will not believe: the request is denied (see
/// `context::components`).
/// The comparison ignores ASCII case and allocates nothing: it runs on every check.
pub fn is_derived_fact(key: &str) -> bool {
    const FACTS: &[&str] = &[
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:principalisawsservice",
        "aws:principalservicename",
        "aws:principalservicenameslist",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:username",
        "aws:userid",
        "kms:calleraccount",
        "aws:resourceaccount",
        "aws:resourceorgid",
        "aws:resourceorgpaths",
        "kms:resourcealiases",
        "kms:requestalias",
        "kms:reencryptonsamekey",
    ];
    let has_prefix = |prefix: &str| {
        key.len() >= prefix.len()
            && key.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    FACTS.iter().any(|f| f.eq_ignore_ascii_case(key))
        || has_prefix("aws:principaltag/")
        || has_prefix("aws:resourcetag/")
}

/// Keys that only the request's encryption-context fields may give.
pub fn is_encryption_context_key(key_lower: &str) -> bool {
    key_lower.starts_with("kms:encryptioncontext:") || key_lower == "kms:encryptioncontextkeys"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn single(name: &str, v: Value) -> Result<String, String> {
        match read_value(name, &v)? {
            ContextValue::Single(s) => Ok(s),
            ContextValue::Multi(m) => Err(format!("multi {m:?}")),
        }
    }

    #[test]
    fn single_valued_keys_refuse_lists() {
        assert!(read_value("aws:SourceVpce", &json!(["vpce-1"])).is_err());
        assert!(read_value("aws:sourcevpce", &json!([])).is_err());
        assert!(read_value("kms:ViaService", &json!(["s3.us-east-1.amazonaws.com"])).is_err());
        assert_eq!(
            read_value("aws:TagKeys", &json!("a")).unwrap(),
            ContextValue::Multi(vec!["a".into()])
        );
        assert!(read_value("aws:TagKeys", &json!([1])).is_err());
    }

    #[test]
    fn values_are_typed_and_normalised() {
        assert_eq!(
            single("aws:SourceIp", json!("10.0.0.1")).unwrap(),
            "10.0.0.1"
        );
        assert!(single("aws:SourceIp", json!("10.0.0.1 ")).is_err());
        assert!(single("aws:SourceIp", json!("10.0.0.0/8")).is_err());
        assert_eq!(
            single("aws:SourceIp", json!("::ffff:10.0.0.1")).unwrap(),
            "10.0.0.1"
        );
        assert_eq!(
            single("aws:SourceIp", json!("2001:DB8::1")).unwrap(),
            "2001:db8::1"
        );
        assert!(single("aws:MultiFactorAuthAge", json!(1e20)).is_err());
        assert!(single("aws:MultiFactorAuthAge", json!("1e20")).is_err());
        assert_eq!(single("aws:MultiFactorAuthAge", json!(300)).unwrap(), "300");
        assert!(single("aws:CurrentTime", json!(1.5)).is_err());
        assert!(single("aws:CurrentTime", json!("soon")).is_err());
        assert_eq!(
            single("aws:CurrentTime", json!(1_767_225_600)).unwrap(),
            "1767225600"
        );
        assert!(single("aws:CurrentTime", json!("2026-01-01T00:00:00Z")).is_ok());
        assert!(single("aws:SecureTransport", json!(0)).is_err());
        assert_eq!(
            single("aws:SecureTransport", json!("TRUE")).unwrap(),
            "true"
        );
        assert!(single("kms:CallerAccount", json!(111122223333u64)).is_err());
        assert_eq!(single("x:custom", json!(5)).unwrap(), "5");
        assert!(read_value("x:custom", &json!({})).is_err());
        assert!(single("aws:UserAgent", json!("a".repeat(MAX_VALUE_BYTES + 1))).is_err());
    }

    #[test]
    fn prefixes_match_any_case() {
        assert_eq!(
            lookup("AWS:principaltag/team").unwrap().name,
            "aws:PrincipalTag/"
        );
        assert!(lookup("aws:PrincipalTag/").is_none());
        assert!(lookup("kms:ViaServce").is_none());
    }
}
