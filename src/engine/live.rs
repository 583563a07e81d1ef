//! The live policy set: the current [`Engine`] behind `arc_swap::ArcSwap`. Readers take a
//! snapshot without locking; a reload compiles a new engine off to the side and swaps it in
//! atomically, while in-flight checks finish on the snapshot they started with.

use super::Engine;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A compiled engine with the version number it was installed under.
pub struct Installed {
    pub engine: Arc<Engine>,
    /// Starts at 1 and grows by one with every swap.
    pub version: u64,
}

/// The engine currently serving, replaceable without blocking readers.
///
/// ```
/// use keyward::{Engine, LiveEngine, Outcome, Request, World};
///
/// let world = World::load("corpus/default/world.json")?;
/// let live = LiveEngine::new(Engine::compile(world.clone()));
/// let (request, _) = Request::from_json(r#"{"principal": "arn:aws:sts::111122223333:assumed-role/app-web/i-0fedcba9876543210",
///     "action": "kms:Decrypt", "encryption_context": {"app": "web"},
///     "resource": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#)?;
/// assert_eq!(live.load().engine.decide(&request).outcome, Outcome::Allow);
/// // A reload: compile off to the side, then swap; readers never wait.
/// assert_eq!(live.swap(Engine::compile(world)), 2);
/// assert_eq!(live.load().version, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LiveEngine {
    current: ArcSwap<Installed>,
    next_version: AtomicU64,
}

impl LiveEngine {
    /// Starts serving `engine` as version 1.
    pub fn new(engine: impl Into<Arc<Engine>>) -> LiveEngine {
        LiveEngine {
            current: ArcSwap::from_pointee(Installed {
                engine: engine.into(),
                version: 1,
            }),
            next_version: AtomicU64::new(2),
        }
    }

    /// The engine serving now; hold it for the duration of one check (or batch).
    pub fn load(&self) -> arc_swap::Guard<Arc<Installed>> {
        self.current.load()
    }

    /// The engine serving now, as an owned pointer.
    pub fn snapshot(&self) -> Arc<Installed> {
        self.current.load_full()
    }

    /// Installs a new engine and returns its version; readers see it from their next load.
    pub fn swap(&self, engine: impl Into<Arc<Engine>>) -> u64 {
        let version = self.next_version.fetch_add(1, Ordering::Relaxed);
        self.current.store(Arc::new(Installed {
            engine: engine.into(),
            version,
        }));
        version
    }
}
