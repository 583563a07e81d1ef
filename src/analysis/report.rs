//! The access report (`keyward access-report`): every key × principal × action of a world,
//! written compactly. Principals with the same access to a key are grouped, and each group of
//! principals is written once and named by its number wherever it recurs, so the report grows
//! with the number of distinct access patterns, not with the size of the matrix.

use super::{analysed_actions, Analyzer};
use crate::actions::{self, ActionId};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

/// Per principal of one key: actions allowed unconditionally, and those allowed under
/// conditions.
type Summary = (Vec<ActionId>, Vec<ActionId>);

/// The summaries of one key: per world principal (by index), and per class.
struct KeyAccess {
    principals: BTreeMap<Summary, Vec<usize>>,
    classes: BTreeMap<String, Summary>,
}

fn key_access(an: &Analyzer, key: &crate::world::Key) -> KeyAccess {
    let all = analysed_actions();
    let mut principals: BTreeMap<Summary, Vec<usize>> = BTreeMap::new();
    for (members, s) in an.principal_summaries(key, all) {
        let u: Vec<ActionId> = s.unconditional.iter().collect();
        let c: Vec<ActionId> = s
            .any
            .iter()
            .filter(|a| !s.unconditional.contains(*a))
            .collect();
        principals.entry((u, c)).or_default().extend(members);
    }
    let mut classes: BTreeMap<String, Summary> = BTreeMap::new();
    for a in all.iter() {
        for e in an.classes(key, a) {
            let s = classes.entry(e.principal.clone()).or_default();
            let list = if e.conditions.is_empty() && e.unless.is_empty() {
                &mut s.0
            } else {
                &mut s.1
            };
            if !list.contains(&a) {
                list.push(a);
            }
        }
    }
    for v in principals.values_mut() {
        v.sort_unstable();
    }
    for (u, c) in classes.values_mut() {
        u.sort_unstable();
        c.retain(|a| !u.contains(a));
        c.sort_unstable();
    }
    KeyAccess {
        principals,
        classes,
    }
}

fn names(list: &[ActionId]) -> Vec<String> {
    list.iter().map(|a| actions::full_name(*a)).collect()
}

/// Totals of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub keys: usize,
    pub groups: usize,
    /// (key, principal) pairs with some access.
    pub pairs: u64,
    /// (key, principal, action) triples allowed, with or without conditions.
    pub triples: u64,
}

/// Writes the report as JSON Lines: `{"group": N, "principals": [...]}` the first time a group of
/// principals appears, then `{"key": ARN, "access": [{"group": N, "unconditional": [...],
/// "conditional": [...]}], "classes": [{"principal": ..., ...}]}` for each key, in world order.
/// `progress` is called with the number of keys done so far.
pub fn write(
    an: &Analyzer,
    out: &mut dyn Write,
    progress: &(dyn Fn(usize) + Sync),
) -> io::Result<Totals> {
    let world = an.world;
    let mut totals = Totals::default();
    let mut group_ids: HashMap<Vec<usize>, usize> = HashMap::new();
    let chunk = 256;
    let mut done = 0;
    for keys in world.keys.chunks(chunk) {
        let results: Vec<KeyAccess> = keys.par_iter().map(|k| key_access(an, k)).collect();
        for (key, ka) in keys.iter().zip(results) {
            let mut access = Vec::new();
            for ((u, c), members) in ka.principals {
                totals.pairs += members.len() as u64;
                totals.triples += (members.len() * (u.len() + c.len())) as u64;
                let next = group_ids.len();
                let id = match group_ids.get(&members) {
                    Some(&id) => id,
                    None => {
                        let principals: Vec<&str> = members
                            .iter()
                            .map(|&i| world.principals[i].arn.as_str())
                            .collect();
                        serde_json::to_writer(
                            &mut *out,
                            &json!({"group": next, "principals": principals}),
                        )?;
                        out.write_all(b"\n")?;
                        group_ids.insert(members, next);
                        next
                    }
                };
                access.push(
                    json!({"group": id, "unconditional": names(&u), "conditional": names(&c)}),
                );
            }
            let classes: Vec<Value> = ka
                .classes
                .into_iter()
                .map(|(p, (u, c))| json!({"principal": p, "unconditional": names(&u), "conditional": names(&c)}))
                .collect();
            serde_json::to_writer(
                &mut *out,
                &json!({"key": key.arn, "access": access, "classes": classes}),
            )?;
            out.write_all(b"\n")?;
        }
        done += keys.len();
        progress(done);
    }
    totals.keys = world.keys.len();
    totals.groups = group_ids.len();
    Ok(totals)
}
