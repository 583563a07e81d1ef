//! keyward decides AWS KMS authorization exactly as AWS does — key policies, IAM identity
//! policies, grants, condition keys and cross-account access — locally and fast.
//!
//! The public modules, bottom to top: [`actions`] and [`arn`] (the closed set of KMS actions,
//! ARNs and principals); [`pattern`] (wildcards); [`policy`] (the document model and its parser);
//! [`world`] (the policy set) and [`request`]; [`reference`] (the evaluator that is the
//! specification in code) and [`decision`]; [`engine`] (the compiled fast path); [`replay`]
//! (CloudTrail); [`analysis`] (questions about a world as a whole); [`gen`] (synthetic worlds).
//! Everything else serves the `keyward` command and is private to the crate.
//!
//! The library's entry points are re-exported here: load a [`World`], read a [`Request`],
//! compile the world into an [`Engine`] (or serve it from a [`LiveEngine`] that reloads without
//! blocking readers) and get a [`Decision`]. [`reference::evaluate`] is the slow, plain evaluator
//! the engine is held equal to; [`reference::explain`] also says why.
//!
//! ```
//! use keyward::{Engine, Outcome, Request, World};
//!
//! let world = World::load("corpus/default/world.json")?;
//! let (request, _warnings) = Request::from_json(r#"{
//!     "principal": "arn:aws:sts::111122223333:assumed-role/app-web/i-0fedcba9876543210",
//!     "action": "kms:Decrypt",
//!     "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
//!     "encryption_context": {"app": "web"}}"#)?;
//! let engine = Engine::compile(world);
//! let decision = engine.decide(&request);
//! assert_eq!(decision.outcome, Outcome::Allow);
//! println!("{}", decision.reasons[0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod actions;
pub mod analysis;
pub mod arn;
pub(crate) mod bench;
pub(crate) mod bundle;
#[doc(hidden)]
pub mod cli;
pub(crate) mod context;
pub(crate) mod context_keys;
pub mod decision;
pub mod engine;
pub mod gen;
pub(crate) mod json;
pub mod pattern;
#[cfg(feature = "peers")]
pub mod peers;
pub mod policy;
pub mod reference;
pub mod replay;
pub mod request;
pub(crate) mod serve;
pub(crate) mod suggest;
pub(crate) mod testcase;
pub mod world;

pub use decision::{Decision, Explanation, Outcome, Reason};
pub use engine::{Engine, LiveEngine};
pub use request::Request;
pub use world::World;

/// The sidecar's metrics, reachable for the metrics bench (benches/metrics.rs); not a stable API.
#[doc(hidden)]
pub use serve::metrics as serve_metrics;
