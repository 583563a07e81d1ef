//! The compiled engine: the fast path every user-facing command decides with. A [`Engine`] is an
//! immutable snapshot of a world compiled for lookup; [`live::LiveEngine`] holds the current one
//! behind an atomic pointer so a reload never blocks a reader.
//!
//! Every decision it makes must equal the reference evaluator's, decision and reasons; the
//! differential tests in `tests/` hold them equal.

pub mod live;

use crate::decision::Decision;
use crate::request::Request;
use crate::world::World;
use std::time::SystemTime;

/// A world compiled for fast decisions. Immutable once built.
pub struct Engine {
    world: World,
    /// When this snapshot was compiled.
    pub loaded_at: SystemTime,
}

impl Engine {
    /// Compiles a world.
    pub fn compile(world: World) -> Engine {
        Engine {
            world,
            loaded_at: SystemTime::now(),
        }
    }

    /// The world this snapshot was compiled from.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Decides a request.
    pub fn decide(&self, request: &Request) -> Decision {
        crate::reference::evaluate(&self.world, request)
    }
}
