//! One definition of how a [`Fact`](crate::fact::Fact) maps to and from the WIT `fact` record,
//! for the two places that need it: the component (core → WIT for `receive`, WIT → core for
//! `machines.apply`) and the Rust host (the reverse). Each has its own generated bindings, so the
//! mapping is a macro expanded where they are in scope.

#[doc(hidden)]
pub mod __private {
    pub use alloc::borrow::ToOwned;
    pub use alloc::string::String;
}

/// Defines `fact_to_wit(Fact) -> wit::Fact` and
/// `fact_from_wit(wit::Fact) -> Result<Fact, String>` (the error is the first currency code that
/// does not parse) in the calling module, which must have the WIT `webhook` interface in scope
/// as `wit` and the `types` interface as `wit_types`.
#[macro_export]
macro_rules! wit_fact_conversions {
    () => {
        fn money_to_wit(m: &$crate::money::Money) -> wit_types::Money {
            use $crate::wit_fact::__private::ToOwned;
            wit_types::Money { minor: m.minor, currency: m.currency.as_str().to_owned() }
        }

        fn money_from_wit(m: wit_types::Money) -> ::core::result::Result<$crate::money::Money, $crate::wit_fact::__private::String> {
            match $crate::money::Currency::parse(&m.currency) {
                Ok(c) => ::core::result::Result::Ok($crate::money::Money::new(m.minor, c)),
                Err(_) => ::core::result::Result::Err(m.currency),
            }
        }

        /// The WIT form of a core fact (its strings move; a caller that keeps the fact clones it).
        #[allow(dead_code)]
        pub(crate) fn fact_to_wit(f: $crate::fact::Fact) -> wit::Fact {
            use $crate::fact::FactKind as K;
            use wit::FactKind as W;
            let m = |x: $crate::money::Money| money_to_wit(&x);
            let next = |a: $crate::event::NextAction| wit::NextAction { kind: a.kind, redirect_url: a.redirect_url };
            let failure = |amount, code, message| wit::Failure { amount: m(amount), code, message };
            let kind = match f.kind {
                K::PaymentSucceeded { amount } => W::PaymentSucceeded(m(amount)),
                K::PaymentFailed { amount, code, message } => W::PaymentFailed(failure(amount, code, message)),
                K::PaymentProcessing { amount } => W::PaymentProcessing(m(amount)),
                K::PaymentRequiresAction { amount, next_action } => W::PaymentRequiresAction((m(amount), next_action.map(next))),
                K::PaymentCanceled => W::PaymentCanceled,
                K::CheckoutCompletedPaid { amount } => W::CheckoutCompletedPaid(amount.map(m)),
                K::CheckoutCompletedUnpaid => W::CheckoutCompletedUnpaid,
                K::CheckoutAsyncPaymentSucceeded { amount } => W::CheckoutAsyncPaymentSucceeded(amount.map(m)),
                K::CheckoutAsyncPaymentFailed => W::CheckoutAsyncPaymentFailed,
                K::CheckoutExpired => W::CheckoutExpired,
                K::Refunded { captured, refunded } => W::Refunded((m(captured), m(refunded))),
                K::RefundFailed { amount, reason } => W::RefundFailed((m(amount), reason)),
                K::DisputeOpened { amount, reason } => W::DisputeOpened((m(amount), reason)),
                K::DisputeWon => W::DisputeWon,
                K::DisputeLost { amount } => W::DisputeLost(m(amount)),
                K::EarlyFraudWarning { fraud_type } => W::EarlyFraudWarning(fraud_type),
                K::SubscriptionCreated { status, current_period_end } => W::SubscriptionCreated((status, current_period_end)),
                K::SubscriptionUpdated { status, current_period_end, cancel_at_period_end } => {
                    W::SubscriptionUpdated((status, current_period_end, cancel_at_period_end))
                }
                K::SubscriptionPastDue { current_period_end } => W::SubscriptionPastDue(current_period_end),
                K::SubscriptionCanceled => W::SubscriptionCanceled,
                K::InvoiceFinalized { amount_due } => W::InvoiceFinalized(m(amount_due)),
                K::InvoicePaid { amount_paid } => W::InvoicePaid(m(amount_paid)),
                K::InvoicePaymentFailed { amount_due, next_payment_attempt } => W::InvoicePaymentFailed((m(amount_due), next_payment_attempt)),
                K::PayoutPaid { amount, arrival_date } => W::PayoutPaid((m(amount), arrival_date)),
                K::PayoutFailed { amount, code, message } => W::PayoutFailed(failure(amount, code, message)),
            };
            let (s, l) = (f.subject, f.links);
            wit::Fact {
                event_id: f.event_id.into_string(),
                occurred_at: f.occurred_at,
                kind,
                subject: wit::Subject {
                    payment_intent: s.payment_intent,
                    charge: s.charge,
                    checkout_session: s.checkout_session,
                    invoice: s.invoice,
                    subscription: s.subscription,
                    customer: s.customer,
                    refund: s.refund,
                    dispute: s.dispute,
                    payout: s.payout,
                },
                links: wit::Links {
                    invoice_id: l.invoice_id,
                    appointment_id: l.appointment_id,
                    customer_id: l.customer_id,
                },
            }
        }

        /// The core form of a WIT fact; the error is the first currency code that does not parse.
        #[allow(dead_code)]
        pub(crate) fn fact_from_wit(f: wit::Fact) -> ::core::result::Result<$crate::fact::Fact, $crate::wit_fact::__private::String> {
            use $crate::fact::FactKind as K;
            use wit::FactKind as W;
            let m = money_from_wit;
            let opt = |x: Option<wit_types::Money>| x.map(m).transpose();
            let next = |a: wit::NextAction| $crate::event::NextAction { kind: a.kind, redirect_url: a.redirect_url };
            let kind = match f.kind {
                W::PaymentSucceeded(x) => K::PaymentSucceeded { amount: m(x)? },
                W::PaymentFailed(x) => K::PaymentFailed { amount: m(x.amount)?, code: x.code, message: x.message },
                W::PaymentProcessing(x) => K::PaymentProcessing { amount: m(x)? },
                W::PaymentRequiresAction((x, a)) => K::PaymentRequiresAction { amount: m(x)?, next_action: a.map(next) },
                W::PaymentCanceled => K::PaymentCanceled,
                W::CheckoutCompletedPaid(x) => K::CheckoutCompletedPaid { amount: opt(x)? },
                W::CheckoutCompletedUnpaid => K::CheckoutCompletedUnpaid,
                W::CheckoutAsyncPaymentSucceeded(x) => K::CheckoutAsyncPaymentSucceeded { amount: opt(x)? },
                W::CheckoutAsyncPaymentFailed => K::CheckoutAsyncPaymentFailed,
                W::CheckoutExpired => K::CheckoutExpired,
                W::Refunded((c, r)) => K::Refunded { captured: m(c)?, refunded: m(r)? },
                W::RefundFailed((x, reason)) => K::RefundFailed { amount: m(x)?, reason },
                W::DisputeOpened((x, reason)) => K::DisputeOpened { amount: m(x)?, reason },
                W::DisputeWon => K::DisputeWon,
                W::DisputeLost(x) => K::DisputeLost { amount: m(x)? },
                W::EarlyFraudWarning(fraud_type) => K::EarlyFraudWarning { fraud_type },
                W::SubscriptionCreated((status, current_period_end)) => K::SubscriptionCreated { status, current_period_end },
                W::SubscriptionUpdated((status, current_period_end, cancel_at_period_end)) => {
                    K::SubscriptionUpdated { status, current_period_end, cancel_at_period_end }
                }
                W::SubscriptionPastDue(current_period_end) => K::SubscriptionPastDue { current_period_end },
                W::SubscriptionCanceled => K::SubscriptionCanceled,
                W::InvoiceFinalized(x) => K::InvoiceFinalized { amount_due: m(x)? },
                W::InvoicePaid(x) => K::InvoicePaid { amount_paid: m(x)? },
                W::InvoicePaymentFailed((x, next_payment_attempt)) => K::InvoicePaymentFailed { amount_due: m(x)?, next_payment_attempt },
                W::PayoutPaid((x, arrival_date)) => K::PayoutPaid { amount: m(x)?, arrival_date },
                W::PayoutFailed(x) => K::PayoutFailed { amount: m(x.amount)?, code: x.code, message: x.message },
            };
            let (s, l) = (f.subject, f.links);
            ::core::result::Result::Ok($crate::fact::Fact {
                event_id: $crate::event::EventId::new(f.event_id),
                occurred_at: f.occurred_at,
                kind,
                subject: $crate::fact::Subject {
                    payment_intent: s.payment_intent,
                    charge: s.charge,
                    checkout_session: s.checkout_session,
                    invoice: s.invoice,
                    subscription: s.subscription,
                    customer: s.customer,
                    refund: s.refund,
                    dispute: s.dispute,
                    payout: s.payout,
                },
                links: $crate::fact::Links { invoice_id: l.invoice_id, appointment_id: l.appointment_id, customer_id: l.customer_id },
            })
        }
    };
}
