//! keyward's world decided by Rego, with regorus.
//!
//! **Translation: a generic interpreter over statements given as data.** [`MODULE`] is one Rego
//! module, written once, that evaluates KMS's authorization algorithm over statements; the world
//! is translated into `data.world` (the shared translation of [`super`], as JSON): per key its
//! key-policy statements and grants (`data.world.keys["k12"]`), per principal its identity and
//! group statements (`data.world.principals["p40"]`). A Rego rule per statement would make every
//! evaluation consider every rule of the world; keyed data gives Rego the same per-key and
//! per-principal slices Cedar gets, through one object lookup each.
//!
//! A statement is data: its actions as a set (wildcards expanded), its principals as caller
//! tokens (`role:<account>/<name>`, `user:<arn>`, …) and accounts, its resource patterns split
//! into ARN parts, its conditions with their operator, key and values. IAM's `*` globs are
//! matched in Rego with `startswith`/`endswith`/`contains` (a pattern may hold one piece of text
//! between its first and last star; more is refused at translation), not with `glob.match`,
//! which compiles a matcher on every call.
//!
//! The input is built from the keyward request for each check ([`RegoPeer::input`]): action,
//! key and principal slice names, the caller's tokens and account, whether the call is
//! cross-account, the resource ARN and its parts, the condition keys ([`Facts`]) and the
//! encryption context. The module's `outcome` is `"Allow"`, `"ExplicitDeny"` or
//! `"ImplicitDeny"`, following docs/semantics.md §7 (explicit deny first; same account: a direct key-policy
//! allow, or an account delegation plus an identity allow, or a grant; cross-account: a
//! key-policy allow and an identity allow, or a grant).
//!
//! **Evaluation.** The module is compiled once for the entry point `data.kms.outcome` and then
//! to an RVM program (regorus's register-based bytecode VM, its fastest mode); each check sets
//! the input on a loaded VM and executes it. A first version of the module compared a
//! `default`ed function's value with `!=`; regorus 0.14.1's RVM answered differently from its
//! interpreter there, so the module spells those cases out as separate rule bodies, and
//! `tests/peers.rs` holds the RVM equal to the interpreter.

use super::{ArnPat, Cond, CondKind, Facts, GrantIr, ResIr, Stmt, Translated};
use crate::actions::{self, ACTION_COUNT};
use crate::arn::{CallerKind, PrincipalEntry};
use crate::policy::SetOp;
use crate::request::{ContextValue, Request};
use crate::world::World;
use crate::Outcome;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::Value;
use serde_json::{json, Map, Value as Json};
use std::sync::Arc;

/// The Rego module: KMS's authorization algorithm over statements given as data.
pub const MODULE: &str = r#"
package kms

import rego.v1

key := data.world.keys[input.key]

ident := data.world.principals[input.principal]

default outcome := "ImplicitDeny"

outcome := "ImplicitDeny" if {
	guard
} else := "ExplicitDeny" if {
	deny
} else := "Allow" if {
	allow
}

# Decided before any policy: an unknown key, or an action that cannot cross accounts.
guard if input.unknown_key

guard if {
	input.cross
	not data.world.cross_ok[input.action]
}

deny if {
	some st in key.stmts
	st.effect == "Deny"
	names_caller(st.principal)
	applies(st)
}

deny if {
	some st in ident.stmts
	st.effect == "Deny"
	applies(st)
}

identity_allows if input.root

identity_allows if {
	some st in ident.stmts
	st.effect == "Allow"
	applies(st)
}

# Resourceless actions: IAM alone decides.
allow if {
	not input.key
	identity_allows
}

# A key-policy statement naming the caller itself; across accounts IAM must allow too.
allow if {
	some st in key.stmts
	st.effect == "Allow"
	direct(st.principal)
	applies(st)
	direct_enough
}

# A key-policy statement naming the caller's account delegates to IAM.
allow if {
	some st in key.stmts
	st.effect == "Allow"
	st.principal.accounts[input.account]
	applies(st)
	identity_allows
}

allow if {
	some g in key.grants
	g.ops[input.action]
	grantee(g)
	grant_context(g)
}

direct_enough if not input.cross

direct_enough if identity_allows

direct(p) if p.any

direct(p) if {
	some t in input.tokens
	p.direct[t]
}

names_caller(p) if direct(p)

names_caller(p) if p.accounts[input.account]

grantee(g) if {
	some t in input.tokens
	t == g.token
}

grantee(g) if {
	g.account == input.account
	identity_allows
}

grant_context(_) if not data.world.ec_actions[input.action]

grant_context(g) if {
	data.world.ec_actions[input.action]
	every k, v in g.ec {
		input.ec[k] == v
	}
}

applies(st) if {
	action_ok(st)
	resource_ok(st.res)
	every c in st.conds {
		cond_ok(c)
	}
}

action_ok(st) if st.all

action_ok(st) if st.actions[input.action]

resource_ok(r) if r.any

resource_ok(r) if {
	not r.any
	not r.negated
	some p in r.pats
	arn_ok(p)
}

resource_ok(r) if {
	not r.any
	r.negated
	not any_arn(r.pats)
}

any_arn(pats) if {
	some p in pats
	arn_ok(p)
}

arn_ok(p) if like(p.whole, input.arn)

arn_ok(p) if {
	p.parts
	every i, g in p.parts {
		like(g, input.parts[i])
	}
}

# A `*` glob: {"exact": s} or {"pre", "mid", "suf", "min"}.
like(p, s) if p.exact == s

like(p, s) if {
	p.glob
	startswith(s, p.pre)
	endswith(s, p.suf)
	count(s) >= p.min
	middle(p, s)
}

middle(p, _) if p.mid == ""

middle(p, s) if {
	p.mid != ""
	contains(substring(s, count(p.pre), (count(s) - count(p.pre)) - count(p.suf)), p.mid)
}

cond_ok(c) if {
	c.absent
	c.absent_answer
}

cond_ok(c) if {
	not c.absent
	not present(c)
	c.absent_answer
}

cond_ok(c) if {
	not c.absent
	present(c)
	holds(c)
}

present(c) if {
	_ = input.ctx[c.key]
	not c.nonempty
}

present(c) if {
	c.nonempty
	count(input.ctx[c.key]) > 0
}

values(c) := input.ctx[c.key] if c.multi

values(c) := [input.ctx[c.key]] if not c.multi

holds(c) if {
	c.kind == "Null"
	c.present_answer
}

holds(c) if {
	c.set == "ForAnyValue"
	not c.negated
	some v in values(c)
	c.valset[v]
}

holds(c) if {
	c.set == "ForAnyValue"
	c.negated
	some v in values(c)
	not c.valset[v]
}

holds(c) if {
	c.set == "ForAllValues"
	not c.negated
	every v in values(c) {
		c.valset[v]
	}
}

holds(c) if {
	c.set == "ForAllValues"
	c.negated
	every v in values(c) {
		not c.valset[v]
	}
}

holds(c) if {
	c.kind == "Equals"
	c.set == ""
	not c.multi
	not c.negated
	c.valset[input.ctx[c.key]]
}

holds(c) if {
	c.kind == "Equals"
	c.set == ""
	not c.multi
	c.negated
	not c.valset[input.ctx[c.key]]
}

holds(c) if {
	c.kind == "Like"
	c.set == ""
	not c.multi
	not c.negated
	matches_like(c)
}

holds(c) if {
	c.kind == "Like"
	c.set == ""
	not c.multi
	c.negated
	not matches_like(c)
}

matches_like(c) if {
	some p in c.pats
	like(p, input.ctx[c.key])
}
"#;

/// A `*` glob as the module's `like` takes it.
fn glob(text: &str) -> Result<Json, String> {
    let pieces: Vec<&str> = text.split('*').collect();
    if pieces.len() == 1 {
        return Ok(json!({"exact": text}));
    }
    let (pre, suf) = (pieces[0], pieces[pieces.len() - 1]);
    let mids: Vec<&str> = pieces[1..pieces.len() - 1]
        .iter()
        .copied()
        .filter(|m| !m.is_empty())
        .collect();
    if mids.len() > 1 {
        return Err(format!("the glob {text:?} has more than one middle piece"));
    }
    let mid = mids.first().copied().unwrap_or("");
    let min = pre.chars().count() + suf.chars().count() + mid.chars().count();
    Ok(json!({"glob": true, "pre": pre, "suf": suf, "mid": mid, "min": min}))
}

fn names(ids: &[crate::actions::ActionId]) -> Json {
    Json::Object(
        ids.iter()
            .map(|&a| (actions::info(a).name.to_owned(), Json::Bool(true)))
            .collect(),
    )
}

/// The caller token of a principal entry that names the caller directly.
fn token(e: &PrincipalEntry) -> Option<String> {
    Some(match e {
        PrincipalEntry::User { arn, .. } => format!("user:{arn}"),
        PrincipalEntry::Role { account, name } => format!("role:{account}/{name}"),
        PrincipalEntry::Session {
            account,
            role,
            session,
        } => format!("session:{account}/{role}/{session}"),
        PrincipalEntry::FederatedUser { account, name } => format!("fed:{account}/{name}"),
        PrincipalEntry::Service(s) => format!("service:{s}"),
        _ => return None,
    })
}

fn cond_json(c: &Cond) -> Result<Json, String> {
    let absent_answer = c.absent_answer();
    let kind = match c.kind {
        CondKind::Equals | CondKind::Bool => "Equals",
        CondKind::Like => "Like",
        CondKind::Null => "Null",
    };
    let set = match c.set {
        Some(SetOp::ForAnyValue) => "ForAnyValue",
        Some(SetOp::ForAllValues) => "ForAllValues",
        None => "",
    };
    let pats = if c.kind == CondKind::Like {
        c.values
            .iter()
            .map(|v| glob(v))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let valset: Map<String, Json> = c
        .values
        .iter()
        .map(|v| (v.clone(), Json::Bool(true)))
        .collect();
    Ok(json!({
        "key": c.key, "absent": c.absent, "absent_answer": absent_answer,
        "present_answer": c.values.iter().any(|v| v == "false"),
        "nonempty": c.set.is_some() || c.kind == CondKind::Null,
        "multi": c.multi, "kind": kind, "set": set, "negated": c.negated,
        "valset": valset, "pats": pats,
    }))
}

fn stmt_json(st: &Stmt) -> Result<Json, String> {
    let principal = match &st.principals {
        Some(p) => json!({
            "any": p.any,
            "direct": p.direct.iter().filter_map(token).map(|t| (t, Json::Bool(true))).collect::<Map<_, _>>(),
            "accounts": p.accounts.iter().map(|a| (a.clone(), Json::Bool(true))).collect::<Map<_, _>>(),
        }),
        None => Json::Null,
    };
    let res = match &st.resources {
        ResIr::Any => json!({"any": true}),
        ResIr::Patterns { negated, pats } => {
            let pats = pats
                .iter()
                .map(|p| {
                    Ok(match p {
                        ArnPat::Whole(w) => json!({"whole": glob(w)?}),
                        ArnPat::Parts(parts) => json!({"parts": parts.iter().map(|p| glob(p)).collect::<Result<Vec<_>, String>>()?}),
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            json!({"any": false, "negated": negated, "pats": pats})
        }
    };
    let conds = st
        .conds
        .iter()
        .map(cond_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "id": st.id,
        "effect": format!("{}", st.effect),
        "all": st.all_actions,
        "actions": names(&st.actions),
        "principal": principal,
        "res": res,
        "conds": conds,
    }))
}

fn grant_json(g: &GrantIr) -> Json {
    let (tok, account) = match &g.grantee {
        PrincipalEntry::Account(a) => (Json::Null, Json::from(a.clone())),
        e => (token(e).map_or(Json::Null, Json::from), Json::Null),
    };
    json!({
        "id": g.id,
        "token": tok,
        "account": account,
        "ops": names(&g.ops),
        "ec": g.ec_subset.iter().map(|(k, v)| (k.clone(), Json::from(v.clone()))).collect::<Map<_, _>>(),
    })
}

/// The world as Rego data, and a compiled RVM program of [`MODULE`].
pub struct RegoPeer {
    /// The shared translation (statements, indexes).
    pub tr: Translated,
    program: Arc<Program>,
    data: Value,
}

/// The slice names the module looks keys and principals up by.
fn key_name(k: usize) -> String {
    format!("k{k}")
}

fn principal_name(p: usize) -> String {
    format!("p{p}")
}

impl RegoPeer {
    /// Translates a world into Rego data and compiles the module to an RVM program.
    pub fn new(world: &World) -> Result<RegoPeer, String> {
        let tr = super::translate(world)?;
        let mut keys = Map::new();
        for (k, stmts) in tr.keys.iter().enumerate() {
            let stmts = stmts
                .iter()
                .flatten()
                .map(stmt_json)
                .collect::<Result<Vec<_>, _>>()?;
            let grants: Vec<Json> = tr.grants[k].iter().map(grant_json).collect();
            keys.insert(key_name(k), json!({"stmts": stmts, "grants": grants}));
        }
        let mut principals = Map::new();
        for (i, stmts) in tr.principals.iter().enumerate() {
            let stmts = stmts.iter().map(stmt_json).collect::<Result<Vec<_>, _>>()?;
            principals.insert(principal_name(i), json!({"stmts": stmts}));
        }
        let all: Vec<_> = (0..ACTION_COUNT as crate::actions::ActionId).collect();
        let cross_ok: Vec<_> = all
            .iter()
            .copied()
            .filter(|&a| actions::info(a).cross_account)
            .collect();
        let ec_actions: Vec<_> = all
            .iter()
            .copied()
            .filter(|&a| actions::info(a).takes_encryption_context)
            .collect();
        let data = json!({"world": {
            "keys": keys, "principals": principals,
            "cross_ok": names(&cross_ok), "ec_actions": names(&ec_actions),
        }});
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("kms.rego".into(), MODULE.into())
            .map_err(|e| format!("regorus rejects the module: {e}"))?;
        let entry: regorus::Rc<str> = "data.kms.outcome".into();
        let compiled = engine
            .compile_with_entrypoint(&entry)
            .map_err(|e| format!("regorus cannot compile the module: {e}"))?;
        let program = regorus::languages::rego::compiler::Compiler::compile_from_policy(
            &compiled,
            &["data.kms.outcome"],
        )
        .map_err(|e| format!("regorus cannot compile the module to RVM: {e}"))?;
        Ok(RegoPeer {
            tr,
            program,
            data: Value::from(data),
        })
    }

    /// A VM with the program and the world's data loaded, ready for inputs.
    pub fn vm(&self) -> Result<RegoVM, String> {
        let mut vm = RegoVM::new();
        vm.load_program(self.program.clone());
        vm.set_data(self.data.clone()).map_err(|e| e.to_string())?;
        Ok(vm)
    }

    /// regorus's tree-walking interpreter with the module and the world's data loaded (for
    /// cross-checking the RVM; the bench times the RVM).
    pub fn interpreter(&self) -> Result<regorus::Engine, String> {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy("kms.rego".into(), MODULE.into())
            .map_err(|e| e.to_string())?;
        engine
            .add_data(self.data.clone())
            .map_err(|e| e.to_string())?;
        Ok(engine)
    }

    /// The module's input for a keyward request.
    pub fn input(&self, world: &World, req: &Request) -> Result<Value, String> {
        let f = Facts::of(world, &self.tr, req)?;
        let c = &req.caller;
        let mut tokens = Vec::with_capacity(2);
        match &c.kind {
            CallerKind::Root => {}
            CallerKind::User { .. } => tokens.push(format!("user:{}", c.arn)),
            CallerKind::Role { name } => tokens.push(format!("role:{}/{name}", c.account)),
            CallerKind::AssumedRole { role, session } => {
                tokens.push(format!("session:{}/{role}/{session}", c.account));
                tokens.push(format!("role:{}/{role}", c.account));
            }
            CallerKind::FederatedUser { name } => tokens.push(format!("fed:{}/{name}", c.account)),
            CallerKind::Service { name } => tokens.push(format!("service:{name}")),
        }
        let mut input = Value::new_object();
        let o = input.as_object_mut().map_err(|e| e.to_string())?;
        let mut put = |k: &str, v: Value| {
            o.insert(Value::from(k), v);
        };
        put("action", Value::from(actions::info(f.action).name));
        match f.key {
            Some(k) => put("key", Value::from(key_name(k))),
            None => put("unknown_key", Value::from(f.guard)),
        }
        if let Some(p) = f.principal {
            put("principal", Value::from(principal_name(p)));
        }
        put("cross", Value::from(f.cross));
        put("root", Value::from(c.is_root()));
        put(
            "tokens",
            Value::from(tokens.into_iter().map(Value::from).collect::<Vec<_>>()),
        );
        if !c.is_service() {
            put("account", Value::from(c.account.as_str()));
        }
        let parts = super::arn_parts(&f.resource_arn);
        put(
            "parts",
            Value::from(parts.iter().map(|p| Value::from(*p)).collect::<Vec<_>>()),
        );
        put("arn", Value::from(f.resource_arn.as_str()));
        let mut ctx = Value::new_object();
        let mut ec = Value::new_object();
        {
            let co = ctx.as_object_mut().map_err(|e| e.to_string())?;
            let eo = ec.as_object_mut().map_err(|e| e.to_string())?;
            for (k, v) in &f.values {
                let v = match v {
                    ContextValue::Single(s) => Value::from(s.as_str()),
                    ContextValue::Multi(vs) => Value::from(
                        vs.iter()
                            .map(|s| Value::from(s.as_str()))
                            .collect::<Vec<_>>(),
                    ),
                };
                if let Some(e) = k.strip_prefix("kms:encryptioncontext:") {
                    eo.insert(Value::from(e), v.clone());
                }
                co.insert(Value::from(k.as_str()), v);
            }
        }
        put("ctx", ctx);
        put("ec", ec);
        Ok(input)
    }

    /// Runs the module on an input.
    pub fn decide_input(&self, vm: &mut RegoVM, input: Value) -> Result<Outcome, String> {
        vm.set_input(input);
        let out = vm.execute().map_err(|e| format!("regorus: {e}"))?;
        match out.as_string().map(|s| s.as_ref()) {
            Ok("Allow") => Ok(Outcome::Allow),
            Ok("ExplicitDeny") => Ok(Outcome::ExplicitDeny),
            Ok("ImplicitDeny") => Ok(Outcome::ImplicitDeny),
            _ => Err(format!("regorus: unexpected outcome {out}")),
        }
    }

    /// Decides a keyward request end to end: builds the input, sets it, evaluates.
    pub fn decide(&self, vm: &mut RegoVM, world: &World, req: &Request) -> Result<Outcome, String> {
        let input = self.input(world, req)?;
        self.decide_input(vm, input)
    }
}
