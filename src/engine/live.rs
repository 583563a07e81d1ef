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
