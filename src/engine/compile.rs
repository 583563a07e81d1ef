//! Compiling a world into decision tables. Strings that policies mention — principals, accounts,
//! services, key and alias ARNs — are interned to dense ids once; every action list becomes an
//! action bitset; each key policy becomes per-action statement masks (Allow and Deny apart) with
//! the statements each principal id appears in, so a check finds its candidate statements with a
//! few bit operations and evaluates conditions for those alone.

use super::cond::CCondition;
use super::intern::{map_bytes, KeyIndex};
use crate::actions::{ActionSet, ACTIONS};
use crate::arn::PrincipalEntry;
use crate::decision::{Reason, Source};
use crate::pattern::{arn_matches, ArnPattern, Glob};
use crate::policy::{
    Actions, Effect, Policy, Principals, ResourcePattern, Resources, Statement, Template,
};
use crate::world::World;
use hashbrown::HashMap;
use smallvec::SmallVec;

use super::intern::{account_number, Names, TokenId, TokenKind};

/// The `Resource` element of a statement, compiled.
#[derive(Clone, Debug)]
pub enum CResource {
    /// Matches every resource.
    Any,
    /// One pattern, held inline (`negated`: `NotResource`).
    One { negated: bool, pattern: CPattern },
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
    /// `arn:P:S:R:A:` and more literal text, then one final `*` (the shape of most resource
    /// patterns, `arn:aws:kms:us-east-1:111122223333:key/*`): with its first five ARN parts
    /// literal, the pattern matches exactly the texts that start with the literal, so one
    /// comparison decides.
    Prefix(Box<str>),
    Arn(ArnPattern),
    /// Has policy variables: resolved per check.
    Var(Template),
}

impl CPattern {
    fn compile(p: &ResourcePattern) -> CPattern {
        match p {
            ResourcePattern::Any => CPattern::Any,
            ResourcePattern::Arn(t) => match t.as_plain() {
                Some(s) if !s.contains(['*', '?']) => CPattern::Exact(s.into()),
                Some(s) => match s.strip_suffix('*') {
                    Some(prefix)
                        if prefix.starts_with("arn:")
                            && !prefix.contains(['*', '?'])
                            && prefix.matches(':').count() >= 5 =>
                    {
                        CPattern::Prefix(prefix.into())
                    }
                    _ => CPattern::Arn(ArnPattern::new(&Glob::new(&s))),
                },
                None => CPattern::Var(crate::engine::cond::lower_template_vars(t)),
            },
        }
    }

    fn matches<'p>(
        &self,
        resource: &str,
        parts: &impl Fn() -> Option<&'p [&'p str; 6]>,
        glob_of: &impl Fn(&Template) -> Option<Glob>,
    ) -> bool {
        match self {
            CPattern::Any => true,
            CPattern::Exact(s) => **s == *resource,
            CPattern::Prefix(p) => resource.starts_with(&**p),
            CPattern::Arn(p) => p.matches_parts(resource, parts()),
            CPattern::Var(t) => glob_of(t).is_some_and(|g| arn_matches(&g, resource, false)),
        }
    }
}

impl CResource {
    fn compile(r: &Resources) -> CResource {
        if !r.negated && r.patterns.contains(&ResourcePattern::Any) {
            return CResource::Any;
        }
        if let [one] = &r.patterns[..] {
            return CResource::One {
                negated: r.negated,
                pattern: CPattern::compile(one),
            };
        }
        CResource::Patterns {
            negated: r.negated,
            patterns: r.patterns.iter().map(CPattern::compile).collect(),
        }
    }

    /// Whether any pattern needs the request context (policy variables).
    pub fn is_dynamic(&self) -> bool {
        match self {
            CResource::Any => false,
            CResource::One { pattern, .. } => matches!(pattern, CPattern::Var(_)),
            CResource::Patterns { patterns, .. } => {
                patterns.iter().any(|p| matches!(p, CPattern::Var(_)))
            }
        }
    }

    /// Matches a resource ARN, whose parts `parts` gives when a pattern needs them; variables
    /// resolve with `glob_of`.
    pub fn matches<'p>(
        &self,
        resource: &str,
        parts: impl Fn() -> Option<&'p [&'p str; 6]>,
        glob_of: impl Fn(&Template) -> Option<Glob>,
    ) -> bool {
        match self {
            CResource::Any => true,
            CResource::One { negated, pattern } => {
                pattern.matches(resource, &parts, &glob_of) != *negated
            }
            CResource::Patterns { negated, patterns } => {
                let hit = patterns
                    .iter()
                    .any(|p| p.matches(resource, &parts, &glob_of));
                hit != *negated
            }
        }
    }
}

/// The actions a statement's `Action`/`NotAction` covers, as a bitset over the KMS actions.
pub fn action_set(actions: &Actions) -> ActionSet {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| ACTIONS.iter().map(|a| format!("kms:{}", a.name)).collect());
    let globs: Vec<Glob> = actions.patterns.iter().map(|p| Glob::new(p)).collect();
    let mut set = ActionSet::EMPTY;
    for (id, name) in names.iter().enumerate() {
        if globs.iter().any(|g| g.matches(name, true)) {
            set.insert(id as u8);
        }
    }
    if actions.negated {
        set.complement()
    } else {
        set
    }
}

/// Action sets by `Action`/`NotAction` list, computed once per distinct list: worlds repeat a few
/// lists across thousands of statements, and matching every list against every KMS action was
/// most of the compile time.
#[derive(Default)]
struct ActionSets(HashMap<Actions, ActionSet>);

impl ActionSets {
    fn get(&mut self, actions: &Actions) -> ActionSet {
        if let Some(&set) = self.0.get(actions) {
            return set;
        }
        let set = action_set(actions);
        self.0.insert(actions.clone(), set);
        set
    }
}

/// A compiled statement: what is checked per request once the masks have picked it. Kept small
/// (what rarely matters lives in [`Cold`]) so candidate statements share few cache lines.
#[derive(Clone, Debug)]
pub struct CStatement {
    pub effect: Effect,
    /// Checked per request only when it has variables; otherwise folded into the masks.
    pub resource: CResource,
    pub conditions: Box<[CCondition]>,
    /// Whether a condition reads `kms:ResourceAliases` (fails closed over the alias quota).
    pub reads_resource_aliases: bool,
}

/// What a check reads of a statement only in rare cases: its `NotPrincipal` list, and the reason
/// it gives once it has decided.
#[derive(Clone, Debug)]
pub struct Cold {
    /// `NotPrincipal` entries, matched per request.
    pub not_principal: Option<Principals>,
    /// The reason this statement gives when it decides.
    pub reason: Reason,
}

impl CStatement {
    fn compile(st: &Statement, reason: Reason) -> (CStatement, Cold) {
        let conditions: Box<[CCondition]> = st.conditions.iter().map(CCondition::compile).collect();
        let hot = CStatement {
            effect: st.effect,
            resource: st
                .resource
                .as_ref()
                .map_or(CResource::Any, CResource::compile),
            reads_resource_aliases: conditions.iter().any(|c| c.key() == "kms:resourcealiases"),
            conditions,
        };
        let cold = Cold {
            not_principal: st.principal.as_ref().filter(|p| p.negated).cloned(),
            reason,
        };
        (hot, cold)
    }
}

/// What every candidate check reads of a statement, kept small and contiguous: the actions it
/// can apply to (empty when its resource can never match) and its effect.
#[derive(Clone, Copy, Debug)]
pub struct Hot {
    pub actions: ActionSet,
    pub effect: Effect,
}

/// Up to 64 statements of a key policy, indexed by principal: bit `i` of a mask stands for
/// statement `base + i`.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// Index of the chunk's first statement.
    pub base: u32,
    /// Per principal token, the statements naming it; kept sorted by token.
    pub by_token: SmallVec<[(TokenId, TokenKind, u64); 4]>,
    /// Statements whose principal is `*`.
    pub star: u64,
    /// Statements with `NotPrincipal`.
    pub not_principal: u64,
}

impl Chunk {
    fn new(base: u32) -> Chunk {
        Chunk {
            base,
            by_token: SmallVec::new(),
            star: 0,
            not_principal: 0,
        }
    }

    /// The statements naming `token`.
    #[inline]
    pub fn token_mask(&self, token: Option<TokenId>) -> u64 {
        let Some(t) = token else { return 0 };
        if self.by_token.len() <= 8 {
            return self.by_token.iter().find(|e| e.0 == t).map_or(0, |e| e.2);
        }
        self.by_token
            .binary_search_by_key(&t, |e| e.0)
            .map_or(0, |i| self.by_token[i].2)
    }
}

/// A compiled policy: the hot part of each statement, the rest, and (for key policies) the
/// principal index.
#[derive(Clone, Debug, Default)]
pub struct CPolicy {
    /// Inline for up to four statements (most key policies), so a check finds a policy's hot
    /// data in the record that holds the policy instead of behind another pointer.
    pub hot: SmallVec<[Hot; 4]>,
    pub statements: Vec<CStatement>,
    pub cold: Vec<Cold>,
    /// Inline for policies of up to 64 statements (all but the largest), for the same reason.
    pub chunks: SmallVec<[Chunk; 1]>,
}

impl CPolicy {
    /// An empty policy with room for `n` statements: reserving once keeps each policy's arrays
    /// and the statements' own allocations next to each other in memory, as compiled in order.
    fn with_capacity(n: usize) -> CPolicy {
        CPolicy {
            hot: SmallVec::with_capacity(n),
            statements: Vec::with_capacity(n),
            cold: Vec::with_capacity(n),
            chunks: SmallVec::with_capacity(n.div_ceil(64)),
        }
    }

    /// Adds a statement. `resource_ok` says whether its resource can match (statically false
    /// makes it inert); `names` interns the principals of key-policy statements.
    fn push(
        &mut self,
        st: &Statement,
        reason: Reason,
        resource_ok: bool,
        sets: &mut ActionSets,
        names: Option<&mut Names>,
    ) {
        let index = self.statements.len() as u32;
        let bit = 1u64 << (index % 64);
        let actions = match (&st.action, &st.resource, resource_ok) {
            (Some(actions), Some(_), true) => sets.get(actions),
            _ => ActionSet::EMPTY,
        };
        self.hot.push(Hot {
            actions,
            effect: st.effect,
        });
        let (statement, cold) = CStatement::compile(st, reason);
        self.statements.push(statement);
        self.cold.push(cold);
        let Some(names) = names else { return };
        if index % 64 == 0 {
            self.chunks.push(Chunk::new(index));
        }
        let chunk = self.chunks.last_mut().expect("pushed above");
        let Some(p) = &st.principal else { return };
        if p.negated {
            chunk.not_principal |= bit;
            return;
        }
        for e in &p.entries {
            if *e == PrincipalEntry::Any {
                chunk.star |= bit;
            } else if let Some((t, kind)) = names.intern(e) {
                match chunk.by_token.binary_search_by_key(&t, |x| x.0) {
                    Ok(i) => chunk.by_token[i].2 |= bit,
                    Err(i) => chunk.by_token.insert(i, (t, kind, bit)),
                }
            }
        }
    }
}

/// A key, compiled.
pub struct CKey {
    /// The key policy; `None` when the key has none (everything is denied).
    pub policy: Option<CPolicy>,
    /// The key's grants (indexes into `World::grants`, in world order) by grantee token.
    pub grants_by_token: Vec<(TokenId, TokenKind, Vec<u32>)>,
    /// The error cryptographic operations meet when the key is not enabled.
    pub state_error: Option<&'static str>,
    /// Where the key ARN's first five colons are, so checks never split it again.
    pub colons: [u32; 5],
    /// The key's account as a number ([`account_number`]).
    pub account: Option<u64>,
}

impl CKey {
    /// The key ARN split into its six parts.
    pub fn parts<'a>(&self, arn: &'a str) -> [&'a str; 6] {
        let c = self.colons.map(|c| c as usize);
        [
            &arn[..c[0]],
            &arn[c[0] + 1..c[1]],
            &arn[c[1] + 1..c[2]],
            &arn[c[2] + 1..c[3]],
            &arn[c[3] + 1..c[4]],
            &arn[c[4] + 1..],
        ]
    }
}

/// A principal's identity side, compiled: its own and its groups' policies flattened in the
/// order the reference evaluator reads them, and its permissions boundary.
pub struct CIdentity {
    pub policies: CPolicy,
    pub boundary: Option<CPolicy>,
}

/// Everything compiled from a world, indexed for lookups.
pub struct Tables {
    pub names: Names,
    pub key_by_arn: KeyIndex,
    pub key_by_alias_arn: HashMap<Box<str>, u32>,
    pub keys: Vec<CKey>,
    /// The operations of each grant of the world, as action sets.
    pub grant_operations: Vec<ActionSet>,
    pub identities: Vec<CIdentity>,
}

impl CPolicy {
    /// Heap bytes held by the policy (an estimate that counts every allocation it owns).
    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let statements: usize = self
            .statements
            .iter()
            .zip(&self.cold)
            .map(|(st, cold)| {
                let reason = match &cold.reason.source {
                    Source::KeyPolicy { key } => key.len(),
                    Source::IdentityPolicy { principal, .. }
                    | Source::PermissionsBoundary { principal } => principal.len(),
                    Source::GroupPolicy { group, .. } => group.len(),
                    _ => 0,
                };
                let conditions = st.conditions.len() * (size_of::<CCondition>() + 64);
                reason + cold.reason.sid.as_ref().map_or(0, String::len) + conditions
            })
            .sum();
        let spilled = |bytes: usize, spilled: bool| if spilled { bytes } else { 0 };
        spilled(self.hot.capacity() * size_of::<Hot>(), self.hot.spilled())
            + self.statements.capacity() * size_of::<CStatement>()
            + self.cold.capacity() * size_of::<Cold>()
            + statements
            + spilled(
                self.chunks.capacity() * size_of::<Chunk>(),
                self.chunks.spilled(),
            )
    }
}

impl Tables {
    /// Heap bytes held by the compiled tables (an estimate: every table, statement and interned
    /// name, with hash-map slots at their capacity).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let names = self.names.heap_bytes();
        let keys: usize = self
            .keys
            .iter()
            .map(|k| {
                k.policy.as_ref().map_or(0, CPolicy::heap_bytes)
                    + k.grants_by_token
                        .iter()
                        .map(|g| 32 + g.2.len() * 4)
                        .sum::<usize>()
            })
            .sum();
        let identities: usize = self
            .identities
            .iter()
            .map(|i| i.policies.heap_bytes() + i.boundary.as_ref().map_or(0, CPolicy::heap_bytes))
            .sum();
        names
            + self.key_by_arn.heap_bytes()
            + map_bytes(
                &self.key_by_alias_arn,
                self.key_by_alias_arn.keys().map(|k| k.len()).sum(),
            )
            + self.keys.capacity() * size_of::<CKey>()
            + keys
            + self.grant_operations.capacity() * size_of::<ActionSet>()
            + self.identities.capacity() * size_of::<CIdentity>()
            + identities
    }
}

fn statement_reason(source: Source, index: usize, st: &Statement) -> Reason {
    Reason {
        source,
        statement: Some(index),
        sid: st.sid.clone(),
    }
}

/// Compiles a policy without a principal index (session, control and endpoint policies):
/// statement `i` of the result is statement `i` of `policy`.
pub fn compile_plain(policy: &Policy, source: Source) -> CPolicy {
    let mut sets = ActionSets::default();
    let mut c = CPolicy::with_capacity(policy.statements.len());
    for (s, st) in policy.statements.iter().enumerate() {
        let reason = statement_reason(source.clone(), s, st);
        c.push(st, reason, true, &mut sets, None);
    }
    c
}

/// Compiles `world`.
pub fn compile(world: &World) -> Tables {
    let mut tokens = Names::default();
    let mut sets = ActionSets::default();
    let mut key_by_arn = KeyIndex::default();
    let mut key_by_alias_arn = HashMap::new();
    let mut keys = Vec::with_capacity(world.keys.len());
    for (i, key) in world.keys.iter().enumerate() {
        key_by_arn.insert(&key.arn, i as u32);
        for a in &key.aliases {
            key_by_alias_arn.insert(key.alias_arn(a).into(), i as u32);
        }
        let key_parts = crate::arn::split_arn(&key.arn);
        let policy = key.policy.as_ref().map(|p| {
            let mut c = CPolicy::with_capacity(p.statements.len());
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
                let ok = compiled.as_ref().is_some_and(|r| {
                    r.is_dynamic() || r.matches(&key.arn, || key_parts.as_ref(), |_| None)
                });
                c.push(st, reason, ok, &mut sets, Some(&mut tokens));
            }
            c
        });
        let state_error = match key.metadata.key_state.as_str() {
            "Enabled" => None,
            "Disabled" => Some("DisabledException"),
            _ => Some("KMSInvalidStateException"),
        };
        let mut colons = [0u32; 5];
        for (slot, (i, _)) in colons.iter_mut().zip(key.arn.match_indices(':')) {
            // Key ARNs are at most 2,048 bytes (checked at load); u32 holds any offset anyway.
            *slot = u32::try_from(i).unwrap_or(u32::MAX);
        }
        keys.push(CKey {
            policy,
            grants_by_token: Vec::new(),
            state_error,
            colons,
            account: account_number(&key.account),
        });
    }
    for (g, grant) in world.grants.iter().enumerate() {
        let Some(k) = key_by_arn.get(&grant.key) else {
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
    let grant_operations = world
        .grants
        .iter()
        .map(|g| {
            let mut set = ActionSet::EMPTY;
            for op in &g.operations {
                // Grant operations are exact names (the loader rejects others).
                if let Some(id) = ACTIONS.iter().position(|a| a.name == op) {
                    set.insert(id as u8);
                }
            }
            set
        })
        .collect();
    let mut identities = Vec::with_capacity(world.principals.len());
    for (i, p) in world.principals.iter().enumerate() {
        tokens.add_principal(&p.arn, i as u32);
        let groups = p.groups.iter().filter_map(|g| world.group(g));
        let count = p
            .policies
            .iter()
            .chain(groups.flat_map(|g| &g.policies))
            .map(|policy| policy.statements.len())
            .sum();
        let mut policies = CPolicy::with_capacity(count);
        let mut add = |policy: &Policy, source: Source| {
            for (s, st) in policy.statements.iter().enumerate() {
                let reason = statement_reason(source.clone(), s, st);
                policies.push(st, reason, true, &mut sets, None);
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
            let mut c = CPolicy::with_capacity(b.statements.len());
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
                    &mut sets,
                    None,
                );
            }
            c
        });
        identities.push(CIdentity { policies, boundary });
    }
    Tables {
        names: tokens,
        key_by_arn,
        key_by_alias_arn,
        keys,
        grant_operations,
        identities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Template;

    #[test]
    fn compiled_resource_patterns_match_as_arn_patterns() {
        let patterns = [
            "arn:aws:kms:us-east-1:111122223333:key/*",
            "arn:aws:kms:us-east-1:111122223333:*",
            "arn:aws:kms:us-east-1:111122223333:key/a:b*",
            "arn:aws:kms:us-east-1:*:key/*",
            "arn:aws:kms:us-east-1:111122223333*",
            "arn:aws:kms:us-east-1:111122223333:key/k",
            "arn:aws:kms:us-east-1:111122223333:key/k?",
        ];
        let resources = [
            "arn:aws:kms:us-east-1:111122223333:key/k",
            "arn:aws:kms:us-east-1:111122223333:key/",
            "arn:aws:kms:us-east-1:111122223333:key/a:b:c",
            "arn:aws:kms:us-east-1:111122223333:alias/k",
            "arn:aws:kms:us-east-1:1111222233334:key/k",
            "arn:aws:kms:us-east-1:111122223333",
            "arn:aws:kms:us-east-2:111122223333:key/k",
            "x",
        ];
        for p in patterns {
            let compiled =
                CPattern::compile(&ResourcePattern::Arn(Template::parse(p, true).unwrap()));
            for r in resources {
                let parts = crate::arn::split_arn(r);
                let expected = arn_matches(&Glob::new(p), r, false);
                let got = compiled.matches(r, &|| parts.as_ref(), &|_| None);
                assert_eq!(got, expected, "{p} against {r}");
            }
        }
    }
}
