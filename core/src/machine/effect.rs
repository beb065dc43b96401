//! What the host must do after a fact changed a record, as data: [`Effect`].
//!
//! The list is closed: a plugin maps each effect onto its own system (confirm the booking, mark
//! the invoice paid, write the accounting record, e-mail the customer). Effects come from the
//! difference between the old and the new state, so a repeated fact yields none.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use super::PaymentId;
use super::subscription;
use crate::money::Money;

/// One thing the host must do. Serializes as `{"effect": "invoice_paid", "amount": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    // --- money, on every record that money moves on ---
    /// A payment was collected: set the payment to Completed.
    PaymentCompleted {
        /// The payment.
        payment: PaymentId,
        /// The amount received (0 when the fact did not say).
        amount: Money,
    },
    /// A payment attempt failed; the customer may retry. Mark the payment Failed.
    PaymentFailed {
        /// Stripe's failure code, e.g. `card_declined`.
        code: Option<String>,
        /// Stripe's failure message, fit to show the customer.
        message: Option<String>,
    },
    /// The customer must authenticate (3-D Secure) before the payment can complete.
    PaymentActionRequired,
    /// A delayed method (SEPA, ACH…) is processing: do not confirm yet, do not give up yet.
    PaymentProcessing,
    /// The payment was canceled (or its Checkout Session expired); no money will move.
    PaymentCanceled,
    /// Money went back to the customer.
    RefundRecorded {
        /// The payment refunded.
        payment: PaymentId,
        /// How much more was refunded by this fact.
        amount: Money,
        /// The payment's refunded total after it.
        total: Money,
    },
    /// A refund failed: the money stayed with the merchant. Tell whoever asked for the refund.
    RefundFailed {
        /// The refund's amount.
        amount: Money,
        /// Stripe's `failure_reason`.
        reason: Option<String>,
    },
    /// The customer disputed the charge: gather evidence.
    DisputeOpened {
        /// The disputed amount.
        amount: Money,
        /// Stripe's dispute reason, e.g. `fraudulent`.
        reason: Option<String>,
    },
    /// A dispute closed in the merchant's favour.
    DisputeWon,
    /// A dispute closed in the customer's favour: the amount is lost.
    DisputeLost {
        /// The amount lost.
        amount: Money,
    },
    /// Radar warned that the charge is likely fraudulent: consider refunding before a dispute.
    FraudWarning {
        /// Stripe's `fraud_type`.
        fraud_type: Option<String>,
    },
    /// Write an accounting record. Every order of the same facts yields the same sum per
    /// `(payment, kind)`; `(payment, kind, total)` identifies the entry for deduplication.
    LedgerEntry {
        /// What moved.
        kind: LedgerKind,
        /// The payment it moved on.
        payment: PaymentId,
        /// The amount of this entry (always positive; `kind` gives the direction).
        amount: Money,
        /// The running total of `kind` on `payment` after this entry.
        total: Money,
    },

    // --- invoices ---
    /// The invoice now has an amount due and can be paid.
    InvoiceOpened {
        /// The amount due.
        amount_due: Money,
    },
    /// Stripe reported a larger amount due than the invoice had.
    InvoiceAmountDueChanged {
        /// The amount due before.
        from: Money,
        /// The amount due now.
        to: Money,
    },
    /// The invoice is paid in full: mark it PAID, update the linked case, notify the admin.
    InvoicePaid {
        /// The total received.
        amount: Money,
    },
    /// Part of the invoice is paid.
    InvoicePartiallyPaid {
        /// The total received so far.
        paid: Money,
        /// What is still due.
        remaining: Money,
    },
    /// More than the amount due was received: refund the excess or keep it as credit, by policy.
    InvoiceOverpaid {
        /// The amount received above the amount due (the total excess, not an increment).
        excess: Money,
    },
    /// Everything received on the invoice was refunded.
    InvoiceRefunded {
        /// The total refunded.
        amount: Money,
    },

    // --- appointments ---
    /// The booking is held while a delayed payment processes: keep the slot, do not confirm.
    AppointmentAwaitingPayment,
    /// The booking is paid: set the appointment to Confirmed.
    AppointmentConfirmed,
    /// The booking is cancelled: set the appointment to Cancelled.
    AppointmentCancelled {
        /// Why.
        reason: CancelReason,
    },
    /// Free the booking's slot in the calendar.
    SlotReleased,
    /// A payment arrived for a booking whose slot was released earlier. Check the calendar:
    /// keep the booking if the slot is still free, otherwise refund or flag it, by policy. Never
    /// book the slot twice silently.
    PaidAfterSlotReleased {
        /// The total received.
        amount: Money,
        /// What released the slot.
        released_by: CancelReason,
    },
    /// Everything paid for the booking was refunded: set the appointment to Refunded.
    AppointmentRefunded,

    // --- subscriptions ---
    /// The subscription's status changed.
    SubscriptionStatusChanged {
        /// The status before.
        from: subscription::Status,
        /// The status now.
        to: subscription::Status,
    },
    /// The subscription's current period now ends at this time (a renewal moves it forward).
    SubscriptionPeriodEnd {
        /// End of the current period (unix seconds).
        current_period_end: i64,
    },
    /// The subscription is set to cancel at the end of its period.
    SubscriptionCancellationScheduled {
        /// End of the current period, when known.
        at: Option<i64>,
    },
    /// A scheduled cancellation was withdrawn; the subscription renews again.
    SubscriptionCancellationRevoked,
    /// Dunning: a subscription payment failed. Tell the customer (and the admin).
    NotifyPaymentFailed {
        /// When Stripe will retry, if it will.
        retry_at: Option<i64>,
    },
    /// Dunning is over: the overdue payment was collected. Tell the customer.
    NotifyPaymentRecovered,
}

/// What a [`Effect::LedgerEntry`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Money received from the customer.
    Payment,
    /// Money returned to the customer.
    Refund,
    /// A refund that failed: the money came back to the merchant.
    RefundReversal,
    /// Money taken back by a lost dispute.
    DisputeLoss,
}

/// Why a booking was cancelled, or its slot may have been released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The payment failed (KiviCare cancels and releases the slot).
    PaymentFailed,
    /// The payment was canceled.
    PaymentCanceled,
    /// The Checkout Session expired unpaid.
    CheckoutExpired,
    /// Everything paid was refunded, so the host may have freed the slot (only as
    /// [`Effect::PaidAfterSlotReleased`]'s `released_by`).
    Refunded,
}

crate::named::named_enum!(CancelReason {
    PaymentFailed = "payment_failed",
    PaymentCanceled = "payment_canceled",
    CheckoutExpired = "checkout_expired",
    Refunded = "refunded",
});
