//! What a request asks once it meets the world: the components to authorize (ReEncrypt and alias
//! operations have several, docs/semantics.md §5 rule 3) and, for each, the full request context with every
//! key AWS derives itself (docs/formats.md (Requests), docs/semantics.md §4). Both evaluators start from here, so they can only
//! differ in how they decide, never in what they are deciding.

use crate::actions::{self, ActionId, ResourceKind};
use crate::arn::{split_arn, CallerKind};
use crate::request::{ContextValue, Request, RequestAction};
use crate::world::{Key, World};
use std::collections::HashMap;

/// Which kind of resource a component is authorized against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentKind {
    /// A KMS key: key policy, identity policies and grants decide.
    Key,
    /// The alias half of an alias operation: identity policies alone decide.
    Alias,
    /// No resource: identity policies alone decide.
    NoResource,
}

/// One authorization that a request needs.
#[derive(Clone, Debug)]
pub struct Component<'a> {
    pub action: ActionId,
    pub kind: ComponentKind,
    /// The ARN the IAM `Resource` element is matched against.
    pub resource: String,
    /// The key, for key components.
    pub key: Option<&'a Key>,
    /// The encryption context this component carries.
    pub encryption_context: &'a [(String, String)],
    /// `kms:RequestAlias`: the alias name the request named the key by.
    pub request_alias: Option<String>,
    /// ReEncrypt: whether source and destination are the same key.
    pub same_key: Option<bool>,
}

/// Splits a request into its components, resolving aliases against the world. An error says why
/// the request cannot be authorized at all (unknown key or alias, reserved alias name, a context
/// key contradicting what keyward derives); callers answer it with an implicit deny.
pub fn components<'a>(world: &'a World, req: &'a Request) -> Result<Vec<Component<'a>>, String> {
    let comps = split(world, req)?;
    if !req.caller.is_service() {
        if let Some(k) = comps
            .iter()
            .filter_map(|c| c.key)
            .find(|k| k.partition != req.caller.partition)
        {
            return Err(format!(
                "the caller is in partition {} and key {} in partition {}: a request never \
                 crosses partitions",
                req.caller.partition, k.arn, k.partition
            ));
        }
        if let Some(c) = comps.iter().find(|c| {
            c.kind == ComponentKind::Alias
                && split_arn(&c.resource).is_some_and(|p| p[1] != req.caller.partition)
        }) {
            return Err(format!(
                "the caller is in partition {} and alias {} is not: a request never crosses \
                 partitions",
                req.caller.partition, c.resource
            ));
        }
    }
    if claims_derived_facts(req) {
        for comp in &comps {
            if let Some(c) = Context::build(world, req, comp)
                .conflicts
                .into_iter()
                .next()
            {
                return Err(c);
            }
        }
    }
    Ok(comps)
}

/// Whether two values are equal, sets compared without regard to order.
fn same_value(a: &ContextValue, b: &ContextValue) -> bool {
    match (a, b) {
        (ContextValue::Multi(x), ContextValue::Multi(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            x.sort();
            y.sort();
            x == y
        }
        _ => a == b,
    }
}

/// Whether the request's context gives a key keyward derives itself, which
/// [`components`] then checks against the derived value.
pub fn claims_derived_facts(req: &Request) -> bool {
    req.context
        .iter()
        .any(|(k, _)| crate::context_keys::is_derived_fact(k))
}

fn show(v: &ContextValue) -> String {
    match v {
        ContextValue::Single(s) => format!("{s:?}"),
        ContextValue::Multi(m) => format!("{m:?}"),
    }
}

fn split<'a>(world: &'a World, req: &'a Request) -> Result<Vec<Component<'a>>, String> {
    match req.action {
        RequestAction::ReEncrypt => {
            let dest = req.destination.as_deref().unwrap_or("");
            let (src_key, src_alias) = resolve_key(world, &req.resource)?;
            let (dst_key, dst_alias) = resolve_key(world, dest)?;
            let same = src_key.arn == dst_key.arn;
            let from = actions::by_name("ReEncryptFrom").expect("known action");
            let to = actions::by_name("ReEncryptTo").expect("known action");
            Ok(vec![
                key_component(
                    from,
                    src_key,
                    src_alias,
                    &req.encryption_context,
                    Some(same),
                ),
                key_component(
                    to,
                    dst_key,
                    dst_alias,
                    &req.destination_encryption_context,
                    Some(same),
                ),
            ])
        }
        RequestAction::One(action) => match actions::info(action).resource {
            ResourceKind::None => Ok(vec![Component {
                action,
                kind: ComponentKind::NoResource,
                resource: resourceless_arn(req),
                key: None,
                encryption_context: &req.encryption_context,
                request_alias: None,
                same_key: None,
            }]),
            ResourceKind::Key => {
                let (key, alias) = resolve_key(world, &req.resource)?;
                let alias = alias.filter(|_| actions::info(action).request_alias);
                let same = (actions::info(action).name.starts_with("ReEncrypt")).then_some(false);
                Ok(vec![key_component(
                    action,
                    key,
                    alias,
                    &req.encryption_context,
                    same,
                )])
            }
            ResourceKind::AliasAndKey => alias_components(world, req, action),
        },
    }
}

fn key_component<'a>(
    action: ActionId,
    key: &'a Key,
    alias: Option<String>,
    ec: &'a [(String, String)],
    same_key: Option<bool>,
) -> Component<'a> {
    Component {
        action,
        kind: ComponentKind::Key,
        resource: key.arn.clone(),
        key: Some(key),
        encryption_context: ec,
        request_alias: alias,
        same_key,
    }
}

/// The resource a resourceless action is matched as: `arn:<partition>:kms:<region>:<account>:*`,
/// so that both `"*"` and account-scoped patterns match it (docs/semantics.md §2.3). The Region is
/// `aws:RequestedRegion` from the context, or `*` when the request does not say.
pub fn resourceless_arn(req: &Request) -> String {
    let region = req
        .context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("aws:RequestedRegion"))
        .and_then(|(_, v)| match v {
            ContextValue::Single(s) => Some(s.as_str()),
            ContextValue::Multi(_) => None,
        })
        .unwrap_or("*");
    let partition = if req.caller.partition.is_empty() {
        "aws"
    } else {
        &req.caller.partition
    };
    format!("arn:{partition}:kms:{region}:{}:*", req.caller.account)
}

/// Resolves a key ARN or alias ARN to a key of the world; for an alias, also its name.
fn resolve_key<'a>(world: &'a World, resource: &str) -> Result<(&'a Key, Option<String>), String> {
    match split_arn(resource) {
        Some([_, _, "kms", _, _, res]) if res.starts_with("key/") => world
            .key(resource)
            .map(|k| (k, None))
            .ok_or_else(|| format!("key {resource} is not in the world (NotFoundException)")),
        Some([_, _, "kms", _, _, res]) if res.starts_with("alias/") => world
            .key_for_alias(resource)
            .map(|k| (k, Some(res.to_owned())))
            .ok_or_else(|| format!("alias {resource} is not in the world (NotFoundException)")),
        _ => Err(format!(
            "{resource:?} is not a key ARN or alias ARN; this action needs a key"
        )),
    }
}

fn alias_components<'a>(
    world: &'a World,
    req: &'a Request,
    action: ActionId,
) -> Result<Vec<Component<'a>>, String> {
    let name = actions::info(action).name;
    let alias_name = match split_arn(&req.resource) {
        Some([_, _, "kms", _, _, res]) if res.starts_with("alias/") => res,
        _ => {
            return Err(format!(
                "{name} needs the alias ARN as its resource, not {:?}",
                req.resource
            ))
        }
    };
    let alias_parts = split_arn(&req.resource).expect("an alias ARN");
    if !req.caller.is_service() && alias_parts[4] != req.caller.account {
        return Err(format!(
            "{name} on alias {} in account {} by a caller of account {}: alias operations never \
             cross accounts",
            req.resource, alias_parts[4], req.caller.account
        ));
    }
    if alias_name.starts_with("alias/aws/") {
        return Err(format!(
            "{alias_name} is reserved for AWS managed keys; {name} is not permitted on it"
        ));
    }
    let mut out = vec![Component {
        action,
        kind: ComponentKind::Alias,
        resource: req.resource.clone(),
        key: None,
        encryption_context: &req.encryption_context,
        request_alias: None,
        same_key: None,
    }];
    if name != "CreateAlias" {
        let current = world.key_for_alias(&req.resource).ok_or_else(|| {
            format!(
                "alias {} is not in the world (NotFoundException)",
                req.resource
            )
        })?;
        out.push(key_component(
            action,
            current,
            None,
            &req.encryption_context,
            None,
        ));
    }
    if name != "DeleteAlias" {
        let target = req
            .target_key
            .as_deref()
            .ok_or_else(|| format!("{name} needs target_key, the key the alias is to point to"))?;
        if !matches!(split_arn(target), Some([_, _, "kms", _, _, r]) if r.starts_with("key/")) {
            return Err(format!(
                "{name} needs target_key as a key ARN, not {target:?}: an alias cannot point to \
                 another alias"
            ));
        }
        let (key, _) = resolve_key(world, target)?;
        if key.account != alias_parts[4] || key.region != alias_parts[3] {
            return Err(format!(
                "{name}: alias {} and target key {} must be in the same account and Region",
                req.resource, key.arn
            ));
        }
        out.push(key_component(
            action,
            key,
            None,
            &req.encryption_context,
            None,
        ));
    }
    Ok(out)
}

/// Which policy a condition is evaluated for: some keys exist only for identity policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    KeyPolicy,
    Identity,
}

/// Keys that AWS documents for IAM policies only; a key policy sees them as absent (docs/semantics.md §4.1
/// `kms:ResourceAliases`, §4.2 `aws:ResourceTag/*`, E51).
pub fn is_identity_only_key(key_lower: &str) -> bool {
    key_lower == "kms:resourcealiases" || key_lower.starts_with("aws:resourcetag/")
}

/// Most aliases a key may have before `kms:ResourceAliases` conditions fail closed (E50).
pub const MAX_ALIASES_PER_KEY: usize = 50;

/// The request context of one component: condition keys (lower-cased names) and their values.
#[derive(Clone, Debug, Default)]
pub struct Context {
    values: HashMap<String, ContextValue>,
    /// The key has more aliases than the quota: `kms:ResourceAliases` conditions fail closed.
    pub aliases_over_quota: bool,
    /// Keys the request's context gave with a value other than the one keyward derives.
    conflicts: Vec<String>,
}

impl Context {
    /// The value of a condition key (name already lower-cased) as seen by a policy of `layer`.
    pub fn get(&self, key_lower: &str, layer: Layer) -> Option<&ContextValue> {
        if layer == Layer::KeyPolicy && is_identity_only_key(key_lower) {
            return None;
        }
        self.values.get(key_lower)
    }

    /// A single-valued key as text, for policy variables (multivalued keys are not variables).
    pub fn single(&self, key_lower: &str, layer: Layer) -> Option<&str> {
        match self.get(key_lower, layer)? {
            ContextValue::Single(s) => Some(s),
            ContextValue::Multi(_) => None,
        }
    }

    fn derive(&mut self, key: &str, value: ContextValue) {
        let lower = key.to_ascii_lowercase();
        match self.values.get(&lower) {
            Some(given)
                if !same_value(given, &value) && crate::context_keys::is_derived_fact(&lower) =>
            {
                self.conflicts.push(format!(
                    "the request's context gives {key} as {} but keyward derives {} from the \
                     caller, the key and the world; a request may not override it",
                    show(given),
                    show(&value)
                ));
            }
            Some(_) => {}
            None => {
                self.values.insert(lower, value);
            }
        }
    }

    fn derive_str(&mut self, key: &str, value: &str) {
        self.derive(key, ContextValue::Single(value.to_owned()));
    }

    /// Builds the context of `comp`: the request's own keys first (they win), then every key
    /// AWS derives from the caller, the key and the request parameters.
    pub fn build(world: &World, req: &Request, comp: &Component) -> Context {
        let mut ctx = Context::default();
        for (k, v) in &req.context {
            ctx.values.insert(k.to_ascii_lowercase(), v.clone());
        }
        let caller = &req.caller;
        let info = actions::info(comp.action);
        let name = info.name;

        // A known VPC endpoint gives its VPC (docs/guardrails.md).
        if let Some(ContextValue::Single(id)) = ctx.values.get("aws:sourcevpce") {
            if let Some(vpc) = world.vpc_endpoint(id).and_then(|e| e.vpc_id.clone()) {
                ctx.derive_str("aws:SourceVpc", &vpc);
            }
        }

        // The caller (docs/semantics.md §2.1, §4.2).
        if caller.is_service() {
            ctx.derive_str("aws:PrincipalIsAWSService", "true");
            if let CallerKind::Service { name } = &caller.kind {
                ctx.derive_str("aws:PrincipalServiceName", name);
                ctx.derive(
                    "aws:PrincipalServiceNamesList",
                    ContextValue::Multi(vec![name.clone()]),
                );
            }
        } else {
            ctx.derive_str("aws:PrincipalIsAWSService", "false");
            if actions::supplies_caller_account(comp.action) {
                ctx.derive_str("kms:CallerAccount", &caller.account);
            }
            ctx.derive_str("aws:PrincipalAccount", &caller.account);
            if let Some(arn) = world.principal_arn(caller) {
                ctx.derive_str("aws:PrincipalArn", &arn);
            }
            if let Some(t) = caller.principal_type() {
                ctx.derive_str("aws:PrincipalType", t);
            }
            match &caller.kind {
                CallerKind::User { name } => ctx.derive_str("aws:username", name),
                CallerKind::FederatedUser { name } => {
                    ctx.derive_str("aws:userid", &format!("{}:{name}", caller.account))
                }
                CallerKind::Root => ctx.derive_str("aws:userid", &caller.account),
                _ => {}
            }
            if let Some(p) = world.principal_for(caller) {
                for (k, v) in &p.tags {
                    ctx.derive_str(&format!("aws:PrincipalTag/{k}"), v);
                }
            }
            if let Some(acct) = world.accounts.get(&caller.account) {
                if let Some(org) = &acct.org_id {
                    ctx.derive_str("aws:PrincipalOrgID", org);
                }
                if !acct.org_paths.is_empty() {
                    ctx.derive(
                        "aws:PrincipalOrgPaths",
                        ContextValue::Multi(acct.org_paths.clone()),
                    );
                }
            }
        }
        ctx.derive_str("aws:SecureTransport", "true");
        let via = ctx.values.contains_key("kms:viaservice");
        ctx.derive_str("aws:ViaAWSService", if via { "true" } else { "false" });

        // The key (KR keys, docs/semantics.md §5).
        if let Some(key) = comp.key {
            ctx.derive_str("aws:ResourceAccount", &key.account);
            if let Some(acct) = world.accounts.get(&key.account) {
                if let Some(org) = &acct.org_id {
                    ctx.derive_str("aws:ResourceOrgID", org);
                }
                if !acct.org_paths.is_empty() {
                    ctx.derive(
                        "aws:ResourceOrgPaths",
                        ContextValue::Multi(acct.org_paths.clone()),
                    );
                }
            }
            for (k, v) in &key.tags {
                ctx.derive_str(&format!("aws:ResourceTag/{k}"), v);
            }
            let m = &key.metadata;
            ctx.derive_str("kms:KeySpec", &m.key_spec);
            ctx.derive_str("kms:CustomerMasterKeySpec", &m.key_spec);
            ctx.derive_str("kms:KeyUsage", &m.key_usage);
            ctx.derive_str("kms:CustomerMasterKeyUsage", &m.key_usage);
            ctx.derive_str("kms:KeyOrigin", &m.origin);
            ctx.derive_str(
                "kms:MultiRegion",
                if m.multi_region { "true" } else { "false" },
            );
            if let Some(t) = &m.multi_region_key_type {
                ctx.derive_str("kms:MultiRegionKeyType", t);
            }
            ctx.derive(
                "kms:ResourceAliases",
                ContextValue::Multi(key.aliases.clone()),
            );
            ctx.aliases_over_quota = key.aliases.len() > MAX_ALIASES_PER_KEY;
        }

        // Request parameters.
        if let Some(alias) = &comp.request_alias {
            ctx.derive_str("kms:RequestAlias", alias);
        }
        if let Some(same) = comp.same_key {
            ctx.derive_str(
                "kms:ReEncryptOnSameKey",
                if same { "true" } else { "false" },
            );
        }
        if !comp.encryption_context.is_empty() {
            for (k, v) in comp.encryption_context {
                ctx.derive_str(&format!("kms:EncryptionContext:{k}"), v);
            }
            let keys = comp
                .encryption_context
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            ctx.derive("kms:EncryptionContextKeys", ContextValue::Multi(keys));
        }
        if info.takes_encryption_context {
            ctx.derive_str("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
        }
        match name {
            "Sign" | "Verify" => ctx.derive_str("kms:MessageType", "RAW"),
            "CreateKey" => {
                ctx.derive_str("kms:KeySpec", "SYMMETRIC_DEFAULT");
                ctx.derive_str("kms:CustomerMasterKeySpec", "SYMMETRIC_DEFAULT");
                ctx.derive_str("kms:KeyUsage", "ENCRYPT_DECRYPT");
                ctx.derive_str("kms:CustomerMasterKeyUsage", "ENCRYPT_DECRYPT");
                ctx.derive_str("kms:KeyOrigin", "AWS_KMS");
                ctx.derive_str("kms:MultiRegion", "false");
            }
            "CreateGrant" | "ListGrants" | "RevokeGrant" => {
                ctx.derive_str(
                    "kms:GrantIsForAWSResource",
                    if via { "true" } else { "false" },
                );
            }
            _ => {}
        }
        ctx
    }
}
