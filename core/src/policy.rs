//! Refund policies: what is kept when a booking is cancelled late.
//!
//! A salon or a clinic keeps a fixed amount or a percentage of what was paid when the customer
//! cancels inside the late-cancellation window; the rest is refunded. The fee is computed here
//! so every host (and every plugin that changes it through the refund filter) starts from the
//! same figure, in integer minor units, rounded to what Stripe accepts in the currency.

use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

/// What a late cancellation costs the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CancellationFee {
    /// Keep this amount (at most what is refundable).
    Fixed {
        /// The amount kept.
        amount: Money,
    },
    /// Keep this share of what is refundable, in basis points (1000 = 10 %).
    Percent {
        /// 0 to 10 000.
        basis_points: u32,
    },
}

/// The split of a refundable amount between the fee kept and the refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSplit {
    /// Kept by the business.
    pub fee: Money,
    /// Given back to the customer (may be zero: then nothing is refunded).
    pub refund: Money,
}

/// Why a fee cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// A percentage above 100 %.
    #[error("a cancellation fee of {basis_points} basis points is above 100 % (10000)")]
    PercentTooLarge {
        /// As given.
        basis_points: u32,
    },
    /// A negative fixed fee.
    #[error("a cancellation fee cannot be negative")]
    Negative,
    /// The fee is in another currency than the payment, or arithmetic failed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl CancellationFee {
    /// Splits `refundable` into the fee kept and the refund. A fixed fee above what is
    /// refundable keeps everything; a percentage is rounded half up to the minor unit and then
    /// to the currency's charge step (three-decimal currencies, ISK, UGX), so the refund is an
    /// amount Stripe accepts.
    pub fn split(&self, refundable: Money) -> Result<FeeSplit, FeeError> {
        let fee = match *self {
            CancellationFee::Fixed { amount } => {
                if amount.minor < 0 {
                    return Err(FeeError::Negative);
                }
                if amount.currency != refundable.currency {
                    return Err(MoneyError::CurrencyMismatch {
                        left: refundable.currency,
                        right: amount.currency,
                    }
                    .into());
                }
                Money {
                    minor: amount.minor.min(refundable.minor.max(0)),
                    currency: refundable.currency,
                }
            }
            CancellationFee::Percent { basis_points } => {
                if basis_points > 10_000 {
                    return Err(FeeError::PercentTooLarge { basis_points });
                }
                let base = i128::from(refundable.minor.max(0));
                let minor = (base * i128::from(basis_points) + 5_000) / 10_000;
                let fee = Money {
                    minor: i64::try_from(minor).map_err(|_| MoneyError::Overflow)?,
                    currency: refundable.currency,
                }
                .round_to_step();
                Money {
                    minor: fee.minor.min(refundable.minor.max(0)),
                    currency: refundable.currency,
                }
            }
        };
        let refund = refundable.checked_sub(fee)?;
        Ok(FeeSplit { fee, refund })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn m(minor: i64, code: &str) -> Money {
        Money {
            minor,
            currency: Currency::parse(code).unwrap(),
        }
    }

    #[test]
    fn a_fixed_fee_is_kept_and_never_more_than_was_paid() {
        let fee = CancellationFee::Fixed {
            amount: m(1000, "eur"),
        };
        assert_eq!(
            fee.split(m(4500, "eur")).unwrap(),
            FeeSplit {
                fee: m(1000, "eur"),
                refund: m(3500, "eur")
            }
        );
        assert_eq!(fee.split(m(800, "eur")).unwrap().refund, m(0, "eur"));
        assert!(matches!(
            fee.split(m(4500, "usd")),
            Err(FeeError::Money(MoneyError::CurrencyMismatch { .. }))
        ));
        assert_eq!(
            CancellationFee::Fixed {
                amount: m(-1, "eur")
            }
            .split(m(4500, "eur")),
            Err(FeeError::Negative)
        );
    }

    #[test]
    fn a_percentage_rounds_to_what_stripe_accepts() {
        let ten = CancellationFee::Percent { basis_points: 1000 };
        assert_eq!(ten.split(m(4500, "eur")).unwrap().fee, m(450, "eur"));
        // 10 % of 0.15 EUR is 1.5 cents: half up.
        assert_eq!(ten.split(m(15, "eur")).unwrap().fee, m(2, "eur"));
        // JPY has no minor unit: 10 % of 999 yen is 100 yen.
        assert_eq!(ten.split(m(999, "jpy")).unwrap().fee, m(100, "jpy"));
        // KWD amounts end in 0: 10 % of 5.120 is 0.512, kept as 0.510; 4.610 is refunded.
        let kwd = ten.split(m(5120, "kwd")).unwrap();
        assert_eq!((kwd.fee, kwd.refund), (m(510, "kwd"), m(4610, "kwd")));
        assert_eq!(
            CancellationFee::Percent {
                basis_points: 10_000
            }
            .split(m(4500, "eur"))
            .unwrap()
            .refund,
            m(0, "eur")
        );
        assert_eq!(
            CancellationFee::Percent {
                basis_points: 10_001
            }
            .split(m(4500, "eur")),
            Err(FeeError::PercentTooLarge {
                basis_points: 10_001
            })
        );
    }
}
