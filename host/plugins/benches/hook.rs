//! What a plugin hook call costs: the template plugin's `on-action` (three commands back,
//! checked) and its refund filter, each in a fresh sandbox (a new store and instance per call),
//! and loading (compiling) the plugin.
//!
//! `cargo bench -p payhook-plugins --bench hook`

use criterion::{Criterion, criterion_group, criterion_main};
use payhook_plugins::{
    Action, Amount, FilterPoint, FilterRequest, FilterValue, Hook, Kv, PluginHost, RecordRef,
    RefundSplit, SandboxLimits,
};

fn eur(minor: i64) -> Amount {
    Amount {
        minor,
        currency: "eur".into(),
    }
}

fn hooks(c: &mut Criterion) {
    let wasm = std::fs::read(env!("PAYHOOK_PLUGIN_TEMPLATE")).unwrap();
    let host = PluginHost::new(SandboxLimits::default()).unwrap();
    let plugin = host.load(&wasm).unwrap();
    let subject = RecordRef {
        kind: "appointment".into(),
        id: "apt_1".into(),
    };
    let action = Action {
        hook: Hook::PaymentSettled,
        tenant: "ten_a".into(),
        event_id: "evt_1".into(),
        subject: subject.clone(),
        amount: Some(eur(4500)),
        decision: r#"{"applied":{"next":{"status":"confirmed"}}}"#.into(),
        metadata: vec![("notify".into(), "desk@clinic.example".into())],
    };
    let request = FilterRequest {
        point: FilterPoint::RefundAmount,
        tenant: "ten_a".into(),
        subject,
        value: FilterValue::Refund(RefundSplit {
            fee: eur(0),
            refund: eur(4500),
        }),
    };
    let mut kv = Kv::default();
    c.bench_function("on-action, fresh sandbox", |b| {
        b.iter(|| host.on_action(&plugin, &action, &mut kv).unwrap())
    });
    c.bench_function("refund filter, fresh sandbox", |b| {
        b.iter(|| host.apply_filter(&plugin, &request, &mut kv).unwrap())
    });
    c.bench_function("load (compile) the template plugin", |b| {
        b.iter(|| host.load(&wasm).unwrap())
    });
}

criterion_group!(benches, hooks);
criterion_main!(benches);
