//! ISO 4217 currency codes and Stripe's per-currency rules: minor-unit exponent, the step an
//! amount must be a multiple of, minimum charge and maximum amount.
//!
//! Every rule here comes from Stripe's "Supported currencies" page, kept in the project as
//! `tests/fixtures/stripe-currencies.json`; the tests below compare all 17,576 possible codes
//! against that table, so the two cannot drift apart.

use core::fmt;
use core::str::FromStr;

use alloc::string::String;

use super::MoneyError;

/// A currency, as the three-letter ISO 4217 code Stripe uses, stored in lower case (`"usd"`).
///
/// Any three ASCII letters are accepted: Stripe's list of presentment currencies is long and
/// changes, so an unsupported code is Stripe's to reject, not ours. What this crate knows about a
/// code is its rules ([`Currency::api_exponent`], [`Currency::charge_step`], ...), and those
/// default to a plain two-decimal currency.
///
/// Serializes as the lower-case code; deserializes from a code in any case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// United States dollar.
    pub const USD: Currency = Currency(*b"usd");
    /// Euro.
    pub const EUR: Currency = Currency(*b"eur");
    /// Pound sterling.
    pub const GBP: Currency = Currency(*b"gbp");
    /// Swiss franc.
    pub const CHF: Currency = Currency(*b"chf");
    /// Canadian dollar.
    pub const CAD: Currency = Currency(*b"cad");
    /// Australian dollar.
    pub const AUD: Currency = Currency(*b"aud");
    /// Mexican peso.
    pub const MXN: Currency = Currency(*b"mxn");
    /// Japanese yen: zero-decimal (500 JPY is `500`).
    pub const JPY: Currency = Currency(*b"jpy");
    /// South Korean won: zero-decimal.
    pub const KRW: Currency = Currency(*b"krw");
    /// Kuwaiti dinar: three-decimal, last digit must be 0.
    pub const KWD: Currency = Currency(*b"kwd");
    /// Bahraini dinar: three-decimal, last digit must be 0.
    pub const BHD: Currency = Currency(*b"bhd");
    /// Jordanian dinar: three-decimal, last digit must be 0.
    pub const JOD: Currency = Currency(*b"jod");
    /// Omani rial: three-decimal, last digit must be 0.
    pub const OMR: Currency = Currency(*b"omr");
    /// Tunisian dinar: three-decimal, last digit must be 0.
    pub const TND: Currency = Currency(*b"tnd");
    /// Icelandic króna: sent as two decimals that are always `00` (5 ISK is `500`).
    pub const ISK: Currency = Currency(*b"isk");
    /// Ugandan shilling: sent as two decimals that are always `00` (5 UGX is `500`).
    pub const UGX: Currency = Currency(*b"ugx");
    /// Hungarian forint: two-decimal for charges, whole forints for payouts.
    pub const HUF: Currency = Currency(*b"huf");
    /// New Taiwan dollar: two-decimal for charges, whole dollars for payouts.
    pub const TWD: Currency = Currency(*b"twd");
    /// Indonesian rupiah: amounts of up to 12 digits.
    pub const IDR: Currency = Currency(*b"idr");
    /// Indian rupee: amounts of up to 9 digits.
    pub const INR: Currency = Currency(*b"inr");

    /// Parses a three-letter currency code in any case (`"usd"`, `"USD"`, `"Usd"`).
    ///
    /// Returns [`MoneyError::InvalidCurrencyCode`] for anything but exactly three ASCII letters.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => Ok(Currency([
                a.to_ascii_lowercase(),
                b.to_ascii_lowercase(),
                c.to_ascii_lowercase(),
            ])),
            _ => Err(MoneyError::InvalidCurrencyCode {
                code: code.chars().take(MAX_ECHOED_CODE_CHARS).collect::<String>(),
            }),
        }
    }

    /// The lower-case code, as Stripe's API expects it (`"usd"`).
    pub fn as_str(&self) -> &str {
        // The bytes are lower-case ASCII letters by construction, so this never falls back.
        core::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// The number of decimals in Stripe's API minor unit: `amount = major × 10^exponent`.
    ///
    /// 0 for Stripe's zero-decimal currencies (JPY, KRW, ...), 3 for the three-decimal ones (KWD,
    /// BHD, JOD, OMR, TND) and 2 for every other currency, *including* ISK and UGX: both are
    /// zero-decimal in reality but Stripe still takes them as two-decimal values whose decimals are
    /// always `00` (see [`Currency::charge_step`]). Stripe's page also lists UGX as zero-decimal;
    /// its special-case table, which says 5 UGX is sent as `500`, is what this follows.
    pub fn api_exponent(self) -> u8 {
        match &self.0 {
            b"bif" | b"clp" | b"djf" | b"gnf" | b"jpy" | b"kmf" | b"krw" | b"mga" | b"pyg"
            | b"rwf" | b"vnd" | b"vuv" | b"xaf" | b"xof" | b"xpf" => 0,
            b"bhd" | b"jod" | b"kwd" | b"omr" | b"tnd" => 3,
            _ => 2,
        }
    }

    /// The granularity, in minor units, that a charge or refund amount must be a multiple of.
    ///
    /// 10 for three-decimal currencies (Stripe requires the last digit to be 0), 100 for ISK and
    /// UGX (whole units sent as two-decimal values), 1 otherwise.
    pub fn charge_step(self) -> i64 {
        match &self.0 {
            b"bhd" | b"jod" | b"kwd" | b"omr" | b"tnd" => 10,
            b"isk" | b"ugx" => 100,
            _ => 1,
        }
    }

    /// The granularity, in minor units, that a manual payout amount must be a multiple of.
    ///
    /// 100 for HUF and TWD, which Stripe treats as zero-decimal for payouts although they are
    /// charged with two decimals (a balance of HUF 10.45 pays out `1000`); otherwise the same as
    /// [`Currency::charge_step`].
    pub fn payout_step(self) -> i64 {
        match &self.0 {
            b"huf" | b"twd" => 100,
            _ => self.charge_step(),
        }
    }

    /// Stripe's minimum charge in this currency, in minor units, when this currency is also the
    /// settlement currency (the currency of the bank account that receives the payout).
    ///
    /// `None` for currencies Stripe's table does not list. The real minimum depends on the
    /// settlement currency: a charge in another currency must be worth at least the settlement
    /// currency's minimum after conversion (a GBP account needs any USD charge to convert to at
    /// least GBP 0.30), which needs an exchange rate this crate does not have. Some payment
    /// methods (iDEAL) allow less, and subscriptions may charge 0.
    pub fn minimum_charge(self) -> Option<i64> {
        let minor = match &self.0 {
            b"usd" | b"aud" | b"brl" | b"cad" | b"chf" | b"eur" | b"inr" | b"jpy" | b"nzd"
            | b"sgd" => 50,
            b"gbp" => 30,
            b"bgn" => 100,
            b"aed" | b"myr" | b"pln" | b"ron" => 200,
            b"dkk" => 250,
            b"nok" | b"sek" => 300,
            b"hkd" => 400,
            b"mxn" | b"thb" => 1000,
            b"czk" => 1500,
            b"huf" => 17500,
            _ => return None,
        };
        Some(minor)
    }

    /// The largest amount, in minor units, that Stripe's amount field accepts in this currency.
    ///
    /// Eight digits (`99_999_999`) by default; IDR 12 digits and INR 9. LBP (11), COP, HUF and
    /// JPY (10 each) take more digits for card payments, and this returns that higher card limit.
    /// Stripe's page prints example maximums for those four that disagree with its own digit
    /// counts; the digit count is what sets the limit, so that is what this uses. Payment
    /// methods and card networks may allow less (IDR with American Express: 9 digits; JPY with
    /// JCB, Diners Club or Discover on Japanese accounts: 8), which Stripe enforces.
    pub fn max_amount(self) -> i64 {
        match &self.0 {
            b"idr" => 999_999_999_999,
            b"lbp" => 99_999_999_999,
            b"cop" | b"huf" | b"jpy" => 9_999_999_999,
            b"inr" => 999_999_999,
            _ => 99_999_999,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({:?})", self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Currency, MoneyError> {
        Currency::parse(code)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Currency, D::Error> {
        deserializer.deserialize_str(CodeVisitor)
    }
}

/// What a currency is read from, as an error says it.
pub(crate) const CURRENCY_EXPECTED: &str = "a three-letter ISO 4217 currency code such as \"usd\"";

/// How much of a rejected currency code an error repeats back.
const MAX_ECHOED_CODE_CHARS: usize = 12;

struct CodeVisitor;

impl serde::de::Visitor<'_> for CodeVisitor {
    type Value = Currency;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(CURRENCY_EXPECTED)
    }

    fn visit_str<E: serde::de::Error>(self, code: &str) -> Result<Currency, E> {
        Currency::parse(code).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests;
