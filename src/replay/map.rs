//! From one CloudTrail record to the authorization request AWS decided (docs/semantics.md §8.3): the caller
//! from `userIdentity`, the action from `eventName`, the resource from `resources[]` or
//! `requestParameters`, and every context key the record carries. Keys the engine derives itself
//! (`kms:CallerAccount`, `aws:PrincipalType`, key properties, `kms:EncryptionContext:*`, …) are left
//! to it, unless the record knows better (the role path in `aws:PrincipalArn`).
//!
//! A record that was not an authorization (an `AwsServiceEvent`, KMS acting on its own) is
//! skipped with the reason; a record that should be one but cannot be read as one (a missing
//! field, an identity type with no principal to map) is bad, with the reason.

use super::record::{Pairs, Record, RequestParameters, Text, UserIdentity};
use super::{Bad, BadKind};
use crate::actions::{self, ResourceKind};
use crate::arn::{split_arn, Caller, CallerKind};
use crate::policy::{parse_policy, ParseOptions, Policy, PolicyKind};
use crate::request::{ContextValue, Request, RequestAction};
use serde_json::value::RawValue;
use serde_json::Value;

/// What AWS recorded as the outcome of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// No `errorCode`: authorization passed (and the call succeeded).
    Allowed,
    /// `errorCode` `AccessDenied` / `AccessDeniedException`: AWS denied.
    Denied,
    /// Another error code: authorization usually passed but the operation failed, so the
    /// record says nothing certain about the decision; replay does not compare it.
    Failed(String),
}

impl Recorded {
    /// Reads the outcome from a record's `errorCode`.
    pub fn from_error_code(code: Option<&str>) -> Recorded {
        match code {
            None | Some("") => Recorded::Allowed,
            Some("AccessDenied" | "AccessDeniedException") => Recorded::Denied,
            Some(other) => Recorded::Failed(other.to_owned()),
        }
    }

    /// How reports name it: `allowed`, `denied`, or the error code.
    pub fn label(&self) -> &str {
        match self {
            Recorded::Allowed => "allowed",
            Recorded::Denied => "denied",
            Recorded::Failed(code) => code,
        }
    }
}

/// A record read as a request.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub request: Request,
    pub recorded: Recorded,
    /// What keyward assumed where the record leaves a gap (shown with `--emit-requests`).
    pub notes: Vec<String>,
}

/// The result of mapping one record.
#[derive(Clone, Debug)]
pub enum Mapping {
    /// An authorization request and the outcome AWS recorded.
    Request(Box<Mapped>),
    /// A record of another service (`eventSource` is not `kms.amazonaws.com`).
    NotKms,
    /// A KMS record that is not an authorization, with the reason.
    Skipped(String),
    /// A KMS record that cannot be read as a request.
    Bad(Bad),
}

fn bad(kind: BadKind, message: impl Into<String>) -> Mapping {
    Mapping::Bad(Bad {
        kind,
        message: message.into(),
    })
}

fn missing(field: &str) -> Mapping {
    bad(BadKind::MissingField, format!("field {field} is missing"))
}

/// Invokers that are not an integrated service acting with the caller's credentials (docs/semantics.md §8.2):
/// KMS housekeeping, KMS calling itself (the second Region of UpdatePrimaryRegion) and the
/// console sign-in service, whose calls are the user's own.
const NOT_A_SERVICE_CALL: &[&str] = &["AWS Internal", "kms.amazonaws.com", "signin.amazonaws.com"];

/// Maps a record (docs/semantics.md §8.3).
pub fn map_record(rec: &Record) -> Mapping {
    let Some(source) = rec.event_source.as_deref() else {
        return missing("eventSource");
    };
    if source != "kms.amazonaws.com" {
        return Mapping::NotKms;
    }
    let Some(name) = rec.event_name.as_deref() else {
        return missing("eventName");
    };
    if rec.event_type.as_deref() == Some("AwsServiceEvent") {
        return Mapping::Skipped(format!(
            "{name} is an AwsServiceEvent: an event KMS generated itself, not a request that was authorized"
        ));
    }
    let Some(ui) = &rec.user_identity else {
        return missing("userIdentity");
    };
    let Some(region) = rec.aws_region.as_deref().filter(|r| !r.is_empty()) else {
        return missing("awsRegion");
    };
    let Some(event_time) = rec.event_time.as_deref() else {
        return missing("eventTime");
    };
    let action = if name == "ReEncrypt" {
        RequestAction::ReEncrypt
    } else {
        match actions::by_name(name) {
            Some(id) => RequestAction::One(id),
            None => {
                return bad(
                    BadKind::Unmappable,
                    format!("eventName {name:?} is not a KMS operation"),
                )
            }
        }
    };
    let mut notes = Vec::new();
    let (caller, identity) = match caller(ui, region, &mut notes) {
        Ok(c) => c,
        Err(m) => return m,
    };
    let partition = if caller.partition.is_empty() {
        partition_of(region)
    } else {
        caller.partition.clone()
    };
    let account = rec
        .recipient_account_id
        .as_deref()
        .or(ui.account_id.as_deref())
        .filter(|a| !a.is_empty())
        .unwrap_or(&caller.account)
        .to_owned();
    let scope = Scope {
        partition: &partition,
        region,
        account: &account,
    };
    let no_params;
    let p = match &rec.request_parameters {
        Some(p) => p,
        None => {
            no_params = RequestParameters::default();
            &no_params
        }
    };
    let mut ctx = Ctx(Vec::with_capacity(16));

    // The resource (and the second resource of two-resource operations).
    let keys: Vec<&str> = arns(rec, ":key/");
    let mut request = Request {
        caller,
        action,
        resource: String::new(),
        context: Vec::new(),
        encryption_context: Vec::new(),
        grant_tokens: Vec::new(),
        grant_id: None,
        destination: None,
        destination_encryption_context: Vec::new(),
        target_key: None,
        policy: None,
        session_policies: None,
    };
    match action {
        RequestAction::ReEncrypt => {
            let Some(src) = keys
                .first()
                .map(|k| (*k).to_owned())
                .or_else(|| p.source_key_id.as_deref().and_then(|k| scope.key(k)))
            else {
                return bad(
                    BadKind::Unmappable,
                    "ReEncrypt names no source key (no key ARN in resources[], no sourceKeyId)",
                );
            };
            let dst = keys
                .get(1)
                .map(|k| (*k).to_owned())
                .or_else(|| p.destination_key_id.as_deref().and_then(|k| scope.key(k)))
                .unwrap_or_else(|| src.clone());
            if is_alias(p.source_key_id.as_deref()) || is_alias(p.destination_key_id.as_deref()) {
                notes.push("ReEncrypt named a key by alias: kms:RequestAlias is not supplied, since one context serves both halves".into());
            }
            request.resource = src;
            request.destination = Some(dst);
            request.encryption_context = pairs(p.source_encryption_context.as_ref());
            request.destination_encryption_context =
                pairs(p.destination_encryption_context.as_ref());
            let src_alg = p
                .source_encryption_algorithm
                .as_deref()
                .unwrap_or("SYMMETRIC_DEFAULT");
            let dst_alg = p
                .destination_encryption_algorithm
                .as_deref()
                .unwrap_or("SYMMETRIC_DEFAULT");
            if src_alg == dst_alg {
                ctx.set("kms:EncryptionAlgorithm", src_alg);
            } else {
                notes.push(format!("ReEncrypt from {src_alg} to {dst_alg}: one kms:EncryptionAlgorithm cannot hold both, so it is left to the default"));
            }
        }
        RequestAction::One(id) => {
            let info = actions::info(id);
            match info.resource {
                ResourceKind::None => request.resource = "*".into(),
                ResourceKind::AliasAndKey => {
                    let aliases = arns(rec, ":alias/");
                    let Some(alias) = aliases
                        .first()
                        .map(|a| (*a).to_owned())
                        .or_else(|| p.alias_name.as_deref().and_then(|a| scope.key(a)))
                    else {
                        return bad(
                            BadKind::Unmappable,
                            format!(
                                "{name} names no alias (no alias ARN in resources[], no aliasName)"
                            ),
                        );
                    };
                    request.resource = alias;
                    if info.name != "DeleteAlias" {
                        let Some(target) = keys
                            .first()
                            .map(|k| (*k).to_owned())
                            .or_else(|| p.target_key_id.as_deref().and_then(|k| scope.key(k)))
                        else {
                            return bad(BadKind::Unmappable, format!("{name} names no target key (no key ARN in resources[], no targetKeyId)"));
                        };
                        request.target_key = Some(target);
                    }
                }
                ResourceKind::Key => {
                    let key_id = p.key_id.as_deref().filter(|k| !k.is_empty());
                    if let Some(k) = keys.first() {
                        request.resource = (*k).to_owned();
                        if info.request_alias {
                            if let Some(alias) = key_id.and_then(alias_name) {
                                ctx.set("kms:RequestAlias", alias);
                            }
                        }
                    } else if let Some(k) = key_id.and_then(|k| scope.key(k)) {
                        request.resource = k;
                    } else {
                        return bad(
                            BadKind::Unmappable,
                            format!("{name} names no key: no key ARN in resources[] and no requestParameters.keyId (CloudTrail does not log the ciphertext a Decrypt takes its key from)"),
                        );
                    }
                }
            }
            if info.takes_encryption_context {
                request.encryption_context = pairs(p.encryption_context.as_ref());
                if let Some(alg) = p.encryption_algorithm.as_deref() {
                    ctx.set("kms:EncryptionAlgorithm", alg);
                }
            }
            parameters(info.name, p, rec, &mut ctx, &mut request, &mut notes);
        }
    }
    if request.resource != "*" && split_arn(&request.resource).is_none() {
        return bad(
            BadKind::Unmappable,
            format!("resource {:?} is not an ARN", request.resource),
        );
    }
    if let Some(tokens) = &p.grant_tokens {
        request.grant_tokens = tokens.iter().map(|t| t.to_string()).collect();
    }

    // Who called, and how.
    let via = identity_context(ui, identity, region, &mut ctx, &mut notes);
    if via
        && !ctx.has("kms:ViaService")
        && matches!(name, "CreateGrant" | "ListGrants" | "RevokeGrant")
    {
        ctx.set("kms:GrantIsForAWSResource", "true");
    }
    if let Some(ip) = rec.source_ip_address.as_deref() {
        if rec.vpc_endpoint_id.is_none() && ip.parse::<std::net::IpAddr>().is_ok() {
            ctx.set("aws:SourceIp", ip);
        }
    }
    if let Some(vpce) = rec.vpc_endpoint_id.as_deref() {
        ctx.set("aws:SourceVpce", vpce);
    }
    if let Some(agent) = rec.user_agent.as_deref() {
        ctx.set("aws:UserAgent", agent);
    }
    ctx.set("aws:RequestedRegion", region);
    // The form AWS writes is kept as it is; other forms are normalized.
    let time = match super::time::parse_canonical(event_time) {
        Some(secs) => Some((secs, event_time.to_owned())),
        None => super::time::parse_event_time(event_time)
            .map(|secs| (secs, super::time::format_time(secs))),
    };
    match time {
        Some((secs, current)) => {
            ctx.set("aws:CurrentTime", current);
            ctx.set("aws:EpochTime", secs.to_string());
        }
        None => notes.push(format!("eventTime {event_time:?} is not a date and time: aws:CurrentTime and aws:EpochTime are absent")),
    }
    request.context = ctx.0;
    let recorded = Recorded::from_error_code(rec.error_code.as_deref());
    Mapping::Request(Box::new(Mapped {
        request,
        recorded,
        notes,
    }))
}

/// How the caller's identity shapes the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Identity {
    /// An IAM identity (root, user, role, session, federated user); `true` for a role session.
    Iam { session: bool },
    /// The reduced `AWSAccount` identity: only the account is known.
    Account,
    /// A service principal calling on its own.
    Service,
}

/// The caller a record names (docs/semantics.md §8.2, §8.3).
fn caller(
    ui: &UserIdentity,
    region: &str,
    notes: &mut Vec<String>,
) -> Result<(Caller, Identity), Mapping> {
    let parse = |text: &str, field: &str| {
        Caller::parse(text)
            .map_err(|e| bad(BadKind::Unmappable, format!("userIdentity.{field}: {e}")))
    };
    let arn = ui.arn.as_deref().filter(|a| !a.is_empty());
    let Some(kind) = ui.kind.as_deref() else {
        return match arn {
            Some(a) => {
                notes.push("userIdentity.type is missing: the caller is read from userIdentity.arn".into());
                let c = parse(a, "arn")?;
                let session = matches!(c.kind, CallerKind::AssumedRole { .. });
                Ok((c, Identity::Iam { session }))
            }
            None => Err(Mapping::Skipped(format!(
                "no caller: userIdentity has no type and no ARN (invokedBy {}), so KMS acted on its own",
                ui.invoked_by.as_deref().unwrap_or("absent")
            ))),
        };
    };
    match kind {
        "Root" => {
            let text = arn.or(ui.account_id.as_deref()).ok_or_else(|| missing("userIdentity.arn"))?;
            Ok((parse(text, "arn")?, Identity::Iam { session: false }))
        }
        "IAMUser" | "AssumedRole" | "Role" | "FederatedUser" => {
            let text = arn.ok_or_else(|| missing("userIdentity.arn"))?;
            let c = parse(text, "arn")?;
            if c.is_service() {
                return Err(bad(BadKind::Unmappable, format!("userIdentity.arn {text:?} is not an IAM or STS ARN")));
            }
            Ok((c, Identity::Iam { session: kind == "AssumedRole" }))
        }
        "AWSAccount" => {
            let account = ui.account_id.as_deref().ok_or_else(|| missing("userIdentity.accountId"))?;
            notes.push(format!(
                "userIdentity AWSAccount names only the calling account: decided as arn:{}:iam::{account}:root, which checks the key owner's side of a cross-account call",
                partition_of(region)
            ));
            let c = parse(&format!("arn:{}:iam::{account}:root", partition_of(region)), "accountId")?;
            Ok((c, Identity::Account))
        }
        "AWSService" => {
            let service = ui.invoked_by.as_deref().ok_or_else(|| missing("userIdentity.invokedBy"))?;
            let c = parse(service, "invokedBy")?;
            if !c.is_service() {
                return Err(bad(BadKind::Unmappable, format!("userIdentity.invokedBy {service:?} is not a service principal")));
            }
            Ok((c, Identity::Service))
        }
        other => Err(bad(
            BadKind::UnknownIdentity,
            format!("userIdentity.type {other:?} is not one keyward maps (Root, IAMUser, AssumedRole, Role, FederatedUser, AWSAccount, AWSService)"),
        )),
    }
}

/// Context keys from `userIdentity`: the service a call came through, the session's attributes.
/// Returns whether an integrated service made the call with the caller's credentials.
fn identity_context(
    ui: &UserIdentity,
    identity: Identity,
    region: &str,
    ctx: &mut Ctx,
    notes: &mut Vec<String>,
) -> bool {
    if identity == Identity::Service {
        return false;
    }
    let via = match ui.invoked_by.as_deref() {
        None => false,
        Some(by) if NOT_A_SERVICE_CALL.contains(&by) => false,
        Some("internal.amazonaws.com") => {
            notes.push("invokedBy internal.amazonaws.com names no service: aws:ViaAWSService is true but kms:ViaService is absent".into());
            true
        }
        Some(by) => match by
            .strip_suffix(".amazonaws.com")
            .map(|s| s.split('.').next().unwrap_or(s))
        {
            Some(service) if !service.is_empty() => {
                ctx.set(
                    "kms:ViaService",
                    [service, ".", region, ".amazonaws.com"].concat(),
                );
                true
            }
            _ => {
                notes.push(format!(
                    "invokedBy {by:?} is not a service name: read as a direct call"
                ));
                false
            }
        },
    };
    ctx.set("aws:ViaAWSService", if via { "true" } else { "false" });
    if identity == Identity::Account {
        return via;
    }
    if let (Some(id), Identity::Iam { .. }) = (ui.principal_id.as_deref(), identity) {
        if !id.is_empty()
            && ui.kind.as_deref() != Some("Root")
            && ui.kind.as_deref() != Some("FederatedUser")
        {
            ctx.set("aws:userid", id);
        }
    }
    let Some(sc) = &ui.session_context else {
        return via;
    };
    if identity == (Identity::Iam { session: true }) {
        if let Some(role) = sc.session_issuer.as_ref().and_then(|i| i.arn.as_deref()) {
            if role.contains(":role/") {
                ctx.set("aws:PrincipalArn", role);
            }
        }
    }
    if let Some(a) = &sc.attributes {
        if let Some(mfa) = &a.mfa_authenticated {
            ctx.set("aws:MultiFactorAuthPresent", mfa.0.to_ascii_lowercase());
        }
        if let Some(t) = a.creation_date.as_deref() {
            ctx.set("aws:TokenIssueTime", t);
        }
    }
    if let Some(s) = sc.source_identity.as_deref() {
        ctx.set("aws:SourceIdentity", s);
    }
    if let Some(p) = sc
        .web_id_federation_data
        .as_ref()
        .and_then(|w| w.federated_provider.as_deref())
    {
        ctx.set("aws:FederatedProvider", p);
    }
    via
}

/// Context keys from operation-specific request parameters (docs/semantics.md §4.1), and the new key policy
/// of PutKeyPolicy (for the lockout safety check, docs/semantics.md §7.9).
fn parameters(
    name: &str,
    p: &RequestParameters,
    rec: &Record,
    ctx: &mut Ctx,
    request: &mut Request,
    notes: &mut Vec<String>,
) {
    let mut opt = |key: &str, v: Option<&Text>| {
        if let Some(v) = v {
            ctx.set(key, v.as_ref());
        }
    };
    match name {
        "CreateGrant" => {
            opt("kms:GranteePrincipal", p.grantee_principal.as_ref());
            opt("kms:RetiringPrincipal", p.retiring_principal.as_ref());
            opt(
                "kms:GranteeServicePrincipal",
                p.grantee_service_principal.as_ref(),
            );
            opt(
                "kms:RetiringServicePrincipal",
                p.retiring_service_principal.as_ref(),
            );
            if let Some(ops) = &p.operations {
                ctx.multi(
                    "kms:GrantOperations",
                    ops.iter().map(|o| o.to_string()).collect(),
                );
            }
            if let Some(c) = &p.constraints {
                if let Some(pairs) = &c.encryption_context_equals {
                    ctx.set("kms:GrantConstraintType", "EncryptionContextEquals");
                    request.encryption_context = self::pairs(Some(pairs));
                } else if let Some(pairs) = &c.encryption_context_subset {
                    ctx.set("kms:GrantConstraintType", "EncryptionContextSubset");
                    request.encryption_context = self::pairs(Some(pairs));
                }
                if let Some(arn) = c.source_arn.as_deref() {
                    ctx.set("kms:GrantConstraintSourceArn", arn);
                }
            }
        }
        "RetireGrant" | "RevokeGrant" => {
            let from_event = rec
                .additional_event_data
                .as_ref()
                .and_then(|a| a.grant_id.as_deref());
            request.grant_id = p.grant_id.as_deref().or(from_event).map(str::to_owned);
        }
        "CreateKey" => {
            let spec = p.key_spec.as_ref().or(p.customer_master_key_spec.as_ref());
            opt("kms:KeySpec", spec);
            opt("kms:CustomerMasterKeySpec", spec);
            opt("kms:KeyUsage", p.key_usage.as_ref());
            opt("kms:CustomerMasterKeyUsage", p.key_usage.as_ref());
            opt("kms:KeyOrigin", p.origin.as_ref());
            if let Some(m) = &p.multi_region {
                let on = m.0.eq_ignore_ascii_case("true");
                ctx.set("kms:MultiRegion", if on { "true" } else { "false" });
                if on {
                    ctx.set("kms:MultiRegionKeyType", "PRIMARY");
                }
            }
            bypass(p, ctx);
            request_tags(p, ctx);
        }
        "PutKeyPolicy" => {
            bypass(p, ctx);
            if let Some(raw) = p.policy {
                match new_key_policy(raw) {
                    Ok(policy) => request.policy = Some(policy),
                    Err(e) => notes.push(format!("requestParameters.policy is not a key policy keyward accepts ({e}): the lockout safety check is not run")),
                }
            }
        }
        "TagResource" => request_tags(p, ctx),
        "UntagResource" => {
            if let Some(keys) = &p.tag_keys {
                ctx.multi("aws:TagKeys", keys.iter().map(|k| k.to_string()).collect());
            }
        }
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            opt("kms:DataKeyPairSpec", p.key_pair_spec.as_ref())
        }
        "Sign" | "Verify" => {
            opt("kms:SigningAlgorithm", p.signing_algorithm.as_ref());
            opt("kms:MessageType", p.message_type.as_ref());
        }
        "GenerateMac" | "VerifyMac" => opt("kms:MacAlgorithm", p.mac_algorithm.as_ref()),
        "DeriveSharedSecret" => opt(
            "kms:KeyAgreementAlgorithm",
            p.key_agreement_algorithm.as_ref(),
        ),
        "UpdatePrimaryRegion" => opt("kms:PrimaryRegion", p.primary_region.as_ref()),
        "ReplicateKey" => opt("kms:ReplicaRegion", p.replica_region.as_ref()),
        "ScheduleKeyDeletion" => opt(
            "kms:ScheduleKeyDeletionPendingWindowInDays",
            p.pending_window_in_days.as_ref().map(|s| &s.0),
        ),
        "EnableKeyRotation" => opt(
            "kms:RotationPeriodInDays",
            p.rotation_period_in_days.as_ref().map(|s| &s.0),
        ),
        "GetParametersForImport" => {
            opt("kms:WrappingAlgorithm", p.wrapping_algorithm.as_ref());
            opt("kms:WrappingKeySpec", p.wrapping_key_spec.as_ref());
        }
        "ImportKeyMaterial" => {
            opt("kms:ExpirationModel", p.expiration_model.as_ref());
            opt("kms:ValidTo", p.valid_to.as_ref().map(|s| &s.0));
        }
        _ => {}
    }
    let digest = rec
        .additional_event_data
        .as_ref()
        .and_then(|a| a.recipient.as_ref())
        .and_then(|r| r.attestation_document_enclave_image_digest.as_deref());
    if let Some(d) = digest {
        ctx.set("kms:RecipientAttestation:ImageSha384", d);
    }
}

/// The new key policy of a PutKeyPolicy record: the JSON string the API takes, or an object.
fn new_key_policy(raw: &RawValue) -> Result<Policy, String> {
    let value = crate::json::parse(raw.get()).map_err(|e| e.to_string())?;
    let (doc, text) = match &value {
        Value::String(s) => (
            crate::json::parse(s).map_err(|e| format!("not valid JSON: {e}"))?,
            Some(s.as_str()),
        ),
        v => (v.clone(), None),
    };
    parse_policy(&doc, text, PolicyKind::Key, &ParseOptions::default())
        .map(|(policy, _)| policy)
        .map_err(|errors| {
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
}

fn bypass(p: &RequestParameters, ctx: &mut Ctx) {
    if let Some(b) = &p.bypass_policy_lockout_safety_check {
        ctx.set(
            "kms:BypassPolicyLockoutSafetyCheck",
            b.0.to_ascii_lowercase(),
        );
    }
}

fn request_tags(p: &RequestParameters, ctx: &mut Ctx) {
    let Some(tags) = &p.tags else { return };
    let mut keys = Vec::with_capacity(tags.len());
    for t in tags {
        if let Some(k) = t.key.as_deref() {
            ctx.set_once(
                &format!("aws:RequestTag/{k}"),
                t.value.as_ref().map_or("", |v| v.0.as_ref()),
            );
            keys.push(k.to_owned());
        }
    }
    if !keys.is_empty() {
        ctx.multi("aws:TagKeys", keys);
    }
}

/// Where relative key ids and alias names point: the record's partition, Region and account.
struct Scope<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl Scope<'_> {
    /// A key id, key ARN, alias name or alias ARN as an ARN.
    fn key(&self, id: &str) -> Option<String> {
        if id.starts_with("arn:") {
            return Some(id.to_owned());
        }
        if id.is_empty() || id.contains([' ', ':', '*']) {
            return None;
        }
        let (p, r, a) = (self.partition, self.region, self.account);
        Some(if id.starts_with("alias/") {
            format!("arn:{p}:kms:{r}:{a}:{id}")
        } else {
            format!("arn:{p}:kms:{r}:{a}:key/{id}")
        })
    }
}

/// The ARNs in `resources[]` that contain `marker` (`:key/` or `:alias/`), in record order.
fn arns<'r>(rec: &'r Record, marker: &str) -> Vec<&'r str> {
    rec.resources
        .iter()
        .flatten()
        .filter_map(|r| r.arn.as_deref())
        .filter(|a| a.starts_with("arn:") && a.contains(marker))
        .collect()
}

fn is_alias(id: Option<&str>) -> bool {
    id.is_some_and(|k| alias_name(k).is_some())
}

/// The alias name (`alias/x`) of an alias name or alias ARN.
fn alias_name(id: &str) -> Option<&str> {
    if id.starts_with("alias/") {
        return Some(id);
    }
    match split_arn(id) {
        Some([_, _, "kms", _, _, res]) if res.starts_with("alias/") => Some(res),
        _ => None,
    }
}

/// The partition of a Region.
fn partition_of(region: &str) -> String {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
    .to_owned()
}

fn pairs(p: Option<&Pairs>) -> Vec<(String, String)> {
    p.map(|p| {
        p.0.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
    .unwrap_or_default()
}

/// Context keys being built, in insertion order.
#[derive(Default)]
struct Ctx(Vec<(String, ContextValue)>);

impl Ctx {
    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Adds a key the mapping sets at most once.
    fn set(&mut self, key: &str, value: impl Into<String>) {
        debug_assert!(!self.has(key), "{key} set twice");
        self.0
            .push((key.to_owned(), ContextValue::Single(value.into())));
    }

    /// Adds a key that a record may name twice (a repeated tag): the first value wins.
    fn set_once(&mut self, key: &str, value: impl Into<String>) {
        if !self.has(key) {
            self.0
                .push((key.to_owned(), ContextValue::Single(value.into())));
        }
    }

    fn multi(&mut self, key: &str, values: Vec<String>) {
        debug_assert!(!self.has(key), "{key} set twice");
        self.0.push((key.to_owned(), ContextValue::Multi(values)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Mapping {
        let rec: Record = serde_json::from_str(text).unwrap();
        map_record(&rec)
    }

    #[test]
    fn not_kms_and_service_events() {
        assert!(matches!(
            map(r#"{"eventSource": "s3.amazonaws.com"}"#),
            Mapping::NotKms
        ));
        let m = map(
            r#"{"eventSource": "kms.amazonaws.com", "eventName": "RotateKey", "eventType": "AwsServiceEvent"}"#,
        );
        assert!(matches!(m, Mapping::Skipped(r) if r.contains("AwsServiceEvent")));
    }
}
