//! The conformance suite: every signature vector and event envelope through the native engine
//! *and* the component (each build of it, see [`merge`]), which must agree value for value, and against the official SDKs'
//! verdicts except where payhook is deliberately stricter (see [`deviation`]).

use payhook_core::machine::document::{self, MachineKind};
use payhook_core::money::{Currency, Money};
use payhook_core::secret::WebhookSecret;
use payhook_core::signature::{self, SignatureError};
use payhook_core::webhook::{self, WebhookError};
use payhook_runtime::{Runtime, Verified};
use serde_json::Value;

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// `vector:<id>` or `event:<file>`.
    pub name: String,
    /// `None` when it passed; otherwise why it failed.
    pub failure: Option<String>,
    /// The verdict both engines gave (`ok` or the error's SDK kind).
    pub verdict: String,
    /// The result in a host-neutral form (WIT case names, decision documents), for comparing
    /// other hosts' runs case by case; see [`CaseResult::to_json`].
    pub outcome: Value,
}

impl CaseResult {
    /// One JSON line: `{"case", "passed", "outcome"}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "case": self.name, "passed": self.failure.is_none(), "outcome": self.outcome })
    }
}

/// The WIT case of an error: `signature/<case>` or `decode/<case>`, as every host sees it.
pub fn error_tag(e: &WebhookError) -> String {
    use SignatureError as S;
    use payhook_core::event::DecodeError as D;
    let (group, case) = match e {
        WebhookError::Signature(e) => (
            "signature",
            match e {
                S::MissingHeader => "missing-header",
                S::HeaderTooLarge { .. } => "header-too-large",
                S::ElementWithoutEquals { .. } => "element-without-equals",
                S::MissingTimestamp => "missing-timestamp",
                S::DuplicateTimestamp => "duplicate-timestamp",
                S::InvalidTimestamp => "invalid-timestamp",
                S::NoV1Signature => "no-v1-signature",
                S::TooManySignatures { .. } => "too-many-signatures",
                S::NoSecret => "no-secret",
                S::BlankSecret { .. } => "blank-secret",
                S::TooManySecrets { .. } => "too-many-secrets",
                S::InvalidTolerance { .. } => "invalid-tolerance",
                S::BodyTooLarge { .. } => "body-too-large",
                S::SignatureMismatch => "signature-mismatch",
                S::TimestampTooOld { .. } => "timestamp-too-old",
                S::TimestampInFuture { .. } => "timestamp-in-future",
            },
        ),
        WebhookError::Decode(e) => (
            "decode",
            match e {
                D::InvalidUtf8 { .. } => "invalid-utf8",
                D::InvalidJson { .. } => "invalid-json",
                D::NestingTooDeep => "nesting-too-deep",
                D::WrongType { .. } => "wrong-type",
                D::MissingField { .. } => "missing-field",
                D::NotAnEvent { .. } => "not-an-event",
                D::ThinEventNotification { .. } => "thin-event-notification",
                D::InvalidCurrency { .. } => "invalid-currency",
                D::InvalidAmount { .. } => "invalid-amount",
            },
        ),
    };
    format!("{group}/{case}")
}

fn outcome_of(
    result: &Result<webhook::Delivery, WebhookError>,
    decisions: Vec<Vec<String>>,
) -> Value {
    match result {
        Err(e) => serde_json::json!({ "error": error_tag(e) }),
        Ok(d) => serde_json::json!({
            "timestamp": d.timestamp,
            "secret_index": d.secret_index,
            "event_id": d.event.id.as_str(),
            "event_type": d.event.event_type.as_str(),
            "facts": d.facts.iter().map(|f| f.kind.name().replace('_', "-")).collect::<Vec<_>>(),
            "decisions": decisions,
        }),
    }
}

/// Joins the runs of several builds of the component into one result per case. The cases come
/// in the same order from every run. A case fails if it failed in any build; a failure that
/// every build gave alike (a verdict against the SDKs', say) is shown once, and otherwise each
/// failure is named by its build.
pub fn merge(runs: Vec<(&str, Vec<CaseResult>)>) -> Vec<CaseResult> {
    let builds: Vec<&str> = runs.iter().map(|(build, _)| *build).collect();
    let mut cases: Vec<(CaseResult, Vec<Option<String>>)> = Vec::new();
    for (run, (_, results)) in runs.into_iter().enumerate() {
        if run == 0 {
            cases = results
                .into_iter()
                .map(|r| {
                    (
                        CaseResult {
                            failure: None,
                            ..r.clone()
                        },
                        vec![r.failure],
                    )
                })
                .collect();
            continue;
        }
        for ((case, failures), r) in cases.iter_mut().zip(results) {
            debug_assert_eq!(case.name, r.name, "every run lists the cases in one order");
            failures.push(r.failure);
        }
    }
    cases
        .into_iter()
        .map(|(case, failures)| {
            let failure = if failures.iter().all(|f| *f == failures[0]) {
                failures[0].clone()
            } else {
                let named: Vec<String> = failures
                    .iter()
                    .zip(&builds)
                    .filter_map(|(f, build)| f.as_ref().map(|why| format!("{build}: {why}")))
                    .collect();
                Some(named.join("; "))
            };
            CaseResult { failure, ..case }
        })
        .collect()
}

/// Why a vectors file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// Not JSON.
    #[error("the vectors file is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON of another shape.
    #[error("the vectors file has no `{0}` array of cases")]
    Shape(&'static str),
    /// A case lacks a field.
    #[error("vector #{index} has no valid `{field}`")]
    Field {
        /// Position in the file.
        index: usize,
        /// The field.
        field: &'static str,
    },
}

/// A documented, deliberate difference from the SDKs: the reason, and the error payhook gives.
#[derive(Debug, Clone, Copy)]
pub struct Deviation {
    /// Why payhook refuses what an SDK accepts.
    pub reason: &'static str,
    /// The signature error payhook gives instead.
    pub expected: fn(&SignatureError) -> bool,
}

/// Runs every case of a vectors file (format `stripe-signature-vectors/1`).
pub fn run_vectors(text: &str, runtime: &Runtime) -> Result<Vec<CaseResult>, ConformanceError> {
    let doc: Value = serde_json::from_str(text)?;
    let mut cases: Vec<&Value> = doc
        .get("vectors")
        .and_then(Value::as_array)
        .ok_or(ConformanceError::Shape("vectors"))?
        .iter()
        .collect();
    if let Some(divergent) = doc.get("divergent").and_then(Value::as_array) {
        cases.extend(divergent);
    }
    cases
        .iter()
        .enumerate()
        .map(|(index, case)| Vector::parse(index, case).map(|v| v.run(runtime)))
        .collect()
}

/// Runs every event envelope: signed, received natively and by the component, which must agree
/// and must decode it as a known event of a known object kind.
pub fn run_events(events: &[(String, String)], runtime: &Runtime) -> Vec<CaseResult> {
    const SECRET: &str = "whsec_conformance";
    const NOW: i64 = 1_767_300_000;
    let secrets = [WebhookSecret::new(SECRET)];
    events
        .iter()
        .map(|(name, body)| {
            let header = signature::header_for(body.as_bytes(), &secrets[0], NOW);
            let native = webhook::receive(Some(&header), body.as_bytes(), &secrets, NOW, 300);
            let failure = match runtime.receive(Some(&header), body.as_bytes(), &secrets, NOW, 300) {
                Err(e) => Some(format!("component failed: {e}")),
                Ok(component) if component != native => Some(format!("native and component disagree:\n  native:    {native:?}\n  component: {component:?}")),
                Ok(_) => match &native {
                    Err(e) => Some(format!("refused: {e}")),
                    Ok(d) if !d.event.event_type.is_known() => Some(format!("unknown event type {}", d.event.event_type)),
                    Ok(d) => stored_mismatch(runtime, body).or_else(|| decision_mismatch(runtime, &d.facts)),
                },
            };
            let decisions = native.as_ref().map(|d| native_decisions(&d.facts)).unwrap_or_default();
            CaseResult { name: format!("event:{name}"), failure, verdict: verdict_of(&native), outcome: outcome_of(&native, decisions) }
        })
        .collect()
}

fn stored_mismatch(runtime: &Runtime, body: &str) -> Option<String> {
    let native = webhook::decode_stored(body.as_bytes());
    match runtime.decode_stored(body.as_bytes()) {
        Err(e) => Some(format!("component failed on decode-stored: {e}")),
        Ok(c) if c != native => Some("native and component disagree on decode-stored".into()),
        Ok(_) => None,
    }
}

/// Applies every fact to a new record of every machine, natively and in the component; the
/// state and decision documents must be byte for byte the same.
fn decision_mismatch(runtime: &Runtime, facts: &[payhook_core::fact::Fact]) -> Option<String> {
    let mut session = match runtime.session() {
        Ok(s) => s,
        Err(e) => return Some(format!("component failed: {e}")),
    };
    for fact in facts {
        let amount = fact_amount(fact);
        for kind in MachineKind::ALL {
            let native_state = new_state(kind, fact);
            match session.new_state(kind, amount, "pi_conformance") {
                Ok(Ok(state)) if state == native_state => {}
                other => return Some(format!("new {} state differs: {other:?}", kind.name())),
            }
            let native = document::apply(kind, &native_state, fact).map_err(|e| e.to_string());
            match session.apply(kind, &native_state, fact) {
                Ok(component) if component.clone().map_err(|e| e.to_string()) == native => {}
                other => {
                    return Some(format!(
                        "{} decision differs: native {native:?}, component {other:?}",
                        kind.name()
                    ));
                }
            }
        }
    }
    None
}

/// For each fact, the decision documents of a new record of each machine, in
/// [`MachineKind::ALL`] order (invoice, appointment, payment, subscription).
fn native_decisions(facts: &[payhook_core::fact::Fact]) -> Vec<Vec<String>> {
    facts
        .iter()
        .map(|fact| {
            MachineKind::ALL
                .iter()
                .map(|&kind| {
                    document::apply(kind, &new_state(kind, fact), fact)
                        .unwrap_or_else(|e| e.to_string())
                })
                .collect()
        })
        .collect()
}

/// The new record each machine starts from for `fact`, as the component builds it too.
fn new_state(kind: MachineKind, fact: &payhook_core::fact::Fact) -> String {
    let amount = fact_amount(fact);
    match kind {
        MachineKind::Invoice => document::new_invoice(amount),
        MachineKind::Appointment => document::new_appointment(amount.currency),
        MachineKind::Payment => document::new_payment("pi_conformance", amount.currency),
        MachineKind::Subscription => document::new_subscription(),
    }
}

/// The amount a fact names (or 20.00 USD when it names none), to size the new records.
fn fact_amount(fact: &payhook_core::fact::Fact) -> Money {
    use payhook_core::fact::FactKind as K;
    match &fact.kind {
        K::PaymentSucceeded { amount }
        | K::PaymentFailed { amount, .. }
        | K::PaymentProcessing { amount }
        | K::PaymentRequiresAction { amount, .. }
        | K::Refunded {
            captured: amount, ..
        }
        | K::RefundFailed { amount, .. }
        | K::DisputeOpened { amount, .. }
        | K::DisputeLost { amount }
        | K::InvoiceFinalized { amount_due: amount }
        | K::InvoicePaid {
            amount_paid: amount,
        }
        | K::InvoicePaymentFailed {
            amount_due: amount, ..
        }
        | K::PayoutPaid { amount, .. }
        | K::PayoutFailed { amount, .. } => *amount,
        K::CheckoutCompletedPaid {
            amount: Some(amount),
        }
        | K::CheckoutAsyncPaymentSucceeded {
            amount: Some(amount),
        } => *amount,
        _ => Money::new(2000, Currency::USD),
    }
}

fn verdict_of<T>(r: &Result<T, WebhookError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.sdk_kind().into(),
    }
}

struct Vector<'a> {
    id: &'a str,
    payload: &'a str,
    secret: &'a str,
    header: Option<&'a str>,
    timestamp: i64,
    now: i64,
    tolerance: i64,
    /// `ok`, `error`, or `divergent` when the SDKs disagree.
    expected: &'a str,
    expected_verify: &'a str,
    error_kind: Option<&'a str>,
}

impl<'a> Vector<'a> {
    fn parse(index: usize, v: &'a Value) -> Result<Self, ConformanceError> {
        let s = |field: &'static str| {
            v.get(field)
                .and_then(Value::as_str)
                .ok_or(ConformanceError::Field { index, field })
        };
        let n = |field: &'static str| {
            v.get(field)
                .and_then(Value::as_i64)
                .ok_or(ConformanceError::Field { index, field })
        };
        let expected = s("expected")?;
        let divergent = expected == "divergent";
        Ok(Self {
            id: s("id")?,
            payload: s("payload")?,
            secret: s("secret")?,
            header: v.get("header").and_then(Value::as_str),
            timestamp: n("timestamp").unwrap_or(0),
            now: n("now")?,
            tolerance: n("tolerance")?,
            expected,
            expected_verify: if divergent {
                "divergent"
            } else {
                s("expected_verify_header")?
            },
            error_kind: v.get("error_kind").and_then(Value::as_str),
        })
    }

    fn run(&self, runtime: &Runtime) -> CaseResult {
        let secrets = [WebhookSecret::new(self.secret)];
        let body = self.payload.as_bytes();
        let native = webhook::receive(self.header, body, &secrets, self.now, self.tolerance);
        let native_verify = signature::Tolerance::seconds(self.tolerance)
            .and_then(|t| signature::verify(self.header, body, &secrets, self.now, t))
            .map(|p| Verified {
                timestamp: p.timestamp().unwrap_or_default(),
                secret_index: p.secret_index().unwrap_or_default(),
            });
        let failure = match (
            runtime.receive(self.header, body, &secrets, self.now, self.tolerance),
            runtime.verify(self.header, body, &secrets, self.now, self.tolerance),
        ) {
            (Err(e), _) | (_, Err(e)) => Some(format!("component failed: {e}")),
            (Ok(c), _) if c != native => Some(format!(
                "native and component disagree:\n  native:    {native:?}\n  component: {c:?}"
            )),
            (_, Ok(c)) if c != native_verify => Some(format!(
                "native and component disagree on verify: {native_verify:?} vs {c:?}"
            )),
            _ => self.judge(&native, &native_verify),
        };
        CaseResult {
            name: format!("vector:{}", self.id),
            failure,
            verdict: verdict_of(&native),
            outcome: outcome_of(&native, Vec::new()),
        }
    }

    /// Compares the verdicts with the SDKs' (or with the documented deviation).
    fn judge<T, U>(
        &self,
        receive: &Result<T, WebhookError>,
        verify: &Result<U, SignatureError>,
    ) -> Option<String> {
        let accepted_by_sdks = self.expected == "ok" || self.expected == "divergent";
        if accepted_by_sdks
            && let Some(d) = deviation(self.header, self.timestamp, self.now, self.tolerance)
        {
            return match receive {
                Err(WebhookError::Signature(e)) if (d.expected)(e) => None,
                other => Some(format!(
                    "documented deviation ({}) expected its error, got {}",
                    d.reason,
                    verdict_of(other)
                )),
            };
        }
        if self.expected == "divergent" {
            return match receive {
                Err(_) => None,
                Ok(_) => Some("the SDKs disagree here and payhook must take the strict verdict (error), but it accepted".into()),
            };
        }
        let got = if receive.is_ok() { "ok" } else { "error" };
        if got != self.expected {
            return Some(format!(
                "expected {} like the SDKs, got {}",
                self.expected,
                verdict_of(receive)
            ));
        }
        let got_verify = if verify.is_ok() { "ok" } else { "error" };
        if got_verify != self.expected_verify {
            return Some(format!(
                "verify-only: expected {}, got {got_verify}",
                self.expected_verify
            ));
        }
        if let (Some(kind), Err(e)) = (self.error_kind, receive)
            && e.sdk_kind() != kind
        {
            return Some(format!(
                "expected the SDKs' error kind {kind}, got {} ({e})",
                e.sdk_kind()
            ));
        }
        None
    }
}

/// The deliberate deviations from the SDKs (also listed in the README), decided from the
/// inputs alone: a tolerance of 0 or below, a `t` that is duplicated, not all digits or has no
/// `=`, and a timestamp further in the future than the tolerance.
pub fn deviation(
    header: Option<&str>,
    timestamp: i64,
    now: i64,
    tolerance: i64,
) -> Option<Deviation> {
    if tolerance <= 0 {
        return Some(Deviation {
            reason: "a tolerance of 0 or below is a configuration error, not \"no age check\"",
            expected: |e| matches!(e, SignatureError::InvalidTolerance { .. }),
        });
    }
    if let Some(header) = header {
        let mut t_values = 0;
        for element in header.split(',') {
            match element.split_once('=') {
                None if element == "t" => {
                    return Some(Deviation {
                        reason: "every header element must have a '='",
                        expected: |e| matches!(e, SignatureError::ElementWithoutEquals { .. }),
                    });
                }
                Some(("t", rest)) => {
                    t_values += 1;
                    let value = rest.split('=').next().unwrap_or(rest);
                    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                        return Some(Deviation {
                            reason: "t must be all ASCII digits (no sign, spaces or fraction)",
                            expected: |e| matches!(e, SignatureError::InvalidTimestamp),
                        });
                    }
                }
                _ => {}
            }
        }
        if t_values > 1 {
            return Some(Deviation {
                reason: "t must appear once (the SDKs disagree on which of two to use)",
                expected: |e| matches!(e, SignatureError::DuplicateTimestamp),
            });
        }
    }
    if i128::from(timestamp) - i128::from(now) > i128::from(tolerance) {
        return Some(Deviation {
            reason: "a timestamp more than the tolerance in the future is refused",
            expected: |e| matches!(e, SignatureError::TimestampInFuture { .. }),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, failure: Option<&str>) -> CaseResult {
        CaseResult {
            name: name.into(),
            failure: failure.map(Into::into),
            verdict: "ok".into(),
            outcome: Value::Null,
        }
    }

    #[test]
    fn a_failure_of_one_build_is_named_and_a_shared_one_is_shown_once() {
        let merged = merge(vec![
            (
                "host-hmac build",
                vec![case("a", None), case("b", Some("verdict")), case("c", None)],
            ),
            (
                "in-component hmac build",
                vec![
                    case("a", None),
                    case("b", Some("verdict")),
                    case("c", Some("differs")),
                ],
            ),
        ]);
        let failures: Vec<_> = merged
            .iter()
            .map(|r| (r.name.as_str(), r.failure.as_deref()))
            .collect();
        assert_eq!(
            failures,
            [
                ("a", None),
                ("b", Some("verdict")),
                ("c", Some("in-component hmac build: differs"))
            ]
        );
        assert!(merge(Vec::new()).is_empty());
    }
}
