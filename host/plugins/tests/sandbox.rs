//! The plugin sandbox against a well-behaved plugin (the template) and a hostile one built for
//! these tests (`plugins/testing/hostile`): every misbehaviour is stopped or refused with a
//! typed error, the host keeps serving, and the next call (or another tenant) is unaffected.

use std::time::{Duration, Instant};

use payhook_plugins::{
    Action, Amount, Command, FilterPoint, FilterRequest, FilterValue, Health, Hook, Kv, Plugin,
    PluginError, PluginHost, RecordRef, RefundSplit, SandboxLimits,
};

const TEMPLATE: &str = env!("PAYHOOK_PLUGIN_TEMPLATE");
const HOSTILE: &str = env!("PAYHOOK_PLUGIN_HOSTILE");

fn host() -> PluginHost {
    PluginHost::new(SandboxLimits {
        memory: 8 << 20,
        deadline: Duration::from_millis(100),
    })
    .unwrap()
}

fn load(host: &PluginHost, path: &str) -> Plugin {
    host.load(&std::fs::read(path).unwrap()).unwrap()
}

fn eur(minor: i64) -> Amount {
    Amount {
        minor,
        currency: "eur".into(),
    }
}

fn action(hook: Hook, id: &str) -> Action {
    Action {
        hook,
        tenant: "ten_a".into(),
        event_id: "evt_1".into(),
        subject: RecordRef {
            kind: "appointment".into(),
            id: id.into(),
        },
        amount: Some(eur(4500)),
        decision: "{}".into(),
        metadata: vec![("notify".into(), "desk@clinic.example".into())],
    }
}

#[test]
fn the_template_confirms_books_and_notifies() {
    let host = host();
    let plugin = load(&host, TEMPLATE);
    assert_eq!(plugin.name(), "template");
    let mut kv = Kv::default();
    let commands = host
        .on_action(&plugin, &action(Hook::PaymentSettled, "apt_1"), &mut kv)
        .unwrap();
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert!(matches!(&commands[0], Command::SetStatus(s) if s.status == "Confirmed"));
    assert!(matches!(&commands[1], Command::Book(e) if e.amount == eur(4500)));
    assert!(matches!(&commands[2], Command::Notify(n) if n.to == "desk@clinic.example"));
    // A hook it did not ask for is not called.
    assert!(
        host.on_action(&plugin, &action(Hook::DisputeOpened, "apt_1"), &mut kv)
            .unwrap()
            .is_empty()
    );
    // Its refund filter keeps 10 %, or the rate the tenant stored.
    let request = FilterRequest {
        point: FilterPoint::RefundAmount,
        tenant: "ten_a".into(),
        subject: RecordRef {
            kind: "appointment".into(),
            id: "apt_1".into(),
        },
        value: FilterValue::Refund(RefundSplit {
            fee: eur(0),
            refund: eur(4500),
        }),
    };
    let split = |v| match v {
        FilterValue::Refund(s) => (s.fee.minor, s.refund.minor),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        split(host.apply_filter(&plugin, &request, &mut kv).unwrap()),
        (450, 4050)
    );
    let mut kv = Kv::from_iter([("fee-percent".to_owned(), "20".to_owned())]);
    assert_eq!(
        split(host.apply_filter(&plugin, &request, &mut kv).unwrap()),
        (900, 3600)
    );
}

#[test]
fn hostile_plugins_are_stopped_or_refused_and_the_host_keeps_serving() {
    let host = host();
    let plugin = load(&host, HOSTILE);
    let mut kv = Kv::default();
    let call =
        |id: &str, kv: &mut Kv| host.on_action(&plugin, &action(Hook::PaymentSettled, id), kv);

    let started = Instant::now();
    assert!(
        matches!(call("loop", &mut kv), Err(PluginError::Timeout(_))),
        "a loop is stopped at the deadline"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        call("alloc", &mut kv),
        Err(PluginError::OutOfMemory(8 << 20))
    );
    assert!(matches!(call("trap", &mut kv), Err(PluginError::Trap(_))));
    assert_eq!(
        call("fail", &mut kv),
        Err(PluginError::Failed("the booking system is down".into()))
    );
    for (id, says) in [
        ("foreign", "apt_someone_else, not of the action's record"),
        ("negative", "negative amount"),
        ("undeclared", "\"Bogus\" is not one it declared"),
        ("huge", "e-mail text over 10000 characters"),
        ("many", "10000 commands; at most 32"),
    ] {
        match call(id, &mut kv) {
            Err(PluginError::Invalid(why)) => assert!(why.contains(says), "{id}: {why}"),
            other => panic!("{id}: {other:?}"),
        }
    }
    // After all that, the same plugin still answers, and its store works within the call.
    assert!(call("apt_fine", &mut kv).unwrap().is_empty());
    let ok = call("kv", &mut kv).unwrap();
    assert!(
        matches!(&ok[0], Command::SetStatus(s) if s.status == "kv-ok"),
        "{ok:?}"
    );
    assert_eq!(kv.get("seen"), Some("kv-ok"));
    // A refund filter that refunds more than there is: refused, payhook's value stands.
    let request = FilterRequest {
        point: FilterPoint::RefundAmount,
        tenant: "ten_a".into(),
        subject: RecordRef {
            kind: "appointment".into(),
            id: "apt_1".into(),
        },
        value: FilterValue::Refund(RefundSplit {
            fee: eur(500),
            refund: eur(4000),
        }),
    };
    match host.apply_filter(&plugin, &request, &mut kv) {
        Err(PluginError::Invalid(why)) => assert!(why.contains("do not add up to 4500"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_call_leaves_the_plugins_store_as_it_was() {
    let host = host();
    let plugin = load(&host, HOSTILE);
    let mut kv = Kv::from_iter([("kept".to_owned(), "1".to_owned())]);
    assert!(
        host.on_action(&plugin, &action(Hook::PaymentSettled, "trap"), &mut kv)
            .is_err()
    );
    assert_eq!(kv, Kv::from_iter([("kept".to_owned(), "1".to_owned())]));
}

#[test]
fn repeated_failures_disable_a_plugin_for_one_tenant_only_and_say_why() {
    let host = host();
    let plugin = load(&host, HOSTILE);
    let mut health = Health::new(3);
    let mut kv = Kv::default();
    for _ in 0..3 {
        let outcome = host.on_action(&plugin, &action(Hook::PaymentSettled, "trap"), &mut kv);
        health.record(plugin.name(), "ten_a", &outcome);
    }
    let why = health.disabled("hostile", "ten_a").expect("disabled");
    assert!(
        why.starts_with("disabled after 3 failures in a row; the last: the plugin trapped"),
        "{why}"
    );
    assert_eq!(
        health.disabled("hostile", "ten_b"),
        None,
        "another tenant is not affected"
    );
    health.enable("hostile", "ten_a");
    assert_eq!(health.disabled("hostile", "ten_a"), None);
    // A success in between resets the count.
    let mut health = Health::new(2);
    let bad = host.on_action(&plugin, &action(Hook::PaymentSettled, "trap"), &mut kv);
    health.record("hostile", "ten_a", &bad);
    let good = host.on_action(&plugin, &action(Hook::PaymentSettled, "apt_1"), &mut kv);
    health.record("hostile", "ten_a", &good);
    health.record("hostile", "ten_a", &bad);
    assert_eq!(health.disabled("hostile", "ten_a"), None);
}

#[test]
fn what_is_not_a_plugin_is_refused_at_load() {
    let host = host();
    assert!(matches!(
        host.load(b"not wasm"),
        Err(PluginError::Compile(_))
    ));
    // A component that imports something payhook does not give (here, a clock).
    let clock = wat::parse_str(
        r#"(component
            (import "wasi:clocks/wall-clock@0.2.0" (instance
                (export "now" (func (result u64)))
            ))
        )"#,
    )
    .unwrap();
    match host.load(&clock) {
        Err(PluginError::Link(why)) => assert!(why.contains("wall-clock"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// Collects what a subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_plugin_flooding_the_log_gets_a_hundred_lines_a_call_and_cannot_forge_one() {
    let host = host();
    let plugin = load(&host, HOSTILE);
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let answer = tracing::subscriber::with_default(subscriber, || {
        host.on_action(
            &plugin,
            &action(Hook::PaymentSettled, "flood"),
            &mut Kv::default(),
        )
    });
    assert_eq!(answer.unwrap(), Vec::new());
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kept = lines.iter().filter(|l| l.contains("flood ")).count();
    assert_eq!(kept, 100, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("more than 100 log lines in one call")),
        "{text}"
    );
    // Each kept line is one line: the forged "second line" stays inside it.
    assert!(
        !lines.iter().any(|l| l.starts_with("forged")),
        "a plugin wrote a line of its own: {text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("flood 7 forged: payment pi_x refunded")),
        "{text}"
    );
}
