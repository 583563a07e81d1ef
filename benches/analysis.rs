//! Criterion benches of access analysis on a generated 10,000-key, 5,000-principal world:
//! `who-can` for one key (every action, and kms:Decrypt alone), `what-can` for one principal,
//! and the access report's per-key work. Run with `cargo bench --bench analysis`;
//! `BENCHMARKS.md` records the figures.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use keyward::actions::{self, ActionSet};
use keyward::analysis::{analysed_actions, Analyzer, Index};
use keyward::gen::{world, Shape};
use keyward::World;
use std::time::Duration;

fn analysis(c: &mut Criterion) {
    let generated = world(Shape {
        keys: 10_000,
        principals: 5_000,
        seed: 1,
    });
    let w = World::from_value(&generated.world, "generated").expect("generated world loads");
    let index = Index::build(&w);
    let an = Analyzer::with_index(&w, &index);
    let mut decrypt = ActionSet::EMPTY;
    decrypt.insert(actions::by_name("Decrypt").expect("known action"));
    let mut g = c.benchmark_group("analysis");
    g.measurement_time(Duration::from_secs(10));
    let mut i = 0;
    g.bench_function("who_can_one_key_all_actions", |b| {
        b.iter(|| {
            i = (i + 7_919) % w.keys.len();
            black_box(an.who_can(&w.keys[i], analysed_actions()))
        })
    });
    g.bench_function("who_can_one_key_decrypt", |b| {
        b.iter(|| {
            i = (i + 7_919) % w.keys.len();
            black_box(an.who_can(&w.keys[i], decrypt))
        })
    });
    let callers: Vec<_> = an.callers().iter().flatten().cloned().collect();
    g.bench_function("what_can_one_principal_all_actions", |b| {
        b.iter(|| {
            i = (i + 7_919) % callers.len();
            black_box(an.what_can(&callers[i], analysed_actions()))
        })
    });
    g.bench_function("index_build", |b| b.iter(|| black_box(Index::build(&w))));
    g.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
