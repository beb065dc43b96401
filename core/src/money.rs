//! Money as integer minor units, and Stripe's currency rules.
//!
//! Stripe takes every amount as an integer count of the currency's *minor unit*, and that unit is
//! not always a hundredth: 500 JPY is `500`, 5.124 KWD is `5124` (and must be rounded to `5120`
//! or `5130` before it is charged), 5 ISK is `500`. [`Money`] holds that integer next to its
//! [`Currency`]; [`Money::from_decimal_str`] and [`Money::to_decimal_string`] convert exactly
//! between it and the decimal a person writes, and [`Money::check_chargeable`] /
//! [`Money::check_refund`] say whether Stripe will accept it. There are no floats anywhere.
//!
//! The rules come from Stripe's "Supported currencies" page, kept as
//! `tests/fixtures/stripe-currencies.json`; see [`Currency`].

mod currency;

pub use currency::Currency;
pub(crate) use currency::CURRENCY_EXPECTED;

use alloc::string::{String, ToString};
use core::fmt;

use serde::{Deserialize, Serialize};

/// Why an amount or a currency code was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not exactly three ASCII letters (the first 12 characters are kept).
    #[error("invalid currency code {}: use a three-letter ISO 4217 code such as \"usd\"", crate::json::Quoted(.code))]
    InvalidCurrencyCode {
        /// The rejected code, cut to its first 12 characters.
        code: String,
    },
    /// The decimal amount text was empty.
    #[error("the amount is empty: write a number such as \"20.00\"")]
    EmptyAmount,
    /// The decimal amount text is longer than any real amount.
    #[error("the amount is {len} characters long: write at most {max}")]
    InputTooLong {
        /// Length of the text, in bytes.
        len: usize,
        /// The longest text accepted, in bytes.
        max: usize,
    },
    /// The decimal amount text is not a plain decimal number.
    #[error("invalid amount {}: {reason}; write a plain decimal such as \"20.00\"", crate::json::Quoted(.input))]
    InvalidDecimal {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The amount has more decimals than the currency's minor unit.
    #[error(
        "too many decimal places for {currency}: it takes at most {max}{}; remove the extra digits",
        if *max == 0 { " (whole units only)" } else { "" }
    )]
    TooManyFractionDigits {
        /// The currency of the amount.
        currency: Currency,
        /// The most decimals the currency takes ([`Currency::api_exponent`]).
        max: u8,
    },
    /// The amount, or the result of arithmetic on amounts, does not fit in an `i64` of minor units.
    #[error("the amount is out of range: it must fit in a signed 64-bit count of minor units")]
    Overflow,
    /// A charge or refund of zero.
    #[error("the amount must be greater than zero, got {}", Money::new(0, *currency))]
    ZeroAmount {
        /// The currency of the amount.
        currency: Currency,
    },
    /// A charge or refund of a negative amount.
    #[error("the amount must be positive, got {}", Money::new(*amount, *currency))]
    Negative {
        /// The amount, in minor units.
        amount: i64,
        /// The currency of the amount.
        currency: Currency,
    },
    /// A charge below Stripe's minimum for the currency.
    #[error(
        "{} is below stripe's minimum charge of {}: charge at least that much",
        Money::new(*amount, *currency),
        Money::new(*minimum, *currency)
    )]
    BelowMinimum {
        /// The amount, in minor units.
        amount: i64,
        /// The minimum, in minor units ([`Currency::minimum_charge`]).
        minimum: i64,
        /// The currency of the amount.
        currency: Currency,
    },
    /// A charge above the largest amount Stripe's amount field takes for the currency.
    #[error(
        "{} is above stripe's maximum of {}: charge at most that much",
        Money::new(*amount, *currency),
        Money::new(*maximum, *currency)
    )]
    AboveMaximum {
        /// The amount, in minor units.
        amount: i64,
        /// The maximum, in minor units ([`Currency::max_amount`]).
        maximum: i64,
        /// The currency of the amount.
        currency: Currency,
    },
    /// A charge or refund that is not a multiple of the currency's step (KWD must end in 0).
    #[error(
        "{} cannot be sent to stripe: {currency} amounts must be a multiple of {}{}",
        Money::new(*amount, *currency),
        Money::new(*step, *currency),
        StepHint { amount: *amount, step: *step, currency: *currency }
    )]
    NotMultipleOf {
        /// The amount, in minor units.
        amount: i64,
        /// The step, in minor units ([`Currency::charge_step`]).
        step: i64,
        /// The currency of the amount.
        currency: Currency,
    },
    /// A refund larger than what is left to refund.
    #[error(
        "cannot refund {}: only {} is left to refund",
        Money::new(*requested, *currency),
        Money::new(*refundable, *currency)
    )]
    ExceedsRefundable {
        /// The requested refund, in minor units.
        requested: i64,
        /// What is left to refund, in minor units.
        refundable: i64,
        /// The currency of both.
        currency: Currency,
    },
    /// Arithmetic on amounts in two different currencies.
    #[error("cannot combine {left} and {right} amounts: convert them to one currency first")]
    CurrencyMismatch {
        /// The currency of the left operand.
        left: Currency,
        /// The currency of the right operand.
        right: Currency,
    },
}

impl MoneyError {
    /// A stable snake_case code for the condition, for APIs and other hosts.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::InvalidCurrencyCode { .. } => "invalid_currency_code",
            MoneyError::EmptyAmount => "empty_amount",
            MoneyError::InputTooLong { .. } => "input_too_long",
            MoneyError::InvalidDecimal { .. } => "invalid_decimal",
            MoneyError::TooManyFractionDigits { .. } => "too_many_fraction_digits",
            MoneyError::Overflow => "overflow",
            MoneyError::ZeroAmount { .. } => "zero_amount",
            MoneyError::Negative { .. } => "negative",
            MoneyError::BelowMinimum { .. } => "below_minimum",
            MoneyError::AboveMaximum { .. } => "above_maximum",
            MoneyError::NotMultipleOf { .. } => "not_multiple_of",
            MoneyError::ExceedsRefundable { .. } => "exceeds_refundable",
            MoneyError::CurrencyMismatch { .. } => "currency_mismatch",
        }
    }
}

/// An amount of money: an integer count of the currency's minor unit as Stripe's API defines it
/// ([`Currency::api_exponent`]), so `minor` is exactly the `amount` sent to or received from
/// Stripe. 20.00 EUR is `2000`, 500 JPY is `500`, 5 ISK is `500`.
///
/// Any `i64` is a valid `Money` (balances and adjustments can be negative); whether Stripe will
/// charge it is [`Money::check_chargeable`]'s question. Serializes as
/// `{"minor": 2000, "currency": "eur"}`; displays as `20.00 eur`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in the currency's API minor unit.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount of `minor` minor units of `currency` (`Money::new(2000, Currency::EUR)` is
    /// 20.00 EUR).
    pub const fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Parses a decimal amount exactly: `"20.5"` EUR is `2050`, `"500"` JPY is `500`, `"5"` ISK
    /// is `500`, `"5.124"` KWD is `5124`.
    ///
    /// Accepts ASCII digits with an optional leading `-` and at most one `.` with digits on both
    /// sides, and at most [`Currency::api_exponent`] decimals. Rejects everything else as an
    /// error, never a rounding: `+`, exponents, spaces, separators, an empty string, text longer
    /// than 40 bytes ([`MoneyError::InputTooLong`]), too many decimals
    /// ([`MoneyError::TooManyFractionDigits`]) and amounts outside `i64` ([`MoneyError::Overflow`]).
    /// A parsed amount need not be chargeable (`"5.5"` ISK parses); see
    /// [`Money::check_chargeable`].
    pub fn from_decimal_str(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        if text.len() > MAX_DECIMAL_LEN {
            return Err(MoneyError::InputTooLong {
                len: text.len(),
                max: MAX_DECIMAL_LEN,
            });
        }
        if text.is_empty() {
            return Err(MoneyError::EmptyAmount);
        }
        let invalid = |reason| MoneyError::InvalidDecimal {
            input: String::from(text),
            reason,
        };
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if let Some(reason) = first_problem(body) {
            return Err(invalid(reason));
        }
        let (whole, fraction) = match body.split_once('.') {
            Some((whole, fraction)) if whole.is_empty() || fraction.is_empty() => {
                return Err(invalid("digits are needed before and after the '.'"));
            }
            Some(parts) => parts,
            None if body.is_empty() => return Err(invalid("digits are needed after the '-'")),
            None => (body, ""),
        };
        let exponent = currency.api_exponent();
        if fraction.len() > usize::from(exponent) {
            return Err(MoneyError::TooManyFractionDigits {
                currency,
                max: exponent,
            });
        }
        let padding = usize::from(exponent) - fraction.len();
        let digits = whole
            .bytes()
            .chain(fraction.bytes())
            .chain(core::iter::repeat_n(b'0', padding));
        let mut magnitude: u64 = 0;
        for digit in digits {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(digit.wrapping_sub(b'0'))))
                .ok_or(MoneyError::Overflow)?;
        }
        let minor = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        minor
            .map(|minor| Money { minor, currency })
            .ok_or(MoneyError::Overflow)
    }

    /// The amount as a decimal with exactly [`Currency::api_exponent`] decimals: `"20.00"`,
    /// `"500"` (JPY), `"5.120"` (KWD), `"-0.01"`. The exact inverse of
    /// [`Money::from_decimal_str`].
    pub fn to_decimal_string(&self) -> String {
        Decimal::of(self.minor, self.currency).to_string()
    }

    /// Checks that Stripe will accept this as a charge amount: greater than zero, at least
    /// [`Currency::minimum_charge`] (when the table knows it; the real minimum depends on the
    /// settlement currency), a multiple of [`Currency::charge_step`] and at most
    /// [`Currency::max_amount`].
    pub fn check_chargeable(&self) -> Result<(), MoneyError> {
        let Money {
            minor: amount,
            currency,
        } = *self;
        check_positive(amount, currency)?;
        if let Some(minimum) = currency.minimum_charge()
            && amount < minimum
        {
            return Err(MoneyError::BelowMinimum {
                amount,
                minimum,
                currency,
            });
        }
        check_step(amount, currency)?;
        let maximum = currency.max_amount();
        if amount > maximum {
            return Err(MoneyError::AboveMaximum {
                amount,
                maximum,
                currency,
            });
        }
        Ok(())
    }

    /// Checks that Stripe will accept this as a refund of a payment with `refundable` minor units
    /// left to refund: greater than zero, at most `refundable` and a multiple of
    /// [`Currency::charge_step`] (so an old fractional ISK charge is refunded in whole krónur).
    pub fn check_refund(&self, refundable: i64) -> Result<(), MoneyError> {
        let Money {
            minor: requested,
            currency,
        } = *self;
        check_positive(requested, currency)?;
        if requested > refundable {
            return Err(MoneyError::ExceedsRefundable {
                requested,
                refundable,
                currency,
            });
        }
        check_step(requested, currency)
    }

    /// The sum of two amounts in the same currency.
    ///
    /// Returns [`MoneyError::CurrencyMismatch`] for different currencies and
    /// [`MoneyError::Overflow`] when the sum leaves `i64`.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    /// The difference of two amounts in the same currency.
    ///
    /// Returns [`MoneyError::CurrencyMismatch`] for different currencies and
    /// [`MoneyError::Overflow`] when the difference leaves `i64`.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    /// Rounds to the nearest multiple of [`Currency::charge_step`], half away from zero.
    ///
    /// This is the rounding Stripe asks for in three-decimal currencies (5.124 KWD → 5.120,
    /// 5.125 KWD → 5.130, -5.125 → -5.130) and gives whole units in ISK and UGX (5.50 ISK →
    /// 6.00). Other currencies are returned unchanged. In the one case where rounding away from
    /// zero would leave `i64` (within a step of `i64::MAX` or `i64::MIN`) it rounds toward zero
    /// instead, so the result is always a multiple of the step.
    pub fn round_to_step(&self) -> Money {
        // In `i64`: the remainder is below the step, so only the step away from zero can leave
        // the range, and then the value toward zero is kept.
        let step = self.currency.charge_step();
        let remainder = self.minor % step;
        let toward_zero = self.minor - remainder;
        let minor = if 2 * remainder.abs() >= step {
            toward_zero.checked_add(step * self.minor.signum()).unwrap_or(toward_zero)
        } else {
            toward_zero
        };
        Money {
            minor,
            currency: self.currency,
        }
    }

    fn same_currency(self, other: Money) -> Result<Currency, MoneyError> {
        if self.currency == other.currency {
            Ok(self.currency)
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    /// `20.00 eur`, `500 jpy`, `-5.120 kwd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            Decimal::of(self.minor, self.currency),
            self.currency
        )
    }
}

/// The longest decimal text [`Money::from_decimal_str`] reads; `i64::MIN` in a two-decimal
/// currency takes 21 bytes.
const MAX_DECIMAL_LEN: usize = 40;

/// The first thing in `body` (the text after an optional leading `-`) that is not a digit or the
/// first `.`, described for a person.
fn first_problem(body: &str) -> Option<&'static str> {
    let mut seen_dot = false;
    for c in body.chars() {
        let reason = match c {
            '0'..='9' => continue,
            '.' if !seen_dot => {
                seen_dot = true;
                continue;
            }
            '.' => "only one '.' is allowed",
            '+' => "a '+' sign is not allowed",
            '-' => "a '-' sign is allowed only at the start",
            'e' | 'E' => "exponents are not allowed",
            ',' | '_' | '\'' => "use '.' for decimals and no thousands separators",
            c if c.is_whitespace() => "spaces are not allowed",
            _ => "only digits, one '.' and a leading '-' are allowed",
        };
        return Some(reason);
    }
    None
}

fn check_positive(amount: i64, currency: Currency) -> Result<(), MoneyError> {
    match amount {
        0 => Err(MoneyError::ZeroAmount { currency }),
        ..0 => Err(MoneyError::Negative { amount, currency }),
        _ => Ok(()),
    }
}

fn check_step(amount: i64, currency: Currency) -> Result<(), MoneyError> {
    let step = currency.charge_step();
    if amount.checked_rem(step) == Some(0) {
        Ok(())
    } else {
        Err(MoneyError::NotMultipleOf {
            amount,
            step,
            currency,
        })
    }
}

/// A count of minor units written as a decimal with the currency's exponent. Holds an `i128` so
/// it can also show values just outside `i64` (rounding suggestions in error messages), and
/// writes its magnitude with `u64` arithmetic: every value it is given is within a step of
/// `i64`, so the magnitude is below 2^64 (128-bit division and formatting were 2.6 KB of the
/// WebAssembly component).
struct Decimal {
    value: i128,
    exponent: u8,
}

impl Decimal {
    fn of(minor: i64, currency: Currency) -> Decimal {
        Decimal {
            value: i128::from(minor),
            exponent: currency.api_exponent(),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = u64::try_from(self.value.unsigned_abs()).unwrap_or(u64::MAX);
        let sign = if self.value < 0 { "-" } else { "" };
        let width = usize::from(self.exponent);
        match 10u64.checked_pow(u32::from(self.exponent)) {
            Some(scale) if width > 0 => {
                write!(
                    f,
                    "{sign}{}.{:0width$}",
                    magnitude / scale,
                    magnitude % scale
                )
            }
            _ => write!(f, "{sign}{magnitude}"),
        }
    }
}

/// The "; round to 5.120 or 5.130" tail of [`MoneyError::NotMultipleOf`]'s message: the nearest
/// multiples of the step on either side. Empty when there is nothing sensible to suggest.
struct StepHint {
    amount: i64,
    step: i64,
    currency: Currency,
}

impl fmt::Display for StepHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (amount, step) = (self.amount, self.step);
        if step <= 0 || amount % step == 0 {
            return Ok(());
        }
        // Can fall just below `i64::MIN`; the remainder is taken in `i64`.
        let below = i128::from(amount) - i128::from(amount.rem_euclid(step));
        let step = i128::from(step);
        let exponent = self.currency.api_exponent();
        let (below, above) = (
            Decimal {
                value: below,
                exponent,
            },
            Decimal {
                value: below + step,
                exponent,
            },
        );
        write!(f, "; round to {below} or {above}")
    }
}

#[cfg(test)]
mod tests;
