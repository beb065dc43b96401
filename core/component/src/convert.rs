//! Core values to WIT values and back, for the exports wit-bindgen's glue serves (`abi` lowers
//! the webhook exports' results itself). One function per type; no logic beyond the mapping.

use alloc::string::ToString;

use crate::exports::payhook::engine::webhook as wit;
use crate::exports::payhook::engine::types::{self as wit_types, Money, MoneyError};
use payhook_core::money;

pub(crate) fn money(m: money::Money) -> Money {
    Money { minor: m.minor, currency: m.currency.as_str().to_string() }
}

pub(crate) fn core_money(m: &Money) -> Result<money::Money, money::MoneyError> {
    Ok(money::Money::new(m.minor, money::Currency::parse(&m.currency)?))
}

pub(crate) fn money_error(e: money::MoneyError) -> MoneyError {
    MoneyError { code: e.code().to_string(), message: e.to_string() }
}

payhook_core::wit_fact_conversions!();
