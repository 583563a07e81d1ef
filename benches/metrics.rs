//! What one check costs the server's metrics: keyward's own counters (relaxed atomics, rendered
//! by hand) against the `prometheus-client` crate, on one thread and on two threads updating the
//! same metrics at once. One update is what `POST /v1/authorize` records per check: the decision
//! counter by outcome plus one latency observation. docs/operations.md ("Metrics") quotes the
//! medians and the choice they led to.
//!
//! ```sh
//! cargo bench --bench metrics
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use keyward::serve_metrics::{Metrics, Route};
use keyward::Outcome;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The same buckets as keyward's latency histogram, 1 µs to 1 s.
const BUCKETS: [f64; 16] = [
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.1,
    0.5,
    1.0,
];

/// A check's latency as the server measures it: a few microseconds.
const LATENCY: Duration = Duration::from_nanos(3_200);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: Decision,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum RouteLabel {
    Authorize,
    Batch,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: RouteLabel,
}

/// The label of a decision, as a handler would map it.
fn decision_label(outcome: Outcome) -> Decision {
    match outcome {
        Outcome::Allow => Decision::Allow,
        Outcome::ExplicitDeny => Decision::ExplicitDeny,
        Outcome::ImplicitDeny => Decision::ImplicitDeny,
    }
}

/// The label of a route, as a handler would map it.
fn route_label(route: Route) -> RouteLabel {
    match route {
        Route::Authorize => RouteLabel::Authorize,
        Route::Batch => RouteLabel::Batch,
    }
}

/// The decision counter and latency histogram as labelled `prometheus-client` families,
/// registered the way a server would register them.
struct Families {
    checks: Family<DecisionLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    _registry: Registry,
}

fn new_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Families {
    fn new() -> Families {
        let checks = Family::<DecisionLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            new_histogram,
        );
        let mut registry = Registry::default();
        registry.register("keyward_checks", "Decisions", checks.clone());
        registry.register(
            "keyward_request_duration_seconds",
            "Latency",
            latency.clone(),
        );
        Families {
            checks,
            latency,
            _registry: registry,
        }
    }

    /// One check, looking the labelled series up as a handler would.
    fn record(&self) {
        self.checks
            .get_or_create(&DecisionLabels {
                decision: decision_label(Outcome::Allow),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route_label(Route::Authorize),
            })
            .observe(LATENCY.as_secs_f64());
    }
}

/// The same series resolved once at start: the cheapest way to use `prometheus-client`.
struct Handles {
    allow: Counter,
    authorize: Histogram,
}

impl Handles {
    fn new(f: &Families) -> Handles {
        Handles {
            allow: f
                .checks
                .get_or_create(&DecisionLabels {
                    decision: decision_label(Outcome::Allow),
                })
                .clone(),
            authorize: f
                .latency
                .get_or_create(&RouteLabels {
                    route: route_label(Route::Authorize),
                })
                .clone(),
        }
    }

    fn record(&self) {
        self.allow.inc();
        self.authorize.observe(LATENCY.as_secs_f64());
    }
}

fn keyward_record(m: &Metrics) {
    m.count_check(Outcome::Allow);
    m.observe(Route::Authorize, LATENCY);
}

/// Time for each of `threads` threads to make `iters` updates, all at once.
fn on_threads(threads: usize, iters: u64, record: &(impl Fn() + Sync)) -> Duration {
    let barrier = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    record();
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let ours = Metrics::default();
    let families = Families::new();
    let handles = Handles::new(&families);
    let mut g = c.benchmark_group("metrics_per_check");
    for threads in [1, 2] {
        g.bench_function(format!("keyward/{threads}t"), |b| {
            b.iter_custom(|iters| on_threads(threads, iters, &|| keyward_record(black_box(&ours))))
        });
        g.bench_function(format!("prometheus_client_family/{threads}t"), |b| {
            b.iter_custom(|iters| on_threads(threads, iters, &|| black_box(&families).record()))
        });
        g.bench_function(format!("prometheus_client_handles/{threads}t"), |b| {
            b.iter_custom(|iters| on_threads(threads, iters, &|| black_box(&handles).record()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
