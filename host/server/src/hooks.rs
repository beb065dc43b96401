//! Filter points: where a plugin may change a value before payhook uses it, in the WordPress
//! sense. The server calls them through [`Filters`]; the default changes nothing. Whatever a
//! filter returns is checked before use (see [`checked_refund`]). Filters that cannot run,
//! because the tenant's plugins cannot be read, stop what they guard ([`FiltersUnavailable`]):
//! a late-cancellation refund made without the salon's fee filter would hand back the fee.

use payhook_core::money::Money;
use payhook_core::policy::FeeSplit;

/// What a refund filter is told.
#[derive(Debug, Clone)]
pub struct RefundContext<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The payment (`pi_…`).
    pub payment: &'a str,
    /// What is left to refund on it.
    pub refundable: Money,
    /// True when the caller asked for a late-cancellation refund.
    pub cancellation: bool,
}

/// What a checkout-params filter is told: the record a Checkout Session or a Payment Link is
/// made for.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutContext<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// `invoice` or `appointment`.
    pub kind: &'a str,
    /// Its id.
    pub record: &'a str,
}

/// A filter said no to a Checkout Session or a Payment Link; nothing was sent to Stripe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {plugin} plugin refused this {what}: {reason}")]
pub struct CheckoutRefused {
    /// The plugin.
    pub plugin: String,
    /// `checkout session` or `payment link`.
    pub what: &'static str,
    /// The plugin's own words.
    pub reason: String,
}

/// The filters of a point could not run: which of the tenant's plugins filter it, or their
/// state, could not be read. What they guard is not done, so a value is never used unfiltered;
/// the caller tries again later. The database's own error is logged, not put here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the tenant's plugins could not be read, so the {point} filters did not run; nothing was done, try again"
)]
pub struct FiltersUnavailable {
    /// The filter point: `checkout-params`, `refund-amount` or `notification`.
    pub point: &'static str,
}

/// Why a Checkout Session's or a Payment Link's form got no answer from its filters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutFilterError {
    /// A plugin said no.
    #[error(transparent)]
    Refused(#[from] CheckoutRefused),
    /// The filters could not run.
    #[error(transparent)]
    Unavailable(#[from] FiltersUnavailable),
}

/// Why a refund's split was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundFilterError {
    /// A filter's answer broke the rules.
    #[error(transparent)]
    Refused(#[from] FilterRefused),
    /// The filters could not run.
    #[error(transparent)]
    Unavailable(#[from] FiltersUnavailable),
}

/// The filter points of the server.
pub trait Filters: Send + Sync {
    /// The form of a Checkout Session or a Payment Link as payhook would send it (`form`, sorted
    /// by key), before it is stored and sent. Returns the changes to make (see
    /// [`payhook_core::stripe::changes`]: words for the customer and extra metadata only), a
    /// refusal, or [`FiltersUnavailable`]. Default: no change.
    fn checkout_params(
        &self,
        _ctx: &CheckoutContext<'_>,
        _what: &'static str,
        _form: &[(String, String)],
    ) -> Result<Vec<(String, String)>, CheckoutFilterError> {
        Ok(Vec::new())
    }

    /// The refund amount and the fee kept, before the refund is made (e.g. a salon's
    /// late-cancellation fee), or [`FiltersUnavailable`]. Default: unchanged.
    fn refund_amount(
        &self,
        _ctx: &RefundContext<'_>,
        proposed: FeeSplit,
    ) -> Result<FeeSplit, FiltersUnavailable> {
        Ok(proposed)
    }
}

/// No filters: every value is used as proposed.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFilters;

impl Filters for NoFilters {}

/// Why a filter's answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a refund filter returned {what}; the refund was not made")]
pub struct FilterRefused {
    /// What was wrong.
    pub what: String,
}

/// Runs the refund filter and checks its answer: the same currency, a fee and a refund that are
/// not negative and add up to what is refundable.
pub fn checked_refund(
    filters: &dyn Filters,
    ctx: &RefundContext<'_>,
    proposed: FeeSplit,
) -> Result<FeeSplit, RefundFilterError> {
    let out = filters.refund_amount(ctx, proposed)?;
    let currency = ctx.refundable.currency;
    let refused = |what: String| Err(FilterRefused { what }.into());
    if out.fee.currency != currency || out.refund.currency != currency {
        return refused(format!("an amount in another currency than {currency}"));
    }
    if out.fee.minor < 0 || out.refund.minor < 0 {
        return refused("a negative amount".into());
    }
    if out.fee.minor.checked_add(out.refund.minor)
        != Some(proposed.fee.minor + proposed.refund.minor)
    {
        return refused(format!(
            "a fee of {} and a refund of {} that do not add up to {}",
            out.fee.to_decimal_string(),
            out.refund.to_decimal_string(),
            Money {
                minor: proposed.fee.minor + proposed.refund.minor,
                currency
            }
            .to_decimal_string()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhook_core::money::Currency;

    fn eur(minor: i64) -> Money {
        Money {
            minor,
            currency: Currency::parse("eur").unwrap(),
        }
    }

    struct KeepFive;
    impl Filters for KeepFive {
        fn refund_amount(
            &self,
            ctx: &RefundContext<'_>,
            p: FeeSplit,
        ) -> Result<FeeSplit, FiltersUnavailable> {
            let fee = if ctx.cancellation { eur(500) } else { p.fee };
            Ok(FeeSplit {
                fee,
                refund: eur(ctx.refundable.minor - fee.minor),
            })
        }
    }

    struct Greedy;
    impl Filters for Greedy {
        fn refund_amount(
            &self,
            _: &RefundContext<'_>,
            p: FeeSplit,
        ) -> Result<FeeSplit, FiltersUnavailable> {
            Ok(FeeSplit {
                fee: p.fee,
                refund: eur(p.refund.minor + 1),
            })
        }
    }

    struct Unreadable;
    impl Filters for Unreadable {
        fn refund_amount(
            &self,
            _: &RefundContext<'_>,
            _: FeeSplit,
        ) -> Result<FeeSplit, FiltersUnavailable> {
            Err(FiltersUnavailable {
                point: "refund-amount",
            })
        }
    }

    #[test]
    fn a_filter_may_change_the_fee_but_not_refund_more_than_was_paid() {
        let ctx = RefundContext {
            tenant: "ten_1",
            payment: "pi_1",
            refundable: eur(4500),
            cancellation: true,
        };
        let proposed = FeeSplit {
            fee: eur(0),
            refund: eur(4500),
        };
        assert_eq!(checked_refund(&NoFilters, &ctx, proposed), Ok(proposed));
        assert_eq!(
            checked_refund(&KeepFive, &ctx, proposed),
            Ok(FeeSplit {
                fee: eur(500),
                refund: eur(4000)
            })
        );
        let err = checked_refund(&Greedy, &ctx, proposed).unwrap_err();
        assert!(matches!(err, RefundFilterError::Refused(_)), "{err:?}");
        assert!(err.to_string().contains("do not add up to 45.00"), "{err}");
        // Filters that cannot run stop the refund; the proposal is not used unfiltered.
        assert_eq!(
            checked_refund(&Unreadable, &ctx, proposed)
                .unwrap_err()
                .to_string(),
            "the tenant's plugins could not be read, so the refund-amount filters did not run; \
             nothing was done, try again"
        );
    }
}
