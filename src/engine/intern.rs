//! Interning: every principal, account, service and key name that a world mentions becomes a
//! dense id once, at compile time, and a check resolves a request's strings to those ids without
//! allocating.
//!
//! The lookups a check makes most are keyed by fixed-size values parsed from the request's
//! strings — a 12-digit account as a number, a key ARN as its partition, Region, account and
//! key id, a role name of up to [`SHORT`] bytes held inline — so a probe compares the hash-table
//! slot itself and never follows a pointer to a stored string (each such pointer is a likely
//! cache miss on a large world). Names outside those shapes fall back to string-keyed tables;
//! parsing is exact, so a name is found in the fixed-size table or in the string table, never
//! in both, and two names are equal exactly when their parsed forms are.

use crate::arn::{split_arn, PrincipalEntry};
use hashbrown::HashMap;

/// Dense id of an interned principal token (a user, session, role, account or service).
pub type TokenId = u32;

/// What a name resolves to: the token policies and grants know the principal by, and the world
/// principal that holds its identity policies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Entry {
    /// The token, when some policy or grant names this principal.
    pub token: Option<TokenId>,
    /// The index in `World::principals`, when the world lists this principal.
    pub principal: Option<u32>,
}

/// How a token matches the caller it was resolved from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A user, session, federated user or service: the caller itself.
    Exact,
    /// A role: every session of it.
    Role,
    /// An account: the root user directly, other principals through identity policies.
    Account,
}

/// A 12-digit account id as a number: two ids are equal exactly when their numbers are, so hot
/// paths compare integers. `None` for anything else, which callers compare as strings.
#[inline]
pub fn account_number(account: &str) -> Option<u64> {
    // One pass: each byte is checked as it is read.
    if account.len() != 12 {
        return None;
    }
    account.bytes().try_fold(0, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// Longest role name or key id held inline (IAM allows 64-character role names; most are far
/// shorter, and key ids are 36 characters).
pub const SHORT: usize = 38;

/// A name of at most [`SHORT`] bytes, held inline (the bytes past `len` are zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Short {
    len: u8,
    bytes: [u8; SHORT],
}

impl std::hash::Hash for Short {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The used bytes alone: equal names hash alike, and hashing costs their length only.
        state.write(&self.bytes[..usize::from(self.len)]);
    }
}

impl Short {
    #[inline]
    fn new(s: &str) -> Option<Short> {
        let b = s.as_bytes();
        if b.len() > SHORT {
            return None;
        }
        let mut bytes = [0u8; SHORT];
        bytes[..b.len()].copy_from_slice(b);
        Some(Short {
            len: b.len() as u8,
            bytes,
        })
    }
}

/// A role by account and name (role ARNs in policies carry paths that session ARNs do not).
#[derive(Debug, Hash, PartialEq, Eq)]
struct RoleKey {
    account: Box<str>,
    name: Box<str>,
}

/// A borrowed [`RoleKey`], to look roles up without allocating; hashes as `RoleKey` does.
#[derive(Hash)]
struct RoleQuery<'a> {
    account: &'a str,
    name: &'a str,
}

impl hashbrown::Equivalent<RoleKey> for RoleQuery<'_> {
    fn equivalent(&self, key: &RoleKey) -> bool {
        *key.account == *self.account && *key.name == *self.name
    }
}

/// The names of principals that policies, grants and the world mention, interned to dense
/// token ids. A check resolves a caller with one lookup for its ARN, one for its role and one for
/// its account.
#[derive(Default)]
pub struct Names {
    /// Users and world principals by full ARN; sessions and federated users (as policies name
    /// them) by ARN without the partition (`sts::ACCOUNT:assumed-role/R/S`).
    arns: HashMap<Box<str>, Entry>,
    /// Roles of 12-digit accounts with short names, by account number and inline name.
    roles: HashMap<(u64, Short), Entry>,
    /// Every other role.
    long_roles: HashMap<RoleKey, Entry>,
    /// 12-digit accounts by number.
    accounts: HashMap<u64, TokenId>,
    /// Every other account name.
    odd_accounts: HashMap<Box<str>, TokenId>,
    services: HashMap<Box<str>, TokenId>,
    /// Whether some policy or grant names a session or federated user by its STS ARN.
    sts_tokens: bool,
    /// Whether some world principal is listed under an STS ARN (a session or federated user).
    pub sts_principals: bool,
    next: TokenId,
}

impl Names {
    fn fresh(next: &mut TokenId) -> TokenId {
        let id = *next;
        *next += 1;
        id
    }

    fn token(slot: &mut Option<TokenId>, next: &mut TokenId) -> TokenId {
        *slot.get_or_insert_with(|| Self::fresh(next))
    }

    fn simple(map: &mut HashMap<Box<str>, TokenId>, next: &mut TokenId, key: &str) -> TokenId {
        if let Some(&id) = map.get(key) {
            return id;
        }
        let id = Self::fresh(next);
        map.insert(key.into(), id);
        id
    }

    fn role_mut(&mut self, account: &str, name: &str) -> &mut Entry {
        match (account_number(account), Short::new(name)) {
            (Some(a), Some(n)) => self.roles.entry((a, n)).or_default(),
            _ => self
                .long_roles
                .entry(RoleKey {
                    account: account.into(),
                    name: name.into(),
                })
                .or_default(),
        }
    }

    fn account_token(&mut self, account: &str) -> TokenId {
        match account_number(account) {
            Some(a) => *self
                .accounts
                .entry(a)
                .or_insert_with(|| Self::fresh(&mut self.next)),
            None => Self::simple(&mut self.odd_accounts, &mut self.next, account),
        }
    }

    /// The token of a name kept by its ARN (users; sessions and federated users without their
    /// partition).
    fn arn_token(&mut self, key: &str) -> TokenId {
        Self::token(
            &mut self.arns.entry(key.into()).or_default().token,
            &mut self.next,
        )
    }

    /// Interns a principal entry; `None` for entries matched otherwise (`*`) or never.
    pub fn intern(&mut self, e: &PrincipalEntry) -> Option<(TokenId, TokenKind)> {
        Some(match e {
            PrincipalEntry::Any | PrincipalEntry::Never(_) => return None,
            PrincipalEntry::Account(a) => (self.account_token(a), TokenKind::Account),
            PrincipalEntry::Service(s) => (
                Self::simple(&mut self.services, &mut self.next, s),
                TokenKind::Exact,
            ),
            PrincipalEntry::User { arn, .. } => (self.arn_token(arn), TokenKind::Exact),
            PrincipalEntry::Session {
                account,
                role,
                session,
            } => {
                self.sts_tokens = true;
                let key = format!("sts::{account}:assumed-role/{role}/{session}");
                (self.arn_token(&key), TokenKind::Exact)
            }
            PrincipalEntry::FederatedUser { account, name } => {
                self.sts_tokens = true;
                let key = format!("sts::{account}:federated-user/{name}");
                (self.arn_token(&key), TokenKind::Exact)
            }
            PrincipalEntry::Role { account, name } => {
                let mut next = self.next;
                let token = Self::token(&mut self.role_mut(account, name).token, &mut next);
                self.next = next;
                (token, TokenKind::Role)
            }
        })
    }

    /// Records world principal `index`, listed under `arn`.
    pub fn add_principal(&mut self, arn: &str, index: u32) {
        self.arns.entry(arn.into()).or_default().principal = Some(index);
        match split_arn(arn) {
            Some([_, _, "iam", _, account, res]) => {
                if let Some(path) = res.strip_prefix("role/") {
                    let name = path.rsplit('/').next().unwrap_or(path);
                    // As the world's own index: a later role of the same name wins.
                    self.role_mut(account, name).principal = Some(index);
                }
            }
            Some([_, _, "sts", ..]) => self.sts_principals = true,
            _ => {}
        }
    }

    /// A name by its full ARN (users, world principals).
    #[inline]
    pub fn arn(&self, arn: &str) -> Entry {
        self.arns.get(arn).copied().unwrap_or_default()
    }

    /// A session or federated user as policies name it, by its ARN without `arn:PARTITION:`.
    #[inline]
    pub fn sts_token(&self, rest: &str) -> Option<TokenId> {
        if !self.sts_tokens {
            return None;
        }
        self.arns.get(rest).and_then(|e| e.token)
    }

    /// A role by account (and its number, when it is a 12-digit id) and name.
    #[inline]
    pub fn role(&self, account: &str, number: Option<u64>, name: &str) -> Entry {
        match (number, Short::new(name)) {
            (Some(a), Some(n)) => self.roles.get(&(a, n)),
            _ => self.long_roles.get(&RoleQuery { account, name }),
        }
        .copied()
        .unwrap_or_default()
    }

    /// An account's token, given its number when it is a 12-digit id.
    #[inline]
    pub fn account(&self, account: &str, number: Option<u64>) -> Option<TokenId> {
        match number {
            Some(a) => self.accounts.get(&a).copied(),
            None => self.odd_accounts.get(account).copied(),
        }
    }

    /// A service principal's token.
    #[inline]
    pub fn service(&self, name: &str) -> Option<TokenId> {
        self.services.get(name).copied()
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.next as usize
    }

    /// Heap bytes of the tables (slots at capacity, plus the strings they own).
    pub fn heap_bytes(&self) -> usize {
        map_bytes(&self.arns, self.arns.keys().map(|k| k.len()).sum())
            + map_bytes(&self.roles, 0)
            + map_bytes(
                &self.long_roles,
                self.long_roles
                    .keys()
                    .map(|k| k.account.len() + k.name.len())
                    .sum(),
            )
            + map_bytes(&self.accounts, 0)
            + map_bytes(
                &self.odd_accounts,
                self.odd_accounts.keys().map(|k| k.len()).sum(),
            )
            + map_bytes(&self.services, self.services.keys().map(|k| k.len()).sum())
    }
}

/// Heap bytes of a hash map: its slots at capacity, a control byte each, and `owned` bytes its
/// keys point to.
pub fn map_bytes<K, V>(m: &HashMap<K, V>, owned: usize) -> usize {
    m.capacity() * (std::mem::size_of::<(K, V)>() + 1) + owned
}

/// A key ARN in its usual shape, `arn:P:kms:R:ACCOUNT:key/ID` with a 12-digit account and an id
/// of at most [`SHORT`] bytes (a UUID or `mrk-` id), held in fixed-size parts.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct KeyArn {
    account: u64,
    partition: u8,
    region: u8,
    id: Short,
}

/// The parts of a key ARN in its usual shape.
struct KeyArnParts<'a> {
    partition: &'a str,
    region: &'a str,
    account: u64,
    id: Short,
}

/// Parses a key ARN in its usual shape; `None` for any other text, which the string table holds.
#[inline]
fn key_arn_parts(arn: &str) -> Option<KeyArnParts<'_>> {
    let [_, partition, "kms", region, account, resource] = split_arn(arn)? else {
        return None;
    };
    Some(KeyArnParts {
        partition,
        region,
        account: account_number(account)?,
        id: Short::new(resource.strip_prefix("key/")?)?,
    })
}

/// Keys by ARN: ARNs of the usual shape by their parsed parts, any other by string.
#[derive(Default)]
pub struct KeyIndex {
    parsed: HashMap<KeyArn, u32>,
    other: HashMap<Box<str>, u32>,
    /// The partitions and Regions of parsed ARNs; an ARN's parts hold their positions here.
    partitions: Vec<Box<str>>,
    regions: Vec<Box<str>>,
}

impl KeyIndex {
    fn position(list: &[Box<str>], name: &str) -> Option<u8> {
        list.iter().position(|p| **p == *name).map(|i| i as u8)
    }

    fn intern(list: &mut Vec<Box<str>>, name: &str) -> Option<u8> {
        if let Some(i) = Self::position(list, name) {
            return Some(i);
        }
        if list.len() > u8::MAX as usize {
            return None;
        }
        list.push(name.into());
        Some((list.len() - 1) as u8)
    }

    /// Adds key `index` under `arn`.
    pub fn insert(&mut self, arn: &str, index: u32) {
        let parsed = key_arn_parts(arn).and_then(|p| {
            Some(KeyArn {
                partition: Self::intern(&mut self.partitions, p.partition)?,
                region: Self::intern(&mut self.regions, p.region)?,
                account: p.account,
                id: p.id,
            })
        });
        match parsed {
            Some(k) => {
                self.parsed.insert(k, index);
            }
            None => {
                self.other.insert(arn.into(), index);
            }
        }
    }

    /// The key whose ARN is `arn`.
    #[inline]
    pub fn get(&self, arn: &str) -> Option<u32> {
        match key_arn_parts(arn) {
            Some(p) => {
                let k = KeyArn {
                    partition: Self::position(&self.partitions, p.partition)?,
                    region: Self::position(&self.regions, p.region)?,
                    account: p.account,
                    id: p.id,
                };
                self.parsed.get(&k).copied()
            }
            None => self.other.get(arn).copied(),
        }
    }

    /// Heap bytes of the index.
    pub fn heap_bytes(&self) -> usize {
        map_bytes(&self.parsed, 0)
            + map_bytes(&self.other, self.other.keys().map(|k| k.len()).sum())
            + (self.partitions.len() + self.regions.len()) * 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_of_the_usual_shape_are_parsed_exactly() {
        let mut index = KeyIndex::default();
        let uuid = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let mrk = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
        let odd =
            "arn:aws:kms:us-east-1:111122223333:key/an-id-longer-than-the-inline-limit-of-keyward";
        index.insert(uuid, 0);
        index.insert(mrk, 1);
        index.insert(odd, 2);
        assert_eq!(index.parsed.len(), 2);
        assert_eq!(index.get(uuid), Some(0));
        assert_eq!(index.get(mrk), Some(1));
        assert_eq!(index.get(odd), Some(2));
        // Any other byte anywhere is another key.
        for other in [
            "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223334:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-cn:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ac",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd12ab-34cd-56ef-1234567890ab0",
            "arn:aws:kms:us-east-1:111122223333:key/1234ABCD-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890a",
            "arn:aws:kms:us-east-1:111122223333:alias/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/an-id-longer-than-the-inline-limit-of-keywarD",
        ] {
            assert_eq!(index.get(other), None, "{other}");
        }
    }

    #[test]
    fn roles_and_accounts_resolve_by_value() {
        let mut names = Names::default();
        let long = "r".repeat(SHORT + 1);
        let (short_token, _) = names
            .intern(&PrincipalEntry::Role {
                account: "111122223333".into(),
                name: "app".into(),
            })
            .unwrap();
        let (long_token, _) = names
            .intern(&PrincipalEntry::Role {
                account: "111122223333".into(),
                name: long.clone(),
            })
            .unwrap();
        let (account_token, _) = names
            .intern(&PrincipalEntry::Account("111122223333".into()))
            .unwrap();
        let n = account_number("111122223333");
        assert_eq!(
            names.role("111122223333", n, "app").token,
            Some(short_token)
        );
        assert_eq!(names.role("111122223333", n, &long).token, Some(long_token));
        let other = account_number("111122223334");
        assert_eq!(names.role("111122223334", other, "app").token, None);
        assert_eq!(names.role("111122223333", n, "ap").token, None);
        assert_eq!(names.account("111122223333", n), Some(account_token));
        assert_eq!(
            names.account("011122223333", account_number("011122223333")),
            None
        );
        assert_eq!(account_number("11112222333"), None);
    }
}
