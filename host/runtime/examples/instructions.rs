//! The engine bench's case (verify + decode + decide on the 3 KB `payment_intent.succeeded`
//! envelope) in a plain loop, for counting instructions rather than timing them: wall-clock
//! ratios on a shared 2-core machine move by a third from one second to the next, instruction
//! counts do not. `BENCHMARKS.md` gives the figures.
//!
//! ```sh
//! cargo build --release -p payhook-runtime --example instructions
//! valgrind --tool=callgrind --toggle-collect='*counted*' \
//!     target/release/examples/instructions component all 200
//! ```
//!
//! Arguments: `native` or `component`; `all` (`receive` then `apply`), `receive` or `apply`
//! alone; the number of iterations (200). `--wasm FILE` loads another build of the component
//! (an unstripped one, to name its functions). The component is the host-HMAC build, one
//! instance reused; `--wasm-hmac` takes the build that hashes itself instead, and `--fresh` a
//! new instance for every event. `--perf-map` writes a perf map of the compiled component
//! ([`RuntimeConfig::perf_map`]), for timing the same loop by function:
//!
//! ```sh
//! perf record -e cpu-clock -F 10000 target/release/examples/instructions component all 300000 \
//!     --perf-map --wasm path/to/unstripped/payhook_engine.wasm
//! perf report --sort sym
//! ```
//!
//! Only `counted` is collected; the process's set-up and a warm-up round are not.

use std::hint::black_box;

use payhook_core::fact::Fact;
use payhook_core::machine::document::{self, MachineKind};
use payhook_core::money::{Currency, Money};
use payhook_core::secret::WebhookSecret;
use payhook_core::signature::header_for;
use payhook_core::webhook;
use payhook_runtime::{HmacSource, Runtime, RuntimeConfig, Session};

const BODY: &str =
    include_str!("../../../tests/fixtures/stripe-events/events/payment_intent.succeeded.json");
const T: i64 = 1_767_261_603;

#[derive(Clone, Copy, PartialEq)]
enum Part {
    All,
    Receive,
    Apply,
}

struct Case {
    header: String,
    secrets: Vec<WebhookSecret>,
    invoice: String,
    fact: Fact,
    part: Part,
}

/// The two ways to run the engine, each called the same way by [`one`].
trait Engine {
    /// Verifies and decodes the envelope; returns its facts.
    fn receive(&mut self, c: &Case) -> Vec<Fact>;
    /// Applies `fact` to the invoice; returns the decision's length, so nothing is elided.
    fn apply(&mut self, c: &Case, fact: &Fact) -> usize;
}

/// The native engine.
struct Native;

impl Engine for Native {
    fn receive(&mut self, c: &Case) -> Vec<Fact> {
        let body = black_box(BODY.as_bytes());
        webhook::receive(Some(&c.header), body, &c.secrets, T + 5, 300)
            .unwrap()
            .facts
    }

    fn apply(&mut self, c: &Case, fact: &Fact) -> usize {
        document::apply(MachineKind::Invoice, &c.invoice, fact)
            .unwrap()
            .len()
    }
}

impl Engine for Session<'_> {
    fn receive(&mut self, c: &Case) -> Vec<Fact> {
        let body = black_box(BODY.as_bytes());
        Session::receive(self, Some(&c.header), body, &c.secrets, T + 5, 300)
            .unwrap()
            .unwrap()
            .facts
    }

    fn apply(&mut self, c: &Case, fact: &Fact) -> usize {
        Session::apply(self, MachineKind::Invoice, &c.invoice, fact)
            .unwrap()
            .unwrap()
            .len()
    }
}

/// One event, or the part of it that `c.part` names.
fn one(engine: &mut impl Engine, c: &Case) -> usize {
    if c.part == Part::Apply {
        return engine.apply(c, black_box(&c.fact));
    }
    let facts = engine.receive(c);
    if c.part == Part::Receive {
        return facts.len();
    }
    facts.iter().map(|f| engine.apply(c, f)).sum()
}

/// The loop callgrind collects (`--toggle-collect='*counted*'`).
#[inline(never)]
fn counted(n: usize, mut one: impl FnMut() -> usize) -> usize {
    (0..n).map(|_| one()).sum()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: instructions native|component [all|receive|apply] [N] [--wasm FILE] [--wasm-hmac] [--fresh] [--perf-map]";
    let (mut positional, mut wasm, mut fresh, mut hmac) =
        (Vec::new(), None, false, HmacSource::Host);
    let mut perf_map = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--fresh" {
            fresh = true;
        } else if a == "--perf-map" {
            perf_map = true;
        } else if a == "--wasm-hmac" {
            hmac = HmacSource::Component;
        } else if a == "--wasm" {
            wasm = Some(it.next().expect(usage).clone());
        } else {
            positional.push(a.as_str());
        }
    }
    let part = match positional.get(1).copied().unwrap_or("all") {
        "all" => Part::All,
        "receive" => Part::Receive,
        "apply" => Part::Apply,
        _ => panic!("{usage}"),
    };
    let n: usize = positional.get(2).map_or(200, |s| s.parse().expect(usage));
    let secret = WebhookSecret::new("whsec_bench_5f2b1c9e8a7d4e6f0a1b2c3d4e5f6a7b");
    let case = Case {
        header: header_for(BODY.as_bytes(), &secret, T),
        secrets: vec![secret],
        invoice: document::new_invoice(Money::new(2000, Currency::USD)),
        fact: webhook::decode_stored(BODY.as_bytes())
            .unwrap()
            .facts
            .remove(0),
        part,
    };
    let total = match positional.first().copied() {
        Some("native") => {
            one(&mut Native, &case);
            counted(n, || one(&mut Native, &case))
        }
        Some("component") => {
            let config = RuntimeConfig {
                hmac,
                perf_map,
                max_instances: 2,
                // Compiled once, not under valgrind at every run.
                cache_dir: Some(std::env::temp_dir().join("payhook-instructions-cache")),
                ..RuntimeConfig::default()
            };
            let runtime = match wasm {
                Some(path) => Runtime::from_wasm(&std::fs::read(path).unwrap(), config),
                None => Runtime::new(config),
            }
            .unwrap();
            let mut session = runtime.session().unwrap();
            one(&mut session, &case);
            if fresh {
                drop(session);
                counted(n, || one(&mut runtime.session().unwrap(), &case))
            } else {
                counted(n, || one(&mut session, &case))
            }
        }
        _ => panic!("{usage}"),
    };
    println!("{n} events, {total} bytes of decisions");
}
