//! The closed set of KMS actions (docs/semantics.md §5) and what the authorization algorithm needs to know
//! about each one: which resource it is authorized against, whether key policies can allow it,
//! whether it works across accounts, and whether a grant can allow it.
//!
//! Actions are dense small integers ([`ActionId`]) so that policy action lists compile to bitsets.

/// What the IAM `Resource` element of an action must match (docs/semantics.md §5 "Resource(s)").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// Authorized against a KMS key ARN; the key policy must allow (directly or by delegation).
    Key,
    /// No resource (`*`): identity policies alone decide; key policies play no role.
    None,
    /// Authorized against the alias ARN (identity policies) and a key (key policy).
    AliasAndKey,
}

/// Static facts about one KMS action.
#[derive(Clone, Copy, Debug)]
pub struct ActionInfo {
    /// Operation name without the `kms:` prefix, as AWS spells it.
    pub name: &'static str,
    /// What the action is authorized against.
    pub resource: ResourceKind,
    /// Whether a caller in another account can be allowed this action on a key.
    pub cross_account: bool,
    /// Whether a grant can allow this action (the `GrantOperation` enum).
    pub grant_op: bool,
    /// Cryptographic operation: refused on a key that is not `Enabled`.
    pub cryptographic: bool,
    /// Operation that takes an encryption context, so grant EC constraints apply to it.
    pub takes_encryption_context: bool,
    /// `kms:RequestAlias` is supplied when the key was named by an alias.
    pub request_alias: bool,
}

/// Dense index of an action in [`ACTIONS`].
pub type ActionId = u8;

const fn a(
    name: &'static str,
    resource: ResourceKind,
    cross_account: bool,
    grant_op: bool,
    cryptographic: bool,
    takes_encryption_context: bool,
    request_alias: bool,
) -> ActionInfo {
    ActionInfo {
        name,
        resource,
        cross_account,
        grant_op,
        cryptographic,
        takes_encryption_context,
        request_alias,
    }
}

use ResourceKind::{AliasAndKey, Key, None as NoResource};

/// Every KMS action, sorted by name. Flags: cross-account, grant op, cryptographic,
/// takes encryption context, supplies kms:RequestAlias.
pub const ACTIONS: &[ActionInfo] = &[
    a("CancelKeyDeletion", Key, false, false, false, false, false),
    a(
        "ConnectCustomKeyStore",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a(
        "CreateAlias",
        AliasAndKey,
        false,
        false,
        false,
        false,
        false,
    ),
    a(
        "CreateCustomKeyStore",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a("CreateGrant", Key, true, true, false, false, false),
    a("CreateKey", NoResource, false, false, false, false, false),
    a("Decrypt", Key, true, true, true, true, true),
    a(
        "DeleteAlias",
        AliasAndKey,
        false,
        false,
        false,
        false,
        false,
    ),
    a(
        "DeleteCustomKeyStore",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a(
        "DeleteImportedKeyMaterial",
        Key,
        false,
        false,
        false,
        false,
        false,
    ),
    a("DeriveSharedSecret", Key, true, true, true, false, true),
    a(
        "DescribeCustomKeyStores",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a("DescribeKey", Key, true, true, false, false, true),
    a("DisableKey", Key, false, false, false, false, false),
    a("DisableKeyRotation", Key, false, false, false, false, false),
    a(
        "DisconnectCustomKeyStore",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a("EnableKey", Key, false, false, false, false, false),
    a("EnableKeyRotation", Key, false, false, false, false, false),
    a("Encrypt", Key, true, true, true, true, true),
    a("GenerateDataKey", Key, true, true, true, true, true),
    a("GenerateDataKeyPair", Key, true, true, true, true, true),
    a(
        "GenerateDataKeyPairWithoutPlaintext",
        Key,
        true,
        true,
        true,
        true,
        true,
    ),
    a(
        "GenerateDataKeyWithoutPlaintext",
        Key,
        true,
        true,
        true,
        true,
        true,
    ),
    a("GenerateMac", Key, true, true, true, false, true),
    a(
        "GenerateRandom",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a("GetKeyLastUsage", Key, false, false, false, false, false),
    a("GetKeyPolicy", Key, false, false, false, false, false),
    a(
        "GetKeyRotationStatus",
        Key,
        true,
        false,
        false,
        false,
        false,
    ),
    a(
        "GetParametersForImport",
        Key,
        false,
        false,
        false,
        false,
        false,
    ),
    a("GetPublicKey", Key, true, true, false, false, true),
    a("ImportKeyMaterial", Key, false, false, false, false, false),
    a("ListAliases", NoResource, false, false, false, false, false),
    a("ListGrants", Key, true, false, false, false, false),
    a("ListKeyPolicies", Key, false, false, false, false, false),
    a("ListKeyRotations", Key, false, false, false, false, false),
    a("ListKeys", NoResource, false, false, false, false, false),
    a("ListResourceTags", Key, false, false, false, false, false),
    a(
        "ListRetirableGrants",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a("PutKeyPolicy", Key, false, false, false, false, false),
    a("ReEncryptFrom", Key, true, true, true, true, true),
    a("ReEncryptTo", Key, true, true, true, true, true),
    a("ReplicateKey", Key, false, false, false, false, false),
    a("RetireGrant", Key, true, true, false, false, false),
    a("RevokeGrant", Key, true, false, false, false, false),
    a("RotateKeyOnDemand", Key, false, false, false, false, false),
    a(
        "ScheduleKeyDeletion",
        Key,
        false,
        false,
        false,
        false,
        false,
    ),
    a("Sign", Key, true, true, true, false, true),
    a(
        "SynchronizeMultiRegionKey",
        Key,
        false,
        false,
        false,
        false,
        false,
    ),
    a("TagResource", Key, false, false, false, false, false),
    a("UntagResource", Key, false, false, false, false, false),
    a(
        "UpdateAlias",
        AliasAndKey,
        false,
        false,
        false,
        false,
        false,
    ),
    a(
        "UpdateCustomKeyStore",
        NoResource,
        false,
        false,
        false,
        false,
        false,
    ),
    a(
        "UpdateKeyDescription",
        Key,
        false,
        false,
        false,
        false,
        false,
    ),
    a(
        "UpdatePrimaryRegion",
        Key,
        false,
        false,
        false,
        false,
        false,
    ),
    a("Verify", Key, true, true, true, false, true),
    a("VerifyMac", Key, true, true, true, false, true),
];

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The id of an action named exactly `name`, at compile time.
const fn id_of(name: &str) -> ActionId {
    let mut i = 0;
    while i < ACTIONS.len() {
        if same(ACTIONS[i].name, name) {
            return i as ActionId;
        }
        i += 1;
    }
    panic!("unknown KMS action")
}

/// Ids of the actions the evaluators treat specially.
pub const CREATE_GRANT: ActionId = id_of("CreateGrant");
pub const CREATE_KEY: ActionId = id_of("CreateKey");
pub const RETIRE_GRANT: ActionId = id_of("RetireGrant");
pub const RE_ENCRYPT_FROM: ActionId = id_of("ReEncryptFrom");
pub const RE_ENCRYPT_TO: ActionId = id_of("ReEncryptTo");
pub const SIGN: ActionId = id_of("Sign");
pub const VERIFY: ActionId = id_of("Verify");
pub const LIST_GRANTS: ActionId = id_of("ListGrants");
pub const PUT_KEY_POLICY: ActionId = id_of("PutKeyPolicy");
pub const REVOKE_GRANT: ActionId = id_of("RevokeGrant");

/// Number of KMS actions; fits an action bitset in a `u64`.
pub const ACTION_COUNT: usize = ACTIONS.len();
const _: () = assert!(ACTION_COUNT <= 64);

/// A set of KMS actions as a bitset over [`ActionId`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionSet(pub u64);

impl ActionSet {
    /// The empty set.
    pub const EMPTY: ActionSet = ActionSet(0);
    /// Every KMS action.
    pub const ALL: ActionSet = ActionSet(if ACTION_COUNT == 64 {
        u64::MAX
    } else {
        (1u64 << ACTION_COUNT) - 1
    });

    /// Whether `id` is in the set.
    #[inline]
    pub fn contains(self, id: ActionId) -> bool {
        self.0 & (1u64 << id) != 0
    }

    /// Adds `id`.
    pub fn insert(&mut self, id: ActionId) {
        self.0 |= 1u64 << id;
    }

    /// Every action not in the set.
    pub fn complement(self) -> ActionSet {
        ActionSet(!self.0 & ActionSet::ALL.0)
    }

    /// The actions an IAM action pattern names (`kms:Decrypt`, `kms:Re*`, or `Decrypt` read as
    /// `kms:Decrypt`), matched without regard to case as policies match them.
    pub fn matching(pattern: &str) -> ActionSet {
        let pattern = if pattern.contains(':') {
            pattern.to_string()
        } else {
            format!("kms:{pattern}")
        };
        let glob = crate::pattern::Glob::new(&pattern);
        let mut set = ActionSet::EMPTY;
        for i in 0..ACTION_COUNT as u8 {
            if glob.matches(&full_name(i), true) {
                set.insert(i);
            }
        }
        set
    }

    /// Iterates the ids in the set.
    pub fn iter(self) -> impl Iterator<Item = ActionId> {
        (0..ACTION_COUNT as u8).filter(move |&i| self.contains(i))
    }
}

/// Looks up a KMS operation by name, case-insensitively (`decrypt`, `Decrypt`).
pub fn by_name(name: &str) -> Option<ActionId> {
    ACTIONS
        .iter()
        .position(|a| a.name.eq_ignore_ascii_case(name))
        .map(|i| i as ActionId)
}

/// Looks up a `kms:Name` action string (prefix and name case-insensitive).
pub fn parse_action(action: &str) -> Option<ActionId> {
    let (service, name) = action.split_once(':')?;
    if !service.eq_ignore_ascii_case("kms") {
        return None;
    }
    by_name(name)
}

/// The facts about an action.
#[inline]
pub fn info(id: ActionId) -> &'static ActionInfo {
    &ACTIONS[id as usize]
}

/// Whether AWS supplies `kms:CallerAccount` for the action: every key-resource and custom key
/// store operation except those docs/semantics.md §4.1 lists (ListKeys, ListAliases, GenerateRandom,
/// ListRetirableGrants, SynchronizeMultiRegionKey).
pub fn supplies_caller_account(id: ActionId) -> bool {
    !matches!(
        info(id).name,
        "ListKeys"
            | "ListAliases"
            | "GenerateRandom"
            | "ListRetirableGrants"
            | "SynchronizeMultiRegionKey"
    )
}

/// The canonical `kms:Name` spelling of an action.
pub fn full_name(id: ActionId) -> String {
    format!("kms:{}", info(id).name)
}

/// For an action string that names no KMS action, the closest `kms:Name` (a likely typo such as
/// `kms:Decrpyt`), or `None`.
pub fn suggest(action: &str) -> Option<String> {
    let name = action.split_once(':').map_or(action, |(_, n)| n);
    // The ReEncrypt API is authorized as two actions; policies name them as `kms:ReEncrypt*`.
    if name.eq_ignore_ascii_case("ReEncrypt") {
        return Some("kms:ReEncrypt*".into());
    }
    crate::suggest::closest(name, ACTIONS.iter().map(|a| a.name)).map(|n| format!("kms:{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_unique() {
        for w in ACTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(parse_action("KMS:decrypt"), by_name("Decrypt"));
        assert!(parse_action("s3:GetObject").is_none());
        assert!(parse_action("kms:Nope").is_none());
        assert_eq!(suggest("kms:Decrpyt").as_deref(), Some("kms:Decrypt"));
        assert_eq!(
            suggest("kms:GenerateDataKeyWithoutPlaintex").as_deref(),
            Some("kms:GenerateDataKeyWithoutPlaintext")
        );
        assert_eq!(suggest("kms:Nope"), None);
        assert_eq!(suggest("kms:ReEncrypt").as_deref(), Some("kms:ReEncrypt*"));
    }
}
