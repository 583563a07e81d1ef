//! The policy document model (docs/semantics.md §1): statements with their principals, actions, resources
//! and conditions, as parsed and validated from JSON by [`parse`]. Nothing here decides a request;
//! evaluators read this model.

pub mod condition;
pub mod parse;
pub mod template;

pub use condition::{BaseOp, CondValue, Condition, Family, SetOp};
pub use parse::{parse_policy, ParseOptions};
pub use template::Template;

use crate::arn::PrincipalEntry;
use std::fmt;

/// Which kind of policy a document is; the grammar and validation differ (docs/semantics.md §1.2, §1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A KMS key policy: statements name principals.
    Key,
    /// An IAM identity policy or permissions boundary: statements name no principal.
    Identity,
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// `Version`; `None` when the document has none (2008 semantics: variables are literal).
    pub version: Option<String>,
    /// `Id`, if any.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// One statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal` / `NotPrincipal` (key policies only).
    pub principal: Option<Principals>,
    /// `Action` / `NotAction`; `None` makes a key-policy statement inert (docs/semantics.md §1.1).
    pub action: Option<Actions>,
    /// `Resource` / `NotResource`; `None` makes a key-policy statement inert.
    pub resource: Option<Resources>,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principals {
    /// `NotPrincipal`.
    pub negated: bool,
    pub entries: Vec<PrincipalEntry>,
}

/// An `Action` or `NotAction` element.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actions {
    /// `NotAction`.
    pub negated: bool,
    /// The action patterns as written (`kms:Re*`, `*`).
    pub patterns: Vec<String>,
}

/// A `Resource` or `NotResource` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources {
    /// `NotResource`.
    pub negated: bool,
    pub patterns: Vec<ResourcePattern>,
}

/// One resource pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourcePattern {
    /// `*`: every resource (in a key policy: this key).
    Any,
    /// An ARN pattern; its resource part may hold policy variables.
    Arn(Template),
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// How serious a validation finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Accepted, but surprising or inert.
    Warning,
    /// AWS would reject the document.
    Error,
}

/// A validation finding: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Where: file, policy, statement index and Sid, field.
    pub place: String,
    pub message: String,
}

impl Finding {
    /// Prefixes the place with an outer location (a file, a key).
    pub fn within(mut self, outer: &str) -> Finding {
        self.place = if self.place.is_empty() {
            outer.to_owned()
        } else {
            format!("{outer}: {}", self.place)
        };
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{sev}: {}: {}", self.place, self.message)
    }
}

/// Condition keys whose values are sets (docs/semantics.md §4); without a set operator they never match.
pub const MULTI_VALUED_KEYS: &[&str] = &[
    "kms:encryptioncontextkeys",
    "kms:grantoperations",
    "kms:resourcealiases",
    "aws:principalorgpaths",
    "aws:tagkeys",
    "aws:calledvia",
    "aws:principalservicenameslist",
    "aws:sourceorgpaths",
    "aws:resourceorgpaths",
];
