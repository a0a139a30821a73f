//! `Router::route` over a 100-route table shaped like a real app: exact routes, `:name`
//! parameters and trailing `/...` wildcards, plus a catch-all.
//!
//!   cargo bench -p spindle-http --bench router

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use spindle_http::router::Router;

fn table() -> Router<usize> {
    let mut router = Router::new();
    for i in 0..100 {
        let route = match i % 4 {
            0 => format!("/svc{i}/items"),
            1 => format!("/svc{i}/users/:id"),
            2 => format!("/svc{i}/..."),
            _ => format!("/api/v{i}/orders/:order/lines/:line"),
        };
        router.add(&route, i);
    }
    router.add("/...", 1000);
    router
}

fn bench_router(c: &mut Criterion) {
    let router = table();
    let mut group = c.benchmark_group("router/100-routes");
    let cases = [
        ("exact", "/svc96/items"),
        ("param", "/svc97/users/42"),
        ("wildcard", "/svc98/static/css/site.css"),
        ("two-params", "/api/v99/orders/1234/lines/7"),
        ("catch-all", "/not/a/known/path"),
    ];
    for (name, path) in cases {
        assert!(router.route(path).is_some(), "{path} must match");
        group.bench_function(name, |b| b.iter(|| router.route(black_box(path)).is_some()));
    }
    group.finish();

    c.bench_function("router/build-100-routes", |b| b.iter(|| black_box(table())));
}

criterion_group!(benches, bench_router);
criterion_main!(benches);
