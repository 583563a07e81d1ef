//! Writing CloudTrail logs for generated traffic: each request becomes the record AWS would have
//! written for it (docs/semantics.md §8), with the outcome the generator recorded, in gzipped files laid out
//! as a trail's S3 bucket: `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
//! <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<n>.json.gz`.
//!
//! Every record is read back through [`super::map`] before it is written, and must map to a
//! request that decides exactly as the original: a request whose context a CloudTrail record
//! cannot carry (`aws:SourceArn`, a tag override, …) is not written and is listed in
//! [`Written::skipped`] with the reason. Replay supplies `aws:RequestedRegion`, `aws:CurrentTime`
//! and `aws:EpochTime` for every record, as AWS does; a request without them is written with its
//! key's Region and a synthetic time, so its recorded outcome must not depend on those keys.

use super::map::{map_record, Mapping, Recorded};
use super::record::Record;
use super::time::{civil, format_time, parse_event_time};
use crate::actions::{self, ResourceKind};
use crate::arn::{split_arn, CallerKind};
use crate::request::{ContextValue, Request, RequestAction};
use crate::world::World;
use flate2::write::GzEncoder;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How logs are written.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// Records per file (AWS writes a file about every five minutes per Region).
    pub records_per_file: usize,
    /// Gzip the files, as AWS does (`.json.gz`); plain `.json` otherwise.
    pub gzip: bool,
    /// Epoch seconds of the first request that gives no `aws:CurrentTime`.
    pub start: i64,
    /// Seconds between consecutive requests that give no `aws:CurrentTime`.
    pub step: i64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            records_per_file: 1000,
            gzip: true,
            start: 1_777_852_800,
            step: 1,
        }
    }
}

/// What [`write_logs`] wrote.
#[derive(Clone, Debug, Default)]
pub struct Written {
    /// The files, in the order they were written.
    pub files: Vec<PathBuf>,
    pub records: u64,
    /// Requests not written (0-based position in the input, and why).
    pub skipped: Vec<(u64, String)>,
}

/// Writes `requests` (each with the outcome to record) as CloudTrail log files under `out`.
/// `world` supplies what a record holds that a request does not (a session's role path).
pub fn write_logs<I>(
    world: &World,
    out: &Path,
    requests: I,
    options: &LogOptions,
) -> io::Result<Written>
where
    I: IntoIterator<Item = (Request, Recorded)>,
{
    let per_file = options.records_per_file.max(1);
    let mut written = Written::default();
    // Records waiting for their file, per (account, Region): (first eventTime, record texts).
    let mut pending: BTreeMap<(String, String), (i64, Vec<String>)> = BTreeMap::new();
    let mut serial = 0u64;
    for (seq, (request, recorded)) in requests.into_iter().enumerate() {
        let seq = seq as u64;
        let time = options
            .start
            .saturating_add(options.step.saturating_mul(seq as i64));
        let record = match to_record(world, &request, &recorded, seq, time) {
            Ok(r) => r,
            Err(why) => {
                written.skipped.push((seq, why));
                continue;
            }
        };
        let account = record.account.clone();
        let region = record.region.clone();
        let entry = pending
            .entry((account.clone(), region.clone()))
            .or_insert_with(|| (record.time, Vec::new()));
        entry.1.push(record.text);
        if entry.1.len() >= per_file {
            let (first, texts) = std::mem::take(entry);
            pending.remove(&(account.clone(), region.clone()));
            let path = write_file(out, &account, &region, first, serial, &texts, options.gzip)?;
            serial += 1;
            written.records += texts.len() as u64;
            written.files.push(path);
        }
    }
    for ((account, region), (first, texts)) in pending {
        let path = write_file(out, &account, &region, first, serial, &texts, options.gzip)?;
        serial += 1;
        written.records += texts.len() as u64;
        written.files.push(path);
    }
    Ok(written)
}

fn write_file(
    out: &Path,
    account: &str,
    region: &str,
    time: i64,
    serial: u64,
    records: &[String],
    gzip: bool,
) -> io::Result<PathBuf> {
    let (y, m, d, hh, mm) = civil(time);
    let dir = out.join(format!(
        "AWSLogs/{account}/CloudTrail/{region}/{y:04}/{m:02}/{d:02}"
    ));
    std::fs::create_dir_all(&dir)?;
    let ext = if gzip { "json.gz" } else { "json" };
    let path = dir.join(format!(
        "{account}_CloudTrail_{region}_{y:04}{m:02}{d:02}T{hh:02}{mm:02}Z_{serial:016}.{ext}"
    ));
    let file = io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&path)?);
    let mut w: Box<dyn Write> = if gzip {
        Box::new(GzEncoder::new(file, flate2::Compression::fast()))
    } else {
        Box::new(file)
    };
    w.write_all(b"{\"Records\":[")?;
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(r.as_bytes())?;
    }
    w.write_all(b"]}")?;
    w.flush()?;
    drop(w);
    Ok(path)
}

/// One record, serialized, with where it is filed.
struct Built {
    text: String,
    account: String,
    region: String,
    time: i64,
}

/// The context of a request by lower-cased name.
fn context_map(request: &Request) -> HashMap<String, &ContextValue> {
    request
        .context
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

fn single<'c>(ctx: &HashMap<String, &'c ContextValue>, key: &str) -> Option<&'c str> {
    match ctx.get(key) {
        Some(ContextValue::Single(s)) => Some(s),
        _ => None,
    }
}

/// Builds the record for a request and checks that it maps back to an equivalent request.
fn to_record(
    world: &World,
    request: &Request,
    recorded: &Recorded,
    seq: u64,
    default_time: i64,
) -> Result<Built, String> {
    let ctx = context_map(request);
    let caller = &request.caller;
    let key_region = split_arn(&request.resource)
        .map(|p| p[3])
        .filter(|r| !r.is_empty());
    // The record's Region: as requested, else where the integrated service called from (a
    // record can only say kms:ViaService in its own Region), else the key's.
    let via_region = single(&ctx, "kms:viaservice")
        .and_then(|v| v.strip_suffix(".amazonaws.com"))
        .and_then(|v| v.split_once('.'))
        .map(|(_, r)| r)
        .filter(|r| !r.is_empty() && !r.contains('.'));
    let region = single(&ctx, "aws:requestedregion")
        .or(via_region)
        .or(key_region)
        .unwrap_or("us-east-1")
        .to_owned();
    let time = match single(&ctx, "aws:currenttime") {
        Some(t) => parse_event_time(t).filter(|s| format_time(*s) == t).ok_or_else(|| format!("aws:CurrentTime {t:?} is not of the form YYYY-MM-DDTHH:MM:SSZ that CloudTrail logs"))?,
        None => match single(&ctx, "aws:epochtime").and_then(|e| e.parse::<i64>().ok()) {
            Some(e) => e,
            None => default_time,
        },
    };
    let resource_account = split_arn(&request.resource)
        .map(|p| p[4])
        .filter(|a| !a.is_empty());
    let account = if caller.account.is_empty() {
        resource_account.unwrap_or("111122223333").to_owned()
    } else {
        caller.account.clone()
    };
    let name = match request.action {
        RequestAction::ReEncrypt => "ReEncrypt",
        RequestAction::One(id) => actions::info(id).name,
    };

    // userIdentity, and how the call arrived.
    let via_service = single(&ctx, "kms:viaservice");
    let invoked_by = match via_service {
        Some(v) => {
            let suffix = format!(".{region}.amazonaws.com");
            let service = v
                .strip_suffix(&suffix)
                .filter(|s| !s.is_empty() && !s.contains('.'));
            Some(format!(
                "{}.amazonaws.com",
                service.ok_or_else(|| format!(
                    "kms:ViaService {v:?} is not <service>.{region}.amazonaws.com"
                ))?
            ))
        }
        None => None,
    };
    let mut ui = Map::new();
    let type_name = match &caller.kind {
        CallerKind::Root => "Root",
        CallerKind::User { .. } => "IAMUser",
        CallerKind::Role { .. } => "Role",
        CallerKind::AssumedRole { .. } => "AssumedRole",
        CallerKind::FederatedUser { .. } => "FederatedUser",
        CallerKind::Service { .. } => "AWSService",
    };
    ui.insert("type".into(), type_name.into());
    if let CallerKind::Service { name } = &caller.kind {
        ui.insert("invokedBy".into(), name.clone().into());
    } else {
        let principal_id = match (&caller.kind, single(&ctx, "aws:userid")) {
            (_, Some(id)) => Some(id.to_owned()),
            (CallerKind::Root, None) => Some(caller.account.clone()),
            _ => None,
        };
        if let Some(id) = principal_id {
            ui.insert("principalId".into(), id.into());
        }
        ui.insert("arn".into(), caller.arn.clone().into());
        ui.insert("accountId".into(), caller.account.clone().into());
        ui.insert(
            "accessKeyId".into(),
            access_key(seq, matches!(caller.kind, CallerKind::AssumedRole { .. })).into(),
        );
        if let CallerKind::User { name } = &caller.kind {
            ui.insert("userName".into(), name.clone().into());
        }
        let mut attributes = Map::new();
        if let Some(t) = single(&ctx, "aws:tokenissuetime") {
            attributes.insert("creationDate".into(), t.into());
        }
        if let Some(m) = single(&ctx, "aws:multifactorauthpresent") {
            attributes.insert("mfaAuthenticated".into(), m.into());
        }
        let mut session = Map::new();
        if let CallerKind::AssumedRole { role, .. } = &caller.kind {
            let role_arn = single(&ctx, "aws:principalarn")
                .map(str::to_owned)
                .or_else(|| world.principal_arn(caller))
                .unwrap_or_default();
            session.insert(
                "sessionIssuer".into(),
                json!({"type": "Role", "principalId": format!("AROA{:016X}", seq % 0xFFFF_FFFF), "arn": role_arn, "accountId": caller.account, "userName": role}),
            );
        }
        if !attributes.is_empty() {
            session.insert("attributes".into(), Value::Object(attributes));
        }
        if let Some(s) = single(&ctx, "aws:sourceidentity") {
            session.insert("sourceIdentity".into(), s.into());
        }
        if let Some(p) = single(&ctx, "aws:federatedprovider") {
            session.insert(
                "webIdFederationData".into(),
                json!({"federatedProvider": p}),
            );
        }
        if !session.is_empty() {
            ui.insert("sessionContext".into(), Value::Object(session));
        }
        if let Some(by) = &invoked_by {
            ui.insert("invokedBy".into(), by.clone().into());
        }
    }

    // requestParameters and resources.
    let mut params = Map::new();
    let mut resources: Vec<String> = Vec::new();
    let put = |params: &mut Map<String, Value>, field: &str, key: &str| {
        if let Some(v) = ctx.get(key) {
            let value = match v {
                ContextValue::Single(s) => Value::from(s.clone()),
                ContextValue::Multi(m) => Value::from(m.clone()),
            };
            params.insert(field.into(), value);
        }
    };
    let ec = |pairs: &[(String, String)]| {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect(),
        )
    };
    match request.action {
        RequestAction::ReEncrypt => {
            let dest = request.destination.clone().unwrap_or_default();
            resources.push(key_arn(world, &request.resource));
            resources.push(key_arn(world, &dest));
            params.insert("sourceKeyId".into(), request.resource.clone().into());
            params.insert("destinationKeyId".into(), dest.into());
            let alg = single(&ctx, "kms:encryptionalgorithm").unwrap_or("SYMMETRIC_DEFAULT");
            params.insert("sourceEncryptionAlgorithm".into(), alg.into());
            params.insert("destinationEncryptionAlgorithm".into(), alg.into());
            if !request.encryption_context.is_empty() {
                params.insert(
                    "sourceEncryptionContext".into(),
                    ec(&request.encryption_context),
                );
            }
            if !request.destination_encryption_context.is_empty() {
                params.insert(
                    "destinationEncryptionContext".into(),
                    ec(&request.destination_encryption_context),
                );
            }
        }
        RequestAction::One(id) => {
            let info = actions::info(id);
            match info.resource {
                ResourceKind::None => {}
                ResourceKind::AliasAndKey => {
                    let alias = split_arn(&request.resource)
                        .map(|p| p[5])
                        .unwrap_or_default();
                    params.insert("aliasName".into(), alias.into());
                    resources.push(request.resource.clone());
                    if let Some(t) = &request.target_key {
                        params.insert("targetKeyId".into(), t.clone().into());
                        resources.push(key_arn(world, t));
                    }
                }
                ResourceKind::Key => {
                    let key_id = match single(&ctx, "kms:requestalias") {
                        Some(alias) => alias.to_owned(),
                        None => request.resource.clone(),
                    };
                    params.insert("keyId".into(), key_id.into());
                    resources.push(key_arn(world, &request.resource));
                }
            }
            if info.takes_encryption_context {
                if !request.encryption_context.is_empty() {
                    params.insert("encryptionContext".into(), ec(&request.encryption_context));
                }
                if matches!(name, "Encrypt" | "Decrypt")
                    || ctx.contains_key("kms:encryptionalgorithm")
                {
                    params.insert(
                        "encryptionAlgorithm".into(),
                        single(&ctx, "kms:encryptionalgorithm")
                            .unwrap_or("SYMMETRIC_DEFAULT")
                            .into(),
                    );
                }
                if name.starts_with("GenerateDataKey") && !name.contains("Pair") {
                    params.insert("keySpec".into(), "AES_256".into());
                }
            }
            match name {
                "CreateGrant" => {
                    put(&mut params, "granteePrincipal", "kms:granteeprincipal");
                    put(&mut params, "retiringPrincipal", "kms:retiringprincipal");
                    put(
                        &mut params,
                        "granteeServicePrincipal",
                        "kms:granteeserviceprincipal",
                    );
                    put(
                        &mut params,
                        "retiringServicePrincipal",
                        "kms:retiringserviceprincipal",
                    );
                    put(&mut params, "operations", "kms:grantoperations");
                    let mut constraints = Map::new();
                    match single(&ctx, "kms:grantconstrainttype") {
                        Some("EncryptionContextEquals") => {
                            constraints.insert(
                                "encryptionContextEquals".into(),
                                ec(&request.encryption_context),
                            );
                        }
                        Some("EncryptionContextSubset") => {
                            constraints.insert(
                                "encryptionContextSubset".into(),
                                ec(&request.encryption_context),
                            );
                        }
                        _ => {}
                    }
                    if let Some(s) = single(&ctx, "kms:grantconstraintsourcearn") {
                        constraints.insert("sourceArn".into(), s.into());
                    }
                    if !constraints.is_empty() {
                        params.insert("constraints".into(), Value::Object(constraints));
                    }
                }
                "RetireGrant" | "RevokeGrant" => {
                    if let Some(g) = &request.grant_id {
                        params.insert("grantId".into(), g.clone().into());
                    }
                }
                "CreateKey" => {
                    put(&mut params, "keySpec", "kms:keyspec");
                    put(&mut params, "keyUsage", "kms:keyusage");
                    put(&mut params, "origin", "kms:keyorigin");
                    if let Some(m) = single(&ctx, "kms:multiregion") {
                        params.insert("multiRegion".into(), (m == "true").into());
                    }
                    put_bool(
                        &mut params,
                        &ctx,
                        "bypassPolicyLockoutSafetyCheck",
                        "kms:bypasspolicylockoutsafetycheck",
                    );
                    put_tags(&mut params, request);
                }
                "PutKeyPolicy" => put_bool(
                    &mut params,
                    &ctx,
                    "bypassPolicyLockoutSafetyCheck",
                    "kms:bypasspolicylockoutsafetycheck",
                ),
                "TagResource" => put_tags(&mut params, request),
                "UntagResource" => put(&mut params, "tagKeys", "aws:tagkeys"),
                "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
                    put(&mut params, "keyPairSpec", "kms:datakeypairspec")
                }
                "Sign" | "Verify" => {
                    put(&mut params, "signingAlgorithm", "kms:signingalgorithm");
                    put(&mut params, "messageType", "kms:messagetype");
                }
                "GenerateMac" | "VerifyMac" => put(&mut params, "macAlgorithm", "kms:macalgorithm"),
                "DeriveSharedSecret" => put(
                    &mut params,
                    "keyAgreementAlgorithm",
                    "kms:keyagreementalgorithm",
                ),
                "UpdatePrimaryRegion" => put(&mut params, "primaryRegion", "kms:primaryregion"),
                "ReplicateKey" => put(&mut params, "replicaRegion", "kms:replicaregion"),
                "ScheduleKeyDeletion" => put(
                    &mut params,
                    "pendingWindowInDays",
                    "kms:schedulekeydeletionpendingwindowindays",
                ),
                "EnableKeyRotation" => put(
                    &mut params,
                    "rotationPeriodInDays",
                    "kms:rotationperiodindays",
                ),
                "GetParametersForImport" => {
                    put(&mut params, "wrappingAlgorithm", "kms:wrappingalgorithm");
                    put(&mut params, "wrappingKeySpec", "kms:wrappingkeyspec");
                }
                "ImportKeyMaterial" => {
                    put(&mut params, "expirationModel", "kms:expirationmodel");
                    put(&mut params, "validTo", "kms:validto");
                }
                _ => {}
            }
        }
    }
    if !request.grant_tokens.is_empty() {
        params.insert("grantTokens".into(), request.grant_tokens.clone().into());
    }

    let source_ip = match (single(&ctx, "aws:sourceip"), &caller.kind, &invoked_by) {
        (Some(ip), _, _) => ip.to_owned(),
        (None, CallerKind::Service { name }, _) => name.clone(),
        (None, _, Some(by)) => by.clone(),
        (None, _, None) => "AWS Internal".into(),
    };
    let mut rec = Map::new();
    rec.insert("eventVersion".into(), "1.11".into());
    rec.insert("userIdentity".into(), Value::Object(ui));
    rec.insert("eventTime".into(), format_time(time).into());
    rec.insert("eventSource".into(), "kms.amazonaws.com".into());
    rec.insert("eventName".into(), name.into());
    rec.insert("awsRegion".into(), region.clone().into());
    rec.insert("sourceIPAddress".into(), source_ip.into());
    if let Some(agent) = single(&ctx, "aws:useragent") {
        rec.insert("userAgent".into(), agent.into());
    }
    match recorded {
        Recorded::Allowed => {}
        Recorded::Denied => {
            rec.insert("errorCode".into(), "AccessDenied".into());
            let message = format!(
                "User: {} is not authorized to perform: kms:{name} on resource: {}",
                caller.arn, request.resource
            );
            rec.insert("errorMessage".into(), message.into());
        }
        Recorded::Failed(code) => {
            rec.insert("errorCode".into(), code.clone().into());
        }
    }
    rec.insert(
        "requestParameters".into(),
        if params.is_empty() {
            Value::Null
        } else {
            Value::Object(params)
        },
    );
    rec.insert("responseElements".into(), Value::Null);
    rec.insert("requestID".into(), uuid(seq, 0x5eed).into());
    rec.insert("eventID".into(), event_id(seq).into());
    rec.insert(
        "readOnly".into(),
        (name.starts_with("Describe") || name.starts_with("Get") || name.starts_with("List"))
            .into(),
    );
    if !resources.is_empty() {
        let list: Vec<Value> = resources
            .iter()
            .map(|arn| json!({"accountId": split_arn(arn).map(|p| p[4]).unwrap_or_default(), "type": "AWS::KMS::Key", "ARN": arn}))
            .collect();
        rec.insert("resources".into(), Value::Array(list));
    }
    rec.insert("eventType".into(), "AwsApiCall".into());
    rec.insert("managementEvent".into(), true.into());
    rec.insert("recipientAccountId".into(), account.clone().into());
    if let Some(vpce) = single(&ctx, "aws:sourcevpce") {
        rec.insert("vpcEndpointId".into(), vpce.into());
    }
    rec.insert("eventCategory".into(), "Management".into());
    rec.insert(
        "tlsDetails".into(),
        json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": format!("kms.{region}.amazonaws.com")}),
    );
    let text = Value::Object(rec).to_string();
    check_round_trip(world, request, &text)?;
    Ok(Built {
        text,
        account,
        region,
        time,
    })
}

fn put_bool(
    params: &mut Map<String, Value>,
    ctx: &HashMap<String, &ContextValue>,
    field: &str,
    key: &str,
) {
    if let Some(v) = single(ctx, key) {
        params.insert(field.into(), (v == "true").into());
    }
}

fn put_tags(params: &mut Map<String, Value>, request: &Request) {
    let tags: Vec<Value> = request
        .context
        .iter()
        .filter_map(|(k, v)| {
            let name = k
                .get(..15)
                .filter(|p| p.eq_ignore_ascii_case("aws:RequestTag/"))
                .map(|_| &k[15..])?;
            match v {
                ContextValue::Single(s) => Some(json!({"tagKey": name, "tagValue": s})),
                ContextValue::Multi(_) => None,
            }
        })
        .collect();
    if !tags.is_empty() {
        params.insert("tags".into(), Value::Array(tags));
    }
}

/// The key ARN a key or alias ARN names in the world (the alias ARN itself when unknown).
fn key_arn(world: &World, arn: &str) -> String {
    world
        .key_for_alias(arn)
        .map_or_else(|| arn.to_owned(), |k| k.arn.clone())
}

/// The `eventID` [`write_logs`] gives the `seq`-th request (0-based), so that a replay's findings
/// can be traced back to the generated request.
pub fn event_id(seq: u64) -> String {
    uuid(seq, 0xe7e7)
}

/// A deterministic id in the UUID layout.
fn uuid(seq: u64, salt: u64) -> String {
    let h = mix(seq ^ salt.rotate_left(32));
    let g = mix(h);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        g >> 52,
        g & 0xffff_ffff_ffff
    )
}

fn access_key(seq: u64, temporary: bool) -> String {
    format!(
        "{}{:016X}",
        if temporary { "ASIA" } else { "AKIA" },
        mix(seq)
    )
}

/// SplitMix64 finalizer: spreads a counter into well-mixed bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Context keys every record supplies that a request may leave out (docs/semantics.md §4.2 "always").
const SUPPLIED_BY_LOGS: &[&str] = &["aws:requestedregion", "aws:currenttime", "aws:epochtime"];

/// Reads a written record back and checks that it maps to a request that decides as `original`.
fn check_round_trip(world: &World, original: &Request, text: &str) -> Result<(), String> {
    let rec: Record =
        serde_json::from_str(text).map_err(|e| format!("written record does not parse: {e}"))?;
    let mapped = match map_record(&rec) {
        Mapping::Request(m) => m.request,
        Mapping::Skipped(why) => return Err(format!("written record is skipped on replay: {why}")),
        Mapping::Bad(bad) => return Err(format!("written record is bad on replay: {bad}")),
        Mapping::NotKms => return Err("written record is not a KMS record".into()),
    };
    let differs = |what: &str| Err(format!("{what} does not survive a CloudTrail record"));
    if mapped.caller != original.caller {
        return differs("the principal");
    }
    if mapped.action != original.action {
        return differs("the action");
    }
    let orig = context_map(original);
    let back = context_map(&mapped);
    let mut explained: Vec<&str> = Vec::new();
    if mapped.resource != original.resource {
        // A key named by alias ARN is logged as the key, with the alias as kms:RequestAlias.
        let alias = split_arn(&original.resource)
            .map(|p| p[5])
            .filter(|r| r.starts_with("alias/"));
        let resolved = world
            .key_for_alias(&original.resource)
            .map(|k| k.arn.as_str());
        let alias_ok = match original.action {
            RequestAction::One(id) => {
                !actions::info(id).request_alias || single(&back, "kms:requestalias") == alias
            }
            RequestAction::ReEncrypt => false,
        };
        if alias.is_none() || resolved != Some(mapped.resource.as_str()) || !alias_ok {
            return differs("the resource");
        }
        explained.push("kms:requestalias");
    }
    if mapped.destination != original.destination {
        return differs("the destination key");
    }
    if mapped.target_key != original.target_key.as_ref().map(|d| key_arn(world, d))
        && mapped.target_key != original.target_key
    {
        return differs("the target key");
    }
    if sorted(&mapped.encryption_context) != sorted(&original.encryption_context)
        || sorted(&mapped.destination_encryption_context)
            != sorted(&original.destination_encryption_context)
    {
        return differs("the encryption context");
    }
    if mapped.policy != original.policy {
        return differs("the new key policy");
    }
    if mapped.grant_id != original.grant_id || mapped.grant_tokens != original.grant_tokens {
        return differs("the grant id or grant tokens");
    }
    let caller = &original.caller;
    let via = orig.contains_key("kms:viaservice");
    for (k, v) in &orig {
        if back.get(k) == Some(v) {
            continue;
        }
        let derived = match k.as_str() {
            "kms:calleraccount" | "aws:principalaccount" => Some(caller.account.clone()),
            "aws:principaltype" => caller.principal_type().map(str::to_owned),
            "aws:securetransport" => Some("true".into()),
            "aws:principalisawsservice" => Some(caller.is_service().to_string()),
            "aws:viaawsservice" => Some(via.to_string()),
            "aws:principalarn" => world.principal_arn(caller),
            "aws:userid" => match &caller.kind {
                CallerKind::Root => Some(caller.account.clone()),
                CallerKind::FederatedUser { name } => Some(format!("{}:{name}", caller.account)),
                _ => None,
            },
            _ => None,
        };
        let same = matches!(v, ContextValue::Single(s) if Some(s) == derived.as_ref());
        if !same || back.contains_key(k) {
            return differs(&format!("context key {k}"));
        }
    }
    for (k, v) in &back {
        if orig.contains_key(k)
            || SUPPLIED_BY_LOGS.contains(&k.as_str())
            || explained.contains(&k.as_str())
        {
            continue;
        }
        let derived = match k.as_str() {
            "aws:viaawsservice" => Some(via.to_string()),
            "aws:principalarn" => world.principal_arn(caller),
            "kms:encryptionalgorithm" => Some("SYMMETRIC_DEFAULT".into()),
            _ => None,
        };
        if !matches!(v, ContextValue::Single(s) if Some(s) == derived.as_ref()) {
            return differs(&format!("context key {k} (added on replay)"));
        }
    }
    Ok(())
}

fn sorted(pairs: &[(String, String)]) -> Vec<&(String, String)> {
    let mut v: Vec<_> = pairs.iter().collect();
    v.sort();
    v
}
