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
    /// The value of `key_lower` (a lower-case condition key name) for a policy of `layer`.
    pub fn get(&self, key_lower: &str, layer: Layer) -> Option<Val<'a>> {
        if layer == Layer::KeyPolicy && is_identity_only_key(key_lower) {
            return None;
        }
        // The request's own keys win; with two spellings of one key the later one counts, as
        // `Context::build` inserts them in order.
        if let Some((_, v)) = self
            .request
            .context
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key_lower))
        {
            return Some(match v {
                ContextValue::Single(s) => Val::One(Cow::Borrowed(s.as_str())),
                ContextValue::Multi(m) => Val::Many(Many::Strings(m)),
            });
        }
        self.derived(key_lower)
    }

    /// A single-valued key as text (for policy variables).
    pub fn single(&self, key_lower: &str, layer: Layer) -> Option<Cow<'a, str>> {
        match self.get(key_lower, layer)? {
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

    /// Keys AWS derives itself (Part A §4, SPEC B.2), in the order `Context::build` derives them.
    fn derived(&self, key: &str) -> Option<Val<'a>> {
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
        match key {
            "aws:principalisawsservice" => return Some(bool_str(service)),
            "aws:principalservicename" => {
                if let CallerKind::Service { name } = &caller.kind {
                    return one(name);
                }
            }
            "aws:principalservicenameslist" => {
                if let CallerKind::Service { name } = &caller.kind {
                    return Some(Val::Many(Many::Single(name)));
                }
            }
            "kms:calleraccount"
                if !service && actions::supplies_caller_account(self.comp.action) =>
            {
                return one(&caller.account)
            }
            "aws:principalaccount" if !service => return one(&caller.account),
            "aws:principalarn" if !service => {
                return Some(Val::One(match (&caller.kind, self.principal) {
                    (CallerKind::AssumedRole { .. }, Some(p)) => Cow::Borrowed(p.arn.as_str()),
                    (CallerKind::AssumedRole { role, .. }, None) => Cow::Owned(format!(
                        "arn:{}:iam::{}:role/{role}",
                        caller.partition, caller.account
                    )),
                    _ => Cow::Borrowed(caller.arn.as_str()),
                }))
            }
            "aws:principaltype" => {
                return caller.principal_type().map(|t| Val::One(Cow::Borrowed(t)))
            }
            "aws:username" => {
                if let CallerKind::User { name } = &caller.kind {
                    return one(name);
                }
            }
            "aws:userid" => match &caller.kind {
                CallerKind::FederatedUser { name } => {
                    return Some(Val::One(Cow::Owned(format!("{}:{name}", caller.account))))
                }
                CallerKind::Root => return one(&caller.account),
                _ => {}
            },
            "aws:principalorgid" if !service => return account()?.org_id.as_deref().and_then(one),
            "aws:principalorgpaths" if !service => {
                let a = account()?;
                return (!a.org_paths.is_empty()).then_some(Val::Many(Many::Strings(&a.org_paths)));
            }
            "aws:securetransport" => return one("true"),
            "aws:viaawsservice" => return Some(bool_str(self.given("kms:viaservice"))),
            "aws:resourceaccount" => return one(&self.comp.key?.account),
            "aws:resourceorgid" => return key_account()?.org_id.as_deref().and_then(one),
            "aws:resourceorgpaths" => {
                let a = key_account()?;
                return (!a.org_paths.is_empty()).then_some(Val::Many(Many::Strings(&a.org_paths)));
            }
            "kms:keyspec" | "kms:customermasterkeyspec" => match self.comp.key {
                Some(k) => return one(&k.metadata.key_spec),
                None if info.name == "CreateKey" => return one("SYMMETRIC_DEFAULT"),
                None => {}
            },
            "kms:keyusage" | "kms:customermasterkeyusage" => match self.comp.key {
                Some(k) => return one(&k.metadata.key_usage),
                None if info.name == "CreateKey" => return one("ENCRYPT_DECRYPT"),
                None => {}
            },
            "kms:keyorigin" => match self.comp.key {
                Some(k) => return one(&k.metadata.origin),
                None if info.name == "CreateKey" => return one("AWS_KMS"),
                None => {}
            },
            "kms:multiregion" => match self.comp.key {
                Some(k) => return Some(bool_str(k.metadata.multi_region)),
                None if info.name == "CreateKey" => return one("false"),
                None => {}
            },
            "kms:multiregionkeytype" => {
                return self
                    .comp
                    .key?
                    .metadata
                    .multi_region_key_type
                    .as_deref()
                    .and_then(one)
            }
            "kms:resourcealiases" => {
                return Some(Val::Many(Many::Strings(&self.comp.key?.aliases)))
            }
            "kms:requestalias" => return self.comp.request_alias.and_then(one),
            "kms:reencryptonsamekey" => return self.comp.same_key.map(bool_str),
            "kms:encryptioncontextkeys" => {
                let ec = self.comp.encryption_context;
                return (!ec.is_empty()).then_some(Val::Many(Many::EcKeys(ec)));
            }
            "kms:encryptionalgorithm" if info.takes_encryption_context => {
                return one("SYMMETRIC_DEFAULT")
            }
            "kms:messagetype" if matches!(info.name, "Sign" | "Verify") => return one("RAW"),
            "kms:grantisforawsresource"
                if matches!(info.name, "CreateGrant" | "ListGrants" | "RevokeGrant") =>
            {
                return Some(bool_str(self.given("kms:viaservice")));
            }
            _ => {}
        }
        if let Some(tag) = key.strip_prefix("aws:principaltag/") {
            if service {
                return None;
            }
            let p = self.principal?;
            return p
                .tags
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .and_then(|(_, v)| one(v));
        }
        if let Some(tag) = key.strip_prefix("aws:resourcetag/") {
            let k = self.comp.key?;
            return k
                .tags
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .and_then(|(_, v)| one(v));
        }
        if let Some(ec_key) = key.strip_prefix("kms:encryptioncontext:") {
            return self
                .comp
                .encryption_context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(ec_key))
                .and_then(|(_, v)| one(v));
        }
        None
    }
}
