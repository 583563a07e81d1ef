//! keyward decides AWS KMS authorization exactly as AWS does — key policies, IAM identity
//! policies, grants, condition keys and cross-account access — locally and fast.
//!
//! The layers, bottom to top: [`actions`] and [`arn`] (the closed set of KMS actions, ARNs and
//! principals); [`policy`] (the document model and its parser); [`world`] (the policy set) and
//! [`request`]; [`context`] (what a request needs authorized, and its condition keys);
//! [`reference`] (the evaluator that is the specification in code) and [`decision`];
//! [`testcase`] (the conformance-case runner); [`cli`].
//!
//! ```no_run
//! let world = keyward::World::load("corpus/default/world.json").unwrap();
//! let (request, _warnings) = keyward::Request::from_json(r#"{"principal": "arn:aws:iam::111122223333:root",
//!     "action": "kms:Decrypt", "resource": "arn:aws:kms:us-east-1:111122223333:key/k"}"#).unwrap();
//! let decision = keyward::evaluate(&world, &request);
//! println!("{}", decision.outcome);
//! ```

pub mod actions;
pub mod analysis;
pub mod arn;
pub mod bench;
pub mod bundle;
pub mod cli;
pub mod context;
pub mod context_keys;
pub mod decision;
pub mod engine;
pub mod gen;
pub mod json;
pub mod pattern;
#[cfg(feature = "peers")]
pub mod peers;
pub mod policy;
pub mod reference;
pub mod replay;
pub mod request;
pub mod serve;
pub mod suggest;
pub mod testcase;
pub mod world;

pub use decision::{Decision, Explanation, Outcome, Reason};
pub use reference::evaluate;
pub use request::Request;
pub use world::World;
