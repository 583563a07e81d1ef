//! ARNs and principals: splitting ARNs into their six parts (docs/semantics.md §2.3), the identity of the
//! caller of a request, and the principal entries that policies and grants name (docs/semantics.md §1.3,
//! §2.1).

use std::fmt;

/// Splits an ARN on its first five colons into `[arn, partition, service, region, account,
/// resource]`; `None` when the text is not an ARN.
pub fn split_arn(text: &str) -> Option<[&str; 6]> {
    if !text.starts_with("arn:") {
        return None;
    }
    let c = first_colons(text.as_bytes())?;
    Some([
        &text[..c[0]],
        &text[c[0] + 1..c[1]],
        &text[c[1] + 1..c[2]],
        &text[c[2] + 1..c[3]],
        &text[c[3] + 1..c[4]],
        &text[c[4] + 1..],
    ])
}

/// The positions of the first five colons of `bytes`. Checks resolve every request's key ARN,
/// so this reads eight bytes at a time: a word's colons are its zero bytes after an XOR with
/// `::::::::`, found exactly with carry-free arithmetic.
fn first_colons(bytes: &[u8]) -> Option<[usize; 5]> {
    const COLONS: u64 = u64::from_le_bytes([b':'; 8]);
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut found = [0usize; 5];
    let mut n = 0;
    let mut words = bytes.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ COLONS;
        // High bit of each byte set exactly where the byte of `x` is zero.
        let mut zeros = !(((x & LOW7) + LOW7) | x | LOW7);
        while zeros != 0 {
            found[n] = base + zeros.trailing_zeros() as usize / 8;
            n += 1;
            if n == 5 {
                return Some(found);
            }
            zeros &= zeros - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b':' {
            found[n] = base + i;
            n += 1;
            if n == 5 {
                return Some(found);
            }
        }
    }
    None
}

/// Whether `text` is a 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `text` looks like an IAM unique id (`AIDA…`, `AROA…`), which is how a policy shows a
/// principal that was deleted after the policy was saved (docs/semantics.md §1.3).
pub fn is_unique_id(text: &str) -> bool {
    text.len() >= 16
        && text.starts_with('A')
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The kind of caller making a request (docs/semantics.md §2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// The account root user.
    Root,
    /// An IAM user; `name` is the last path segment.
    User { name: String },
    /// A role itself (requests normally come from its sessions).
    Role { name: String },
    /// A role session `assumed-role/<role>/<session>`.
    AssumedRole { role: String, session: String },
    /// A federated-user session (GetFederationToken).
    FederatedUser { name: String },
    /// An AWS service principal calling on its own (`cloudtrail.amazonaws.com`).
    Service { name: String },
}

/// The principal that made a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The principal as the request names it.
    pub arn: String,
    /// Its partition (`aws`, `aws-cn`, …); empty for service principals.
    pub partition: String,
    /// Its account id; empty for service principals.
    pub account: String,
    /// What kind of principal it is.
    pub kind: CallerKind,
}

impl Caller {
    /// Parses a request principal: an IAM or STS ARN, a 12-digit account id (the root user), or a
    /// service principal name.
    pub fn parse(text: &str) -> Result<Caller, String> {
        if is_account_id(text) {
            return Ok(Caller {
                arn: format!("arn:aws:iam::{text}:root"),
                partition: "aws".into(),
                account: text.into(),
                kind: CallerKind::Root,
            });
        }
        let Some([_, partition, service, region, account, resource]) = split_arn(text) else {
            if !text.is_empty() && !text.contains(['*', '?', ':', '/', ' ']) && text.contains('.') {
                return Ok(Caller {
                    arn: text.into(),
                    partition: String::new(),
                    account: String::new(),
                    kind: CallerKind::Service {
                        name: text.to_ascii_lowercase(),
                    },
                });
            }
            return Err(format!(
                "principal {text:?} is not an IAM/STS ARN, an account id or a service principal"
            ));
        };
        if !is_account_id(account) {
            return Err(format!(
                "principal {text:?} has account {account:?}, not a 12-digit account id"
            ));
        }
        if text.contains(['*', '?']) {
            return Err(format!("principal {text:?} contains a wildcard"));
        }
        if !region.is_empty() && matches!(service, "iam" | "sts") {
            return Err(format!(
                "principal {text:?} has Region {region:?}: IAM and STS ARNs have none"
            ));
        }
        if !partition.starts_with("aws")
            || !partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
        {
            return Err(format!(
                "principal {text:?} has partition {partition:?}, not an AWS partition"
            ));
        }
        if text.len() > 2048 {
            return Err(
                "principal is longer than 2048 bytes, the most AWS accepts for an ARN".into(),
            );
        }
        let kind = match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => CallerKind::Root,
            ("iam", Some(("user", path))) if !path.is_empty() => CallerKind::User {
                name: last_segment(path).into(),
            },
            ("iam", Some(("role", path))) if !path.is_empty() => CallerKind::Role {
                name: last_segment(path).into(),
            },
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((_, session)) if session.contains(['/', ':']) => {
                    return Err(format!(
                        "principal {text:?}: a role session name has no '/' or ':'"
                    ))
                }
                Some((role, session)) if !role.is_empty() && !session.is_empty() => {
                    CallerKind::AssumedRole {
                        role: role.into(),
                        session: session.into(),
                    }
                }
                _ => {
                    return Err(format!(
                        "principal {text:?}: expected assumed-role/ROLE/SESSION"
                    ))
                }
            },
            ("sts", Some(("federated-user", name))) if !name.is_empty() => {
                CallerKind::FederatedUser { name: name.into() }
            }
            _ => {
                return Err(format!(
                "principal {text:?} is not a root, user, role, assumed-role or federated-user ARN"
            ))
            }
        };
        Ok(Caller {
            arn: text.into(),
            partition: partition.into(),
            account: account.into(),
            kind,
        })
    }

    /// Whether the caller is an AWS service principal.
    pub fn is_service(&self) -> bool {
        matches!(self.kind, CallerKind::Service { .. })
    }

    /// Whether the caller is its account's root user.
    pub fn is_root(&self) -> bool {
        self.kind == CallerKind::Root
    }

    /// The role name, for a role or one of its sessions.
    pub fn role_name(&self) -> Option<&str> {
        match &self.kind {
            CallerKind::Role { name } | CallerKind::AssumedRole { role: name, .. } => Some(name),
            _ => None,
        }
    }

    /// The value of `aws:PrincipalType` for this caller.
    pub fn principal_type(&self) -> Option<&'static str> {
        Some(match self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
            CallerKind::Role { .. } | CallerKind::AssumedRole { .. } => "AssumedRole",
            CallerKind::FederatedUser { .. } => "FederatedUser",
            CallerKind::Service { .. } => return None,
        })
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// One principal named in a policy's `Principal`/`NotPrincipal`, or as a grant's grantee or
/// retiring principal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalEntry {
    /// `*` or `{"AWS": "*"}`: every caller.
    Any,
    /// An account (`111122223333` or `arn:aws:iam::111122223333:root`).
    Account(String),
    /// An IAM user ARN.
    User { account: String, arn: String },
    /// An IAM role ARN; matches every session of the role (by account and role name, since
    /// session ARNs carry no path).
    Role { account: String, name: String },
    /// One role session.
    Session {
        account: String,
        role: String,
        session: String,
    },
    /// One federated-user session.
    FederatedUser { account: String, name: String },
    /// A service principal (lower-case DNS name).
    Service(String),
    /// Something that never matches a KMS caller: the unique id of a deleted principal, a
    /// `Federated` or `CanonicalUser` entry.
    Never(String),
}

/// How a principal entry matched a caller (docs/semantics.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// No match.
    No,
    /// The caller's account: allows only together with an identity-policy allow.
    AccountDelegation,
    /// The caller itself, matched through its role ARN: cancelled by an implicit deny in the
    /// role's permissions boundary (docs/semantics.md §6).
    DirectRole,
    /// The caller itself (`*`, user, session, federated user, service, or root via its account).
    Direct,
}

impl PrincipalEntry {
    /// Parses an `AWS` principal value (or a grantee/retiring principal).
    pub fn parse_aws(text: &str) -> Result<PrincipalEntry, String> {
        if text == "*" {
            return Ok(PrincipalEntry::Any);
        }
        if is_account_id(text) {
            return Ok(PrincipalEntry::Account(text.into()));
        }
        if split_arn(text).is_none() && is_unique_id(text) {
            return Ok(PrincipalEntry::Never(text.into()));
        }
        if text.contains(['*', '?']) {
            return Err(format!(
                "principal {text:?} has a wildcard; only a bare \"*\" is allowed"
            ));
        }
        if let Some([_, _, "iam", _, account, resource]) = split_arn(text) {
            if resource.starts_with("group/") {
                return Err(format!(
                    "principal {text:?} is an IAM group, which is never a valid principal"
                ));
            }
            if !is_account_id(account) {
                return Err(format!(
                    "principal {text:?} has account {account:?}, not a 12-digit account id"
                ));
            }
        }
        let caller = Caller::parse(text)?;
        Ok(match caller.kind {
            CallerKind::Root => PrincipalEntry::Account(caller.account),
            CallerKind::User { .. } => PrincipalEntry::User {
                account: caller.account,
                arn: caller.arn,
            },
            CallerKind::Role { name } => PrincipalEntry::Role {
                account: caller.account,
                name,
            },
            CallerKind::AssumedRole { role, session } => PrincipalEntry::Session {
                account: caller.account,
                role,
                session,
            },
            CallerKind::FederatedUser { name } => PrincipalEntry::FederatedUser {
                account: caller.account,
                name,
            },
            CallerKind::Service { .. } => {
                return Err(format!(
                    "{text:?} is not an AWS principal; service principals go under \"Service\""
                ))
            }
        })
    }

    /// Parses a `Service` principal value.
    pub fn parse_service(text: &str) -> Result<PrincipalEntry, String> {
        if text == "*" {
            return Ok(PrincipalEntry::Any);
        }
        if text.is_empty() || text.contains(['*', '?', ' ', '/']) {
            return Err(format!("service principal {text:?} is not a service name"));
        }
        Ok(PrincipalEntry::Service(text.to_ascii_lowercase()))
    }

    /// How this entry matches `caller`.
    pub fn matches(&self, caller: &Caller) -> PrincipalMatch {
        use PrincipalMatch::*;
        match (self, &caller.kind) {
            (PrincipalEntry::Any, _) => Direct,
            (PrincipalEntry::Service(s), CallerKind::Service { name }) => {
                if s == name {
                    Direct
                } else {
                    No
                }
            }
            (PrincipalEntry::Service(_), _) | (_, CallerKind::Service { .. }) => No,
            (PrincipalEntry::Account(a), kind) if *a == caller.account => {
                if *kind == CallerKind::Root {
                    Direct
                } else {
                    AccountDelegation
                }
            }
            (PrincipalEntry::User { arn, .. }, CallerKind::User { .. }) if *arn == caller.arn => {
                Direct
            }
            (
                PrincipalEntry::Role { account, name },
                CallerKind::Role { name: r } | CallerKind::AssumedRole { role: r, .. },
            ) if *account == caller.account && name == r => DirectRole,
            (
                PrincipalEntry::Session {
                    account,
                    role,
                    session,
                },
                CallerKind::AssumedRole {
                    role: r,
                    session: s,
                },
            ) if *account == caller.account && role == r && session == s => Direct,
            (
                PrincipalEntry::FederatedUser { account, name },
                CallerKind::FederatedUser { name: n },
            ) if *account == caller.account && name == n => Direct,
            _ => No,
        }
    }

    /// Whether this entry names the caller at one level of its hierarchy, for `NotPrincipal`
    /// (docs/semantics.md §2.1: session, role, account; user, account; federated user, account).
    pub fn lists_level(&self, caller: &Caller, level: HierarchyLevel) -> bool {
        match (self, level) {
            (PrincipalEntry::Any, _) => true,
            (PrincipalEntry::Account(a), HierarchyLevel::Account) => *a == caller.account,
            (_, HierarchyLevel::Account) => false,
            (_, HierarchyLevel::Role) => {
                matches!(self, PrincipalEntry::Role { .. })
                    && self.matches(caller) == PrincipalMatch::DirectRole
            }
            (_, HierarchyLevel::Itself) => {
                !matches!(
                    self,
                    PrincipalEntry::Role { .. } | PrincipalEntry::Account(_)
                ) && self.matches(caller) == PrincipalMatch::Direct
            }
        }
    }
}

/// A level of a caller's hierarchy, for `NotPrincipal` matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HierarchyLevel {
    /// The caller's own ARN (session, user, federated user, service).
    Itself,
    /// The role of a role session.
    Role,
    /// The caller's account.
    Account,
}

/// The levels of `caller`'s hierarchy that a `NotPrincipal` list must all name to exempt it.
pub fn hierarchy(caller: &Caller) -> &'static [HierarchyLevel] {
    use HierarchyLevel::*;
    match caller.kind {
        CallerKind::Root => &[Account],
        CallerKind::Role { .. } => &[Role, Account],
        CallerKind::AssumedRole { .. } => &[Itself, Role, Account],
        CallerKind::User { .. } | CallerKind::FederatedUser { .. } => &[Itself, Account],
        CallerKind::Service { .. } => &[Itself],
    }
}

impl fmt::Display for PrincipalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalEntry::Any => write!(f, "*"),
            PrincipalEntry::Account(a) => write!(f, "arn:aws:iam::{a}:root"),
            PrincipalEntry::User { arn, .. } => write!(f, "{arn}"),
            PrincipalEntry::Role { account, name } => {
                write!(f, "arn:aws:iam::{account}:role/{name}")
            }
            PrincipalEntry::Session {
                account,
                role,
                session,
            } => write!(f, "arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            PrincipalEntry::FederatedUser { account, name } => {
                write!(f, "arn:aws:sts::{account}:federated-user/{name}")
            }
            PrincipalEntry::Service(s) => write!(f, "{s}"),
            PrincipalEntry::Never(s) => write!(f, "{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_arn_agrees_with_a_plain_split() {
        let texts = [
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:iam::111122223333:role/a:b:c",
            "arn:::::",
            "arn::::",
            "arn:a:b:c:d",
            "arn:aws:s3:::bucket",
            "arn:aws:kms:us-east-1:111122223333:alias/:::::::::::::",
            "arn:aaaaaaaaaaaaaaaaaaaaaaaa:b:cccccccccccccccccccccccc:d::",
            "arn:aws:kms:eu-west-1:111122223333:key/\u{e9}t\u{e9}",
            "arn",
            "ar:n:a:b:c:d",
        ];
        for t in texts {
            let expected = t.starts_with("arn:").then(|| {
                let v: Vec<&str> = t.splitn(6, ':').collect();
                <[&str; 6]>::try_from(v).ok()
            });
            assert_eq!(split_arn(t), expected.flatten(), "{t}");
        }
    }

    fn caller(s: &str) -> Caller {
        Caller::parse(s).unwrap()
    }

    #[test]
    fn split() {
        let p = split_arn("arn:aws:kms:us-east-1:111122223333:key/a:b").unwrap();
        assert_eq!(p[5], "key/a:b");
        assert!(split_arn("arn:aws:kms").is_none());
    }

    #[test]
    fn account_entry() {
        let e = PrincipalEntry::parse_aws("111122223333").unwrap();
        assert_eq!(
            e,
            PrincipalEntry::parse_aws("arn:aws:iam::111122223333:root").unwrap()
        );
        assert_eq!(
            e.matches(&caller("arn:aws:iam::111122223333:root")),
            PrincipalMatch::Direct
        );
        assert_eq!(
            e.matches(&caller("arn:aws:iam::111122223333:user/bob")),
            PrincipalMatch::AccountDelegation
        );
        assert_eq!(
            e.matches(&caller("arn:aws:iam::444455556666:user/bob")),
            PrincipalMatch::No
        );
    }

    #[test]
    fn role_matches_sessions_ignoring_path() {
        let e = PrincipalEntry::parse_aws("arn:aws:iam::111122223333:role/path/Ops").unwrap();
        let s = caller("arn:aws:sts::111122223333:assumed-role/Ops/s1");
        assert_eq!(e.matches(&s), PrincipalMatch::DirectRole);
        let e = PrincipalEntry::parse_aws("arn:aws:sts::111122223333:assumed-role/Ops/s2").unwrap();
        assert_eq!(e.matches(&s), PrincipalMatch::No);
    }

    #[test]
    fn invalid_entries() {
        assert!(PrincipalEntry::parse_aws("arn:aws:iam::111122223333:role/*").is_err());
        assert!(PrincipalEntry::parse_aws("arn:aws:sts::111122223333:assumed-role/Ops/*").is_err());
        assert!(PrincipalEntry::parse_aws("arn:aws:iam::111122223333:group/devs").is_err());
        assert_eq!(
            PrincipalEntry::parse_aws("AROAEXAMPLEROLEID1234").unwrap(),
            PrincipalEntry::Never("AROAEXAMPLEROLEID1234".into())
        );
    }
}
