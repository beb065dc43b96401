//! verify + decode + decide on the 3 KB `payment_intent.succeeded` envelope: natively, in the
//! component reusing one instance, and in a fresh sandboxed instance per call; plus loading the
//! component from wasm and from precompiled code. Each component row is measured for both
//! builds: `host_hmac` (HMAC-SHA256 imported from the host, the runtime's default) and
//! `wasm_hmac` (computed in the sandbox, no imports). Run: `cargo bench -p payhook-runtime`.
//! With `PAYHOOK_BENCH_COMPARE=FILE`, another host-HMAC build of the component is measured in
//! the same run (`compare` rows), for A/B comparisons that runs on different days cannot give.
//! A relative FILE is taken from `host/runtime`, where cargo runs benches.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use payhook_core::machine::document::{self, MachineKind};
use payhook_core::money::{Currency, Money};
use payhook_core::secret::WebhookSecret;
use payhook_core::signature::header_for;
use payhook_core::webhook;
use payhook_runtime::{HmacSource, Runtime, RuntimeConfig, Session};

/// Both builds, with the suffix their rows carry.
const BUILDS: [(HmacSource, &str); 2] = [
    (HmacSource::Host, "host_hmac"),
    (HmacSource::Component, "wasm_hmac"),
];

fn runtime(hmac: HmacSource) -> Runtime {
    Runtime::new(RuntimeConfig {
        hmac,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

const BODY: &str =
    include_str!("../../../tests/fixtures/stripe-events/events/payment_intent.succeeded.json");
const T: i64 = 1_767_261_603;

fn inputs() -> (String, Vec<WebhookSecret>) {
    let secret = WebhookSecret::new("whsec_bench_5f2b1c9e8a7d4e6f0a1b2c3d4e5f6a7b");
    (header_for(BODY.as_bytes(), &secret, T), vec![secret])
}

/// verify + decode + facts, then each fact applied to a new invoice record (state as JSON).
fn per_event(c: &mut Criterion) {
    let (header, secrets) = inputs();
    let invoice = document::new_invoice(Money::new(2000, Currency::USD));
    let native = || {
        let d = webhook::receive(
            Some(&header),
            black_box(BODY.as_bytes()),
            &secrets,
            T + 5,
            300,
        )
        .unwrap();
        d.facts
            .iter()
            .map(|f| document::apply(MachineKind::Invoice, &invoice, f).unwrap())
            .collect::<Vec<_>>()
    };
    let in_component = |session: &mut Session<'_>| {
        let d = session
            .receive(
                Some(&header),
                black_box(BODY.as_bytes()),
                &secrets,
                T + 5,
                300,
            )
            .unwrap()
            .unwrap();
        d.facts
            .iter()
            .map(|f| {
                session
                    .apply(MachineKind::Invoice, &invoice, f)
                    .unwrap()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert!(
        native()[0].contains("invoice_paid"),
        "the bench must exercise a real decision"
    );
    let fact = webhook::decode_stored(BODY.as_bytes())
        .unwrap()
        .facts
        .remove(0);

    let mut g = c.benchmark_group("verify_decode_decide_3kb");
    g.bench_function("native", |b| b.iter(|| black_box(native())));
    g.bench_function("native_verify_only", |b| {
        b.iter(|| {
            black_box(
                payhook_core::signature::verify(
                    Some(&header),
                    BODY.as_bytes(),
                    &secrets,
                    T + 5,
                    Default::default(),
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("native_decode_only", |b| {
        b.iter(|| black_box(webhook::decode_stored(black_box(BODY.as_bytes())).unwrap()))
    });
    g.bench_function("native_decide_only", |b| {
        b.iter(|| black_box(document::apply(MachineKind::Invoice, &invoice, &fact).unwrap()))
    });
    // Each embedded build, and with `PAYHOOK_BENCH_COMPARE=path/to/payhook_engine.wasm` another
    // host-HMAC build measured in the same run (rows ending in `/compare`), for A/B comparisons.
    let mut builds: Vec<(Runtime, &str, bool)> = BUILDS
        .iter()
        .map(|&(hmac, build)| (runtime(hmac), build, hmac == HmacSource::Host))
        .collect();
    if let Some(path) = std::env::var_os("PAYHOOK_BENCH_COMPARE") {
        let wasm = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("PAYHOOK_BENCH_COMPARE: cannot read {path:?}: {e}"));
        eprintln!("component file (compare): {} bytes", wasm.len());
        builds.push((Runtime::from_wasm(&wasm, RuntimeConfig::default()).unwrap(), "compare", true));
    }
    for (runtime, build, host_hmac) in &builds {
        assert_eq!(
            native(),
            in_component(&mut runtime.session().unwrap()),
            "native and component ({build}) must agree"
        );
        let mut session = runtime.session().unwrap();
        g.bench_function(format!("component_reused_instance/{build}"), |b| {
            b.iter(|| black_box(in_component(&mut session)))
        });
        g.bench_function(format!("component_fresh_instance/{build}"), |b| {
            b.iter(|| black_box(in_component(&mut runtime.session().unwrap())))
        });
        g.bench_function(format!("instantiate_only/{build}"), |b| {
            b.iter(|| black_box(runtime.session().unwrap()))
        });
        g.bench_function(format!("component_verify_only_reused/{build}"), |b| {
            b.iter(|| {
                black_box(
                    session
                        .verify(Some(&header), BODY.as_bytes(), &secrets, T + 5, 300)
                        .unwrap()
                        .unwrap(),
                )
            })
        });
        if *host_hmac {
            // Decoding and deciding do no hashing: the same code in both embedded builds.
            let suffix = if *build == "compare" { "/compare" } else { "" };
            g.bench_function(format!("component_decode_only_reused{suffix}"), |b| {
                b.iter(|| {
                    black_box(
                        session
                            .decode_stored(black_box(BODY.as_bytes()))
                            .unwrap()
                            .unwrap(),
                    )
                })
            });
            g.bench_function(format!("component_decide_only_reused{suffix}"), |b| {
                b.iter(|| {
                    black_box(
                        session
                            .apply(MachineKind::Invoice, &invoice, &fact)
                            .unwrap()
                            .unwrap(),
                    )
                })
            });
        }
    }
    g.finish();
}

fn loading(c: &mut Criterion) {
    let mut g = c.benchmark_group("load_component");
    let engine = wasmtime::Engine::new(&{
        let mut c = wasmtime::Config::new();
        c.wasm_component_model(true).epoch_interruption(true);
        c
    })
    .unwrap();
    for (hmac, build) in BUILDS {
        let wasm = hmac.wasm();
        eprintln!("component file ({build}): {} bytes", wasm.len());
        g.sample_size(10).measurement_time(Duration::from_secs(20));
        g.bench_function(format!("compile_from_wasm/{build}"), |b| {
            b.iter(|| black_box(wasmtime::component::Component::new(&engine, wasm).unwrap()))
        });
        let precompiled = engine.precompile_component(wasm).unwrap();
        g.sample_size(100).measurement_time(Duration::from_secs(5));
        g.bench_function(format!("from_precompiled/{build}"), |b| {
            // SAFETY: produced by precompile_component on this engine just above.
            b.iter(|| {
                black_box(
                    unsafe { wasmtime::component::Component::deserialize(&engine, &precompiled) }
                        .unwrap(),
                )
            })
        });
        let dir = std::env::temp_dir().join(format!(
            "payhook-bench-cache-{}-{build}",
            std::process::id()
        ));
        let config = RuntimeConfig {
            cache_dir: Some(dir.clone()),
            hmac,
            ..RuntimeConfig::default()
        };
        drop(Runtime::new(config.clone()).unwrap());
        g.bench_function(format!("runtime_new_with_warm_cache/{build}"), |b| {
            b.iter(|| black_box(Runtime::new(config.clone()).unwrap()))
        });
        let _ = std::fs::remove_dir_all(dir);
    }
    g.finish();
}

criterion_group!(benches, per_event, loading);
criterion_main!(benches);
