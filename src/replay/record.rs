//! One CloudTrail record as AWS writes it (docs/semantics.md §8.1, §8.2), read into typed structs that borrow
//! from the input text. Only the fields an authorization decision depends on are declared; every
//! other field is skipped without allocating, which is what makes replay fast.
//!
//! Field types are lenient where real logs vary: flags and numbers may arrive as strings or as JSON
//! scalars ([`Scalar`]), encryption-context values may be numbers, and resource ARNs are spelled
//! `ARN` or `arn`. A field of a type no record has ever used is an error for that record alone.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Text borrowed from the input when it holds no escapes, owned otherwise. (A plain
/// `Option<Cow<str>>` field would always be copied: serde borrows only through its own types.)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Text)
    }
}

/// Accepts strings only.
struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A CloudTrail record: the fields keyward reads.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow, default)]
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow, default)]
    pub event_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub event_source: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub event_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub aws_region: Option<Text<'a>>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    pub source_ip_address: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub user_agent: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub error_code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub request_parameters: Option<RequestParameters<'a>>,
    #[serde(borrow, default)]
    pub additional_event_data: Option<AdditionalEventData<'a>>,
    #[serde(borrow, default, rename = "eventID")]
    pub event_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub resources: Option<Vec<Resource<'a>>>,
    #[serde(borrow, default)]
    pub event_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub recipient_account_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub vpc_endpoint_id: Option<Text<'a>>,
}

/// `userIdentity` (docs/semantics.md §8.2).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub principal_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub arn: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub account_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub invoked_by: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`: present for temporary credentials.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow, default)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    #[serde(borrow, default)]
    pub attributes: Option<SessionAttributes<'a>>,
    #[serde(borrow, default)]
    pub source_identity: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub web_id_federation_data: Option<WebIdFederationData<'a>>,
}

/// `sessionContext.sessionIssuer`: the role (with its path) or user that issued the session.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow, default)]
    pub arn: Option<Text<'a>>,
}

/// `sessionContext.attributes`.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    #[serde(borrow, default)]
    pub creation_date: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub mfa_authenticated: Option<Scalar<'a>>,
}

/// `sessionContext.webIdFederationData`.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebIdFederationData<'a> {
    #[serde(borrow, default)]
    pub federated_provider: Option<Text<'a>>,
}

/// One `resources[]` entry. Older records omit `type`, and CreateAlias lists the alias with type
/// `AWS::KMS::Key`, so keyward tells keys from aliases by the ARN alone.
#[derive(Deserialize, Debug, Default)]
pub struct Resource<'a> {
    #[serde(borrow, default, rename = "ARN", alias = "arn")]
    pub arn: Option<Text<'a>>,
}

/// `requestParameters`: the camelCase request fields AWS logs (never plaintext or ciphertext).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RequestParameters<'a> {
    #[serde(borrow, default)]
    pub key_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub encryption_context: Option<Pairs<'a>>,
    #[serde(borrow, default)]
    pub encryption_algorithm: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub key_spec: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub customer_master_key_spec: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub key_usage: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub origin: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub multi_region: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub bypass_policy_lockout_safety_check: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub tags: Option<Vec<Tag<'a>>>,
    #[serde(borrow, default)]
    pub tag_keys: Option<Vec<Text<'a>>>,
    #[serde(borrow, default)]
    pub grant_tokens: Option<Vec<Text<'a>>>,
    #[serde(borrow, default)]
    pub grantee_principal: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub retiring_principal: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub grantee_service_principal: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub retiring_service_principal: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub operations: Option<Vec<Text<'a>>>,
    #[serde(borrow, default)]
    pub constraints: Option<Constraints<'a>>,
    #[serde(borrow, default)]
    pub grant_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub alias_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub target_key_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub source_key_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub destination_key_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub source_encryption_context: Option<Pairs<'a>>,
    #[serde(borrow, default)]
    pub destination_encryption_context: Option<Pairs<'a>>,
    #[serde(borrow, default)]
    pub source_encryption_algorithm: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub destination_encryption_algorithm: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub key_pair_spec: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub signing_algorithm: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub message_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub mac_algorithm: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub key_agreement_algorithm: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub primary_region: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub replica_region: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub pending_window_in_days: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub rotation_period_in_days: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    pub wrapping_algorithm: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub wrapping_key_spec: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub expiration_model: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub valid_to: Option<Scalar<'a>>,
    /// The new key policy of PutKeyPolicy (a JSON string, or an object in some exports).
    #[serde(borrow, default)]
    pub policy: Option<&'a RawValue>,
}

/// `requestParameters.constraints` of CreateGrant.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Constraints<'a> {
    #[serde(borrow, default)]
    pub encryption_context_subset: Option<Pairs<'a>>,
    #[serde(borrow, default)]
    pub encryption_context_equals: Option<Pairs<'a>>,
    #[serde(borrow, default)]
    pub source_arn: Option<Text<'a>>,
}

/// A tag in `requestParameters.tags` (`tagKey`/`tagValue`, as CloudTrail logs them).
#[derive(Deserialize, Debug, Default)]
pub struct Tag<'a> {
    #[serde(
        borrow,
        default,
        rename = "tagKey",
        alias = "TagKey",
        alias = "key",
        alias = "Key"
    )]
    pub key: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        rename = "tagValue",
        alias = "TagValue",
        alias = "value",
        alias = "Value"
    )]
    pub value: Option<Scalar<'a>>,
}

/// `additionalEventData`: the grant id of RetireGrant, the enclave attestation of a recipient.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalEventData<'a> {
    #[serde(borrow, default)]
    pub grant_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub recipient: Option<Recipient<'a>>,
}

/// `additionalEventData.recipient` of Nitro Enclaves calls.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Recipient<'a> {
    #[serde(borrow, default)]
    pub attestation_document_enclave_image_digest: Option<Text<'a>>,
}

/// A string, boolean or number, kept as text (`"false"`, `false` and `7` all read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar<'a>(pub Text<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(|c| Scalar(Text(c)))
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, boolean or number")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(if v { "true" } else { "false" }))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// An object of text values in input order: an encryption context or a constraint's pairs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pairs<'a>(pub Vec<(Text<'a>, Text<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PairsVisitor).map(Pairs)
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Vec<(Text<'de>, Text<'de>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of strings")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(2));
        while let Some(k) = map.next_key::<Text>()? {
            let Scalar(v) = map.next_value()?;
            out.push((k, v));
        }
        Ok(out)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::invalid_type(de::Unexpected::Seq, &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_and_tolerates_variants() {
        let text = r#"{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "unknown": {"x": [1, 2]},
            "resources": [{"arn": "arn:aws:kms:us-east-1:111122223333:key/k"}],
            "requestParameters": {"encryptionContext": {"n": 5, "s": "v"}, "multiRegion": true},
            "userIdentity": {"type": "IAMUser", "sessionContext": {"attributes": {"mfaAuthenticated": false}}}}"#;
        let r: Record = serde_json::from_str(text).unwrap();
        assert!(matches!(r.event_name, Some(Text(Cow::Borrowed("Decrypt")))));
        assert_eq!(
            r.resources.unwrap()[0].arn.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/k")
        );
        let p = r.request_parameters.unwrap();
        let ec: Vec<(&str, &str)> = p
            .encryption_context
            .as_ref()
            .unwrap()
            .0
            .iter()
            .map(|(k, v)| (&**k, &**v))
            .collect();
        assert_eq!(ec, [("n", "5"), ("s", "v")]);
        assert_eq!(&*p.multi_region.unwrap().0, "true");
        let mfa = r
            .user_identity
            .unwrap()
            .session_context
            .unwrap()
            .attributes
            .unwrap()
            .mfa_authenticated;
        assert_eq!(&*mfa.unwrap().0, "false");
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(serde_json::from_str::<Record>(r#"{"eventName": 5}"#).is_err());
        assert!(serde_json::from_str::<Record>(
            r#"{"requestParameters": {"encryptionContext": ["a"]}}"#
        )
        .is_err());
    }
}
