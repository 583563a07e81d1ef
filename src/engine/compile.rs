//! Compiling a world into decision tables. Strings that policies mention — principals, accounts,
//! services, key and alias ARNs — are interned to dense ids once; every action list becomes an
//! action bitset; each key policy becomes per-action statement masks (Allow and Deny apart) with
//! the statements each principal id appears in, so a check finds its candidate statements with a
//! few bit operations and evaluates conditions for those alone.

use super::cond::CCondition;
use crate::actions::{ActionSet, ACTIONS, ACTION_COUNT};
use crate::arn::PrincipalEntry;
use crate::decision::{Reason, Source};
use crate::pattern::{arn_matches, Glob};
use crate::policy::{
    Actions, Effect, Policy, Principals, ResourcePattern, Resources, Statement, Template,
};
use crate::world::World;
use hashbrown::HashMap;

/// Dense id of an interned principal token (a user, session, role, account or service).
pub type TokenId = u32;

/// The principal tokens that policies and grants mention, interned to dense ids. Sessions and
/// federated users are keyed by their ARN without the partition (`sts::ACCOUNT:assumed-role/R/S`),
/// users by their full ARN, roles by account and name (role ARNs in policies carry paths that
/// session ARNs do not).
#[derive(Default)]
pub struct Tokens {
    pub exact: HashMap<Box<str>, TokenId>,
    pub roles: HashMap<Box<str>, HashMap<Box<str>, TokenId>>,
    pub accounts: HashMap<Box<str>, TokenId>,
    pub services: HashMap<Box<str>, TokenId>,
    next: TokenId,
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

impl Tokens {
    fn id(map: &mut HashMap<Box<str>, TokenId>, next: &mut TokenId, key: &str) -> TokenId {
        if let Some(&id) = map.get(key) {
            return id;
        }
        let id = *next;
        *next += 1;
        map.insert(key.into(), id);
        id
    }

    /// Interns a principal entry; `None` for entries matched otherwise (`*`) or never.
    pub fn intern(&mut self, e: &PrincipalEntry) -> Option<(TokenId, TokenKind)> {
        let next = &mut self.next;
        Some(match e {
            PrincipalEntry::Any | PrincipalEntry::Never(_) => return None,
            PrincipalEntry::Account(a) => {
                (Self::id(&mut self.accounts, next, a), TokenKind::Account)
            }
            PrincipalEntry::User { arn, .. } => {
                (Self::id(&mut self.exact, next, arn), TokenKind::Exact)
            }
            PrincipalEntry::Session {
                account,
                role,
                session,
            } => (
                Self::id(
                    &mut self.exact,
                    next,
                    &format!("sts::{account}:assumed-role/{role}/{session}"),
                ),
                TokenKind::Exact,
            ),
            PrincipalEntry::FederatedUser { account, name } => (
                Self::id(
                    &mut self.exact,
                    next,
                    &format!("sts::{account}:federated-user/{name}"),
                ),
                TokenKind::Exact,
            ),
            PrincipalEntry::Service(s) => (Self::id(&mut self.services, next, s), TokenKind::Exact),
            PrincipalEntry::Role { account, name } => {
                let names = self.roles.entry(account.as_str().into()).or_default();
                (Self::id(names, next, name), TokenKind::Role)
            }
        })
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.next as usize
    }

    /// Whether no token was interned.
    pub fn is_empty(&self) -> bool {
        self.next == 0
    }
}

/// The `Resource` element of a statement, compiled.
#[derive(Clone, Debug)]
pub enum CResource {
    /// Matches every resource.
    Any,
    /// Matches resources that match one of these (`negated`: none of these).
    Patterns {
        negated: bool,
        patterns: Box<[CPattern]>,
    },
}

/// One resource pattern.
#[derive(Clone, Debug)]
pub enum CPattern {
    Any,
    /// No wildcard and no variable: plain string equality.
    Exact(Box<str>),
    Glob(Glob),
    /// Has policy variables: resolved per check.
    Var(Template),
}

impl CResource {
    fn compile(r: &Resources) -> CResource {
        if !r.negated && r.patterns.contains(&ResourcePattern::Any) {
            return CResource::Any;
        }
        let patterns = r
            .patterns
            .iter()
            .map(|p| match p {
                ResourcePattern::Any => CPattern::Any,
                ResourcePattern::Arn(t) => match t.as_plain() {
                    Some(s) if !s.contains(['*', '?']) => CPattern::Exact(s.into()),
                    Some(s) => CPattern::Glob(Glob::new(&s)),
                    None => CPattern::Var(crate::engine::cond::lower_template_vars(t)),
                },
            })
            .collect();
        CResource::Patterns {
            negated: r.negated,
            patterns,
        }
    }

    /// Whether any pattern needs the request context (policy variables).
    pub fn is_dynamic(&self) -> bool {
        matches!(self, CResource::Patterns { patterns, .. } if patterns.iter().any(|p| matches!(p, CPattern::Var(_))))
    }

    /// Matches a resource ARN; variables resolve with `glob_of`.
    pub fn matches(&self, resource: &str, glob_of: impl Fn(&Template) -> Option<Glob>) -> bool {
        match self {
            CResource::Any => true,
            CResource::Patterns { negated, patterns } => {
                let hit = patterns.iter().any(|p| match p {
                    CPattern::Any => true,
                    CPattern::Exact(s) => **s == *resource,
                    CPattern::Glob(g) => arn_matches(g, resource, false),
                    CPattern::Var(t) => {
                        glob_of(t).is_some_and(|g| arn_matches(&g, resource, false))
                    }
                });
                hit != *negated
            }
        }
    }
}

/// The actions a statement's `Action`/`NotAction` covers, as a bitset over the KMS actions.
pub fn action_set(actions: &Actions) -> ActionSet {
    let mut set = ActionSet::EMPTY;
    for (id, info) in ACTIONS.iter().enumerate() {
        let name = format!("kms:{}", info.name);
        if actions
            .patterns
            .iter()
            .any(|p| Glob::new(p).matches(&name, true))
        {
            set.insert(id as u8);
        }
    }
    if actions.negated {
        set.complement()
    } else {
        set
    }
}

/// A compiled statement: what is checked per request once the masks have picked it.
#[derive(Clone, Debug)]
pub struct CStatement {
    pub effect: Effect,
    /// Checked per request only when it has variables; otherwise folded into the masks.
    pub resource: CResource,
    pub conditions: Box<[CCondition]>,
    /// Whether a condition reads `kms:ResourceAliases` (fails closed over the alias quota).
    pub reads_resource_aliases: bool,
    /// `NotPrincipal` entries, matched per request.
    pub not_principal: Option<Principals>,
    /// The reason this statement gives when it decides.
    pub reason: Reason,
}

impl CStatement {
    fn compile(st: &Statement, reason: Reason) -> CStatement {
        let conditions: Box<[CCondition]> = st.conditions.iter().map(CCondition::compile).collect();
        CStatement {
            effect: st.effect,
            resource: st
                .resource
                .as_ref()
                .map_or(CResource::Any, CResource::compile),
            reads_resource_aliases: conditions.iter().any(|c| c.key() == "kms:resourcealiases"),
            conditions,
            not_principal: st.principal.as_ref().filter(|p| p.negated).cloned(),
            reason,
        }
    }
}

/// Up to 64 statements of one policy, indexed by action and principal.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// Index of the chunk's first statement.
    pub base: u32,
    /// Per action: the Allow statements that may apply.
    pub allow: [u64; ACTION_COUNT],
    /// Per action: the Deny statements that may apply.
    pub deny: [u64; ACTION_COUNT],
    /// For key policies: per principal token, the statements naming it; sorted by token.
    pub by_token: Vec<(TokenId, TokenKind, u64)>,
    /// Statements whose principal is `*`.
    pub star: u64,
    /// Statements with `NotPrincipal`.
    pub not_principal: u64,
}

impl Chunk {
    fn new(base: u32) -> Chunk {
        Chunk {
            base,
            allow: [0; ACTION_COUNT],
            deny: [0; ACTION_COUNT],
            by_token: Vec::new(),
            star: 0,
            not_principal: 0,
        }
    }

    /// The statements naming `token`.
    #[inline]
    pub fn token_mask(&self, token: Option<TokenId>) -> u64 {
        let Some(t) = token else { return 0 };
        match self.by_token.binary_search_by_key(&t, |e| e.0) {
            Ok(i) => self.by_token[i].2,
            Err(_) => 0,
        }
    }
}

/// A compiled policy: its statements and their chunks.
#[derive(Clone, Debug, Default)]
pub struct CPolicy {
    pub statements: Vec<CStatement>,
    pub chunks: Vec<Chunk>,
}

impl CPolicy {
    /// Adds a statement. `resource_ok` says whether its resource can match (statically false
    /// drops it from the masks); `principals` is `None` for identity policies.
    fn push(
        &mut self,
        st: &Statement,
        reason: Reason,
        resource_ok: bool,
        tokens: Option<&mut Tokens>,
    ) {
        let index = self.statements.len() as u32;
        if index % 64 == 0 {
            self.chunks.push(Chunk::new(index));
        }
        let compiled = CStatement::compile(st, reason);
        let chunk = self.chunks.last_mut().expect("pushed above");
        let bit = 1u64 << (index % 64);
        if let (Some(actions), Some(_), true) = (&st.action, &st.resource, resource_ok) {
            let masks = if st.effect == Effect::Allow {
                &mut chunk.allow
            } else {
                &mut chunk.deny
            };
            for a in action_set(actions).iter() {
                masks[a as usize] |= bit;
            }
        }
        if let (Some(p), Some(tokens)) = (&st.principal, tokens) {
            if p.negated {
                chunk.not_principal |= bit;
            } else {
                for e in &p.entries {
                    if *e == PrincipalEntry::Any {
                        chunk.star |= bit;
                    } else if let Some((t, kind)) = tokens.intern(e) {
                        match chunk.by_token.iter_mut().find(|x| x.0 == t) {
                            Some(x) => x.2 |= bit,
                            None => chunk.by_token.push((t, kind, bit)),
                        }
                    }
                }
                chunk.by_token.sort_by_key(|x| x.0);
            }
        }
        self.statements.push(compiled);
    }
}

/// A key, compiled.
pub struct CKey {
    /// The key policy; `None` when the key has none (everything is denied).
    pub policy: Option<CPolicy>,
    /// The key's grants (indexes into `World::grants`, in world order) by grantee token.
    pub grants_by_token: Vec<(TokenId, TokenKind, Vec<u32>)>,
}

/// A principal's identity side, compiled: its own and its groups' policies flattened in the
/// order the reference evaluator reads them, and its permissions boundary.
pub struct CIdentity {
    pub policies: CPolicy,
    pub boundary: Option<CPolicy>,
}

/// Everything compiled from a world, indexed for lookups.
pub struct Tables {
    pub tokens: Tokens,
    pub key_by_arn: HashMap<Box<str>, u32>,
    pub key_by_alias_arn: HashMap<Box<str>, u32>,
    pub keys: Vec<CKey>,
    pub identities: Vec<CIdentity>,
    /// World principals by exact ARN, and roles by account and name.
    pub principal_by_arn: HashMap<Box<str>, u32>,
    pub principal_by_role: HashMap<Box<str>, HashMap<Box<str>, u32>>,
}

fn statement_reason(source: Source, index: usize, st: &Statement) -> Reason {
    Reason {
        source,
        statement: Some(index),
        sid: st.sid.clone(),
    }
}

/// Compiles `world`.
pub fn compile(world: &World) -> Tables {
    let mut tokens = Tokens::default();
    let mut key_by_arn = HashMap::with_capacity(world.keys.len());
    let mut key_by_alias_arn = HashMap::new();
    let mut keys = Vec::with_capacity(world.keys.len());
    for (i, key) in world.keys.iter().enumerate() {
        key_by_arn.insert(key.arn.as_str().into(), i as u32);
        for a in &key.aliases {
            key_by_alias_arn.insert(key.alias_arn(a).into(), i as u32);
        }
        let policy = key.policy.as_ref().map(|p| {
            let mut c = CPolicy::default();
            for (s, st) in p.statements.iter().enumerate() {
                let reason = statement_reason(
                    Source::KeyPolicy {
                        key: key.arn.clone(),
                    },
                    s,
                    st,
                );
                let compiled = st.resource.as_ref().map(CResource::compile);
                // A key-policy statement's resource is matched against this key's ARN once, here,
                // unless it has variables.
                let ok = compiled
                    .as_ref()
                    .is_some_and(|r| r.is_dynamic() || r.matches(&key.arn, |_| None));
                c.push(st, reason, ok, Some(&mut tokens));
            }
            c
        });
        keys.push(CKey {
            policy,
            grants_by_token: Vec::new(),
        });
    }
    for (g, grant) in world.grants.iter().enumerate() {
        let Some(&k) = key_by_arn.get(grant.key.as_str()) else {
            continue;
        };
        let Some((t, kind)) = tokens.intern(&grant.grantee) else {
            continue;
        };
        let list = &mut keys[k as usize].grants_by_token;
        match list.iter_mut().find(|x| x.0 == t) {
            Some(x) => x.2.push(g as u32),
            None => list.push((t, kind, vec![g as u32])),
        }
    }
    for k in &mut keys {
        k.grants_by_token.sort_by_key(|x| x.0);
    }
    let mut principal_by_arn = HashMap::with_capacity(world.principals.len());
    let mut principal_by_role: HashMap<Box<str>, HashMap<Box<str>, u32>> = HashMap::new();
    let mut identities = Vec::with_capacity(world.principals.len());
    for (i, p) in world.principals.iter().enumerate() {
        principal_by_arn.insert(p.arn.as_str().into(), i as u32);
        if let Some([_, _, "iam", _, account, res]) = crate::arn::split_arn(&p.arn) {
            if let Some(path) = res.strip_prefix("role/") {
                let name = path.rsplit('/').next().unwrap_or(path);
                principal_by_role
                    .entry(account.into())
                    .or_default()
                    .insert(name.into(), i as u32);
            }
        }
        let mut policies = CPolicy::default();
        let mut add = |policy: &Policy, source: Source| {
            for (s, st) in policy.statements.iter().enumerate() {
                policies.push(st, statement_reason(source.clone(), s, st), true, None);
            }
        };
        for (n, policy) in p.policies.iter().enumerate() {
            add(
                policy,
                Source::IdentityPolicy {
                    principal: p.arn.clone(),
                    policy: n,
                },
            );
        }
        for g in &p.groups {
            if let Some(group) = world.group(g) {
                for (n, policy) in group.policies.iter().enumerate() {
                    add(
                        policy,
                        Source::GroupPolicy {
                            group: g.clone(),
                            policy: n,
                        },
                    );
                }
            }
        }
        let boundary = p.permissions_boundary.as_ref().map(|b| {
            let mut c = CPolicy::default();
            for (s, st) in b.statements.iter().enumerate() {
                c.push(
                    st,
                    statement_reason(
                        Source::PermissionsBoundary {
                            principal: p.arn.clone(),
                        },
                        s,
                        st,
                    ),
                    true,
                    None,
                );
            }
            c
        });
        identities.push(CIdentity { policies, boundary });
    }
    Tables {
        tokens,
        key_by_arn,
        key_by_alias_arn,
        keys,
        identities,
        principal_by_arn,
        principal_by_role,
    }
}
