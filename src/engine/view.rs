//! The request context as the compiled engine reads it: a lazy view that answers one condition
//! key at a time from the request's own context or, failing that, from what AWS derives (caller,
//! key, request parameters). It gives exactly the values `context::Context::build` would, without
//! building a map for every check.

use crate::actions::{self, ActionId};
use crate::arn::{Caller, CallerKind};
use crate::context::{is_identity_only_key, Layer};
use crate::request::{ContextValue, Request};
use crate::world::{Key, Principal, World};
use std::borrow::Cow;

/// One context value as the view returns it.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    /// A single-valued key.
    One(Cow<'a, str>),
    /// A multivalued key.
    Many(Many<'a>),
}

/// The values of a multivalued key, borrowed from wherever they live.
#[derive(Clone, Copy, Debug)]
pub enum Many<'a> {
    Strings(&'a [String]),
    /// The keys of an encryption context (`kms:EncryptionContextKeys`).
    EcKeys(&'a [(String, String)]),
    /// A one-element set (`aws:PrincipalServiceNamesList`).
    Single(&'a str),
}

impl<'a> Many<'a> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Many::Strings(s) => s.len(),
            Many::EcKeys(p) => p.len(),
            Many::Single(_) => 1,
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value number `i`.
    pub fn get(&self, i: usize) -> &'a str {
        match self {
            Many::Strings(s) => &s[i],
            Many::EcKeys(p) => &p[i].0,
            Many::Single(s) => s,
        }
    }
}

/// The component being authorized, as the view needs it.
#[derive(Clone, Copy, Debug)]
pub struct ComponentRef<'a> {
    pub action: ActionId,
    pub key: Option<&'a Key>,
    pub encryption_context: &'a [(String, String)],
    pub request_alias: Option<&'a str>,
    pub same_key: Option<bool>,
}

/// A condition key the engine knows how to derive, resolved from its name once at compile time
/// so a check never compares key names against the whole list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    PrincipalIsAwsService,
    PrincipalServiceName,
    PrincipalServiceNamesList,
    CallerAccount,
    PrincipalAccount,
    PrincipalArn,
    PrincipalType,
    Username,
    Userid,
    PrincipalOrgId,
    PrincipalOrgPaths,
    SecureTransport,
    ViaAwsService,
    ResourceAccount,
    ResourceOrgId,
    ResourceOrgPaths,
    KeySpec,
    KeyUsage,
    KeyOrigin,
    MultiRegion,
    MultiRegionKeyType,
    ResourceAliases,
    RequestAlias,
    ReEncryptOnSameKey,
    EncryptionContextKeys,
    EncryptionAlgorithm,
    MessageType,
    GrantIsForAwsResource,
    /// `aws:SourceVpc`: the VPC of the endpoint `aws:SourceVpce` names (docs/guardrails.md).
    SourceVpc,
    /// `aws:PrincipalTag/<tag>` (tag lower-cased).
    PrincipalTag(Box<str>),
    /// `aws:ResourceTag/<tag>` (tag lower-cased).
    ResourceTag(Box<str>),
    /// `kms:EncryptionContext:<key>` (key lower-cased).
    EncryptionContext(Box<str>),
    /// Anything else: only the request's own context can give it.
    Other,
}

impl KeyRef {
    /// Resolves a lower-case condition key name.
    pub fn of(key: &str) -> KeyRef {
        use KeyRef::*;
        match key {
            "aws:principalisawsservice" => PrincipalIsAwsService,
            "aws:principalservicename" => PrincipalServiceName,
            "aws:principalservicenameslist" => PrincipalServiceNamesList,
            "kms:calleraccount" => CallerAccount,
            "aws:principalaccount" => PrincipalAccount,
            "aws:principalarn" => PrincipalArn,
            "aws:principaltype" => PrincipalType,
            "aws:username" => Username,
            "aws:userid" => Userid,
            "aws:principalorgid" => PrincipalOrgId,
            "aws:principalorgpaths" => PrincipalOrgPaths,
            "aws:securetransport" => SecureTransport,
            "aws:viaawsservice" => ViaAwsService,
            "aws:resourceaccount" => ResourceAccount,
            "aws:resourceorgid" => ResourceOrgId,
            "aws:resourceorgpaths" => ResourceOrgPaths,
            "kms:keyspec" | "kms:customermasterkeyspec" => KeySpec,
            "kms:keyusage" | "kms:customermasterkeyusage" => KeyUsage,
            "kms:keyorigin" => KeyOrigin,
            "kms:multiregion" => MultiRegion,
            "kms:multiregionkeytype" => MultiRegionKeyType,
            "kms:resourcealiases" => ResourceAliases,
            "kms:requestalias" => RequestAlias,
            "kms:reencryptonsamekey" => ReEncryptOnSameKey,
            "kms:encryptioncontextkeys" => EncryptionContextKeys,
            "kms:encryptionalgorithm" => EncryptionAlgorithm,
            "kms:messagetype" => MessageType,
            "kms:grantisforawsresource" => GrantIsForAwsResource,
            "aws:sourcevpc" => SourceVpc,
            _ => {
                if let Some(t) = key.strip_prefix("aws:principaltag/") {
                    PrincipalTag(t.into())
                } else if let Some(t) = key.strip_prefix("aws:resourcetag/") {
                    ResourceTag(t.into())
                } else if let Some(k) = key.strip_prefix("kms:encryptioncontext:") {
                    EncryptionContext(k.into())
                } else {
                    Other
                }
            }
        }
    }
}

/// A condition key: its lower-case name (to find it in the request's own context), what the
/// engine derives for it, and whether key policies see it.
#[derive(Clone, Debug)]
pub struct CKey {
    pub name: Box<str>,
    pub derived: KeyRef,
    /// Documented for IAM policies only: absent in key policies (E51).
    pub identity_only: bool,
}

impl CKey {
    /// Resolves a lower-case condition key name.
    pub fn new(name: &str) -> CKey {
        CKey {
            name: name.into(),
            derived: KeyRef::of(name),
            identity_only: is_identity_only_key(name),
        }
    }
}

/// A lazy view of one component's request context.
pub struct View<'a> {
    pub world: &'a World,
    pub request: &'a Request,
    pub caller: &'a Caller,
    /// The world's principal holding the caller's identity policies, if any.
    pub principal: Option<&'a Principal>,
    pub comp: ComponentRef<'a>,
}

fn bool_str(b: bool) -> Val<'static> {
    Val::One(Cow::Borrowed(if b { "true" } else { "false" }))
}

impl<'a> View<'a> {
    /// The value of a condition key for a policy of `layer`.
    pub fn get(&self, key: &CKey, layer: Layer) -> Option<Val<'a>> {
        if layer == Layer::KeyPolicy && key.identity_only {
            return None;
        }
        // The request's own keys win; with two spellings of one key the later one counts, as
        // `Context::build` inserts them in order.
        if let Some((_, v)) = self
            .request
            .context
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key.name))
        {
            return Some(match v {
                ContextValue::Single(s) => Val::One(Cow::Borrowed(s.as_str())),
                ContextValue::Multi(m) => Val::Many(Many::Strings(m)),
            });
        }
        self.derived(&key.derived)
    }

    /// The value of a key given by its lower-case name (policy variables, grant checks).
    pub fn get_named(&self, key_lower: &str, layer: Layer) -> Option<Val<'a>> {
        self.get(&CKey::new(key_lower), layer)
    }

    /// A single-valued key as text (for policy variables).
    pub fn single(&self, key_lower: &str, layer: Layer) -> Option<Cow<'a, str>> {
        match self.get_named(key_lower, layer)? {
            Val::One(s) => Some(s),
            Val::Many(_) => None,
        }
    }

    /// Whether the key has more aliases than the quota (E50).
    pub fn aliases_over_quota(&self) -> bool {
        self.comp
            .key
            .is_some_and(|k| k.aliases.len() > crate::context::MAX_ALIASES_PER_KEY)
    }

    fn given(&self, key_lower: &str) -> bool {
        self.request
            .context
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(key_lower))
    }

    /// Keys AWS derives itself (docs/semantics.md §4, docs/formats.md (Requests)), as `Context::build` derives them.
    fn derived(&self, key: &KeyRef) -> Option<Val<'a>> {
        use KeyRef::*;
        let caller = self.caller;
        let one = |s: &'a str| Some(Val::One(Cow::Borrowed(s)));
        let info = actions::info(self.comp.action);
        let service = caller.is_service();
        let account = || self.world.accounts.get(&caller.account);
        let key_account = || {
            self.comp
                .key
                .and_then(|k| self.world.accounts.get(&k.account))
        };
        let action = self.comp.action;
        let create_key = action == actions::CREATE_KEY;
        match key {
            PrincipalIsAwsService => Some(bool_str(service)),
            PrincipalServiceName => match &caller.kind {
                CallerKind::Service { name } => one(name),
                _ => None,
            },
            PrincipalServiceNamesList => match &caller.kind {
                CallerKind::Service { name } => Some(Val::Many(Many::Single(name))),
                _ => None,
            },
            CallerAccount if !service && actions::supplies_caller_account(self.comp.action) => {
                one(&caller.account)
            }
            PrincipalAccount if !service => one(&caller.account),
            PrincipalArn if !service => Some(Val::One(match (&caller.kind, self.principal) {
                (CallerKind::AssumedRole { .. }, Some(p)) => Cow::Borrowed(p.arn.as_str()),
                (CallerKind::AssumedRole { role, .. }, None) => Cow::Owned(format!(
                    "arn:{}:iam::{}:role/{role}",
                    caller.partition, caller.account
                )),
                _ => Cow::Borrowed(caller.arn.as_str()),
            })),
            PrincipalType => caller.principal_type().map(|t| Val::One(Cow::Borrowed(t))),
            Username => match &caller.kind {
                CallerKind::User { name } => one(name),
                _ => None,
            },
            Userid => match &caller.kind {
                CallerKind::FederatedUser { name } => {
                    Some(Val::One(Cow::Owned(format!("{}:{name}", caller.account))))
                }
                CallerKind::Root => one(&caller.account),
                _ => None,
            },
            PrincipalOrgId if !service => account()?.org_id.as_deref().and_then(one),
            PrincipalOrgPaths if !service => {
                let a = account()?;
                (!a.org_paths.is_empty()).then_some(Val::Many(Many::Strings(&a.org_paths)))
            }
            SecureTransport => one("true"),
            ViaAwsService => Some(bool_str(self.given("kms:viaservice"))),
            ResourceAccount => one(&self.comp.key?.account),
            ResourceOrgId => key_account()?.org_id.as_deref().and_then(one),
            ResourceOrgPaths => {
                let a = key_account()?;
                (!a.org_paths.is_empty()).then_some(Val::Many(Many::Strings(&a.org_paths)))
            }
            KeySpec => match self.comp.key {
                Some(k) => one(&k.metadata.key_spec),
                None if create_key => one("SYMMETRIC_DEFAULT"),
                None => None,
            },
            KeyUsage => match self.comp.key {
                Some(k) => one(&k.metadata.key_usage),
                None if create_key => one("ENCRYPT_DECRYPT"),
                None => None,
            },
            KeyOrigin => match self.comp.key {
                Some(k) => one(&k.metadata.origin),
                None if create_key => one("AWS_KMS"),
                None => None,
            },
            MultiRegion => match self.comp.key {
                Some(k) => Some(bool_str(k.metadata.multi_region)),
                None if create_key => one("false"),
                None => None,
            },
            MultiRegionKeyType => self
                .comp
                .key?
                .metadata
                .multi_region_key_type
                .as_deref()
                .and_then(one),
            ResourceAliases => Some(Val::Many(Many::Strings(&self.comp.key?.aliases))),
            RequestAlias => self.comp.request_alias.and_then(one),
            ReEncryptOnSameKey => self.comp.same_key.map(bool_str),
            EncryptionContextKeys => {
                let ec = self.comp.encryption_context;
                (!ec.is_empty()).then_some(Val::Many(Many::EcKeys(ec)))
            }
            EncryptionAlgorithm if info.takes_encryption_context => one("SYMMETRIC_DEFAULT"),
            MessageType if action == actions::SIGN || action == actions::VERIFY => one("RAW"),
            GrantIsForAwsResource
                if [
                    actions::CREATE_GRANT,
                    actions::LIST_GRANTS,
                    actions::REVOKE_GRANT,
                ]
                .contains(&action) =>
            {
                Some(bool_str(self.given("kms:viaservice")))
            }
            SourceVpc => {
                let (_, id) = self
                    .request
                    .context
                    .iter()
                    .rev()
                    .find(|(k, _)| k.eq_ignore_ascii_case("aws:sourcevpce"))?;
                let ContextValue::Single(id) = id else {
                    return None;
                };
                self.world.vpc_endpoint(id)?.vpc_id.as_deref().and_then(one)
            }
            PrincipalTag(tag) if !service => {
                let p = self.principal?;
                p.tags
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                    .and_then(|(_, v)| one(v))
            }
            ResourceTag(tag) => {
                let k = self.comp.key?;
                k.tags
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                    .and_then(|(_, v)| one(v))
            }
            EncryptionContext(ec_key) => self
                .comp
                .encryption_context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(ec_key))
                .and_then(|(_, v)| one(v)),
            _ => None,
        }
    }
}
