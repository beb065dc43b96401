//! Fuzzes decimal amounts: the first three bytes are a currency code, the rest the text. A
//! parsed amount must print back to text that parses to the same amount, and the checks on it
//! must answer without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhook_core::money::{Currency, Money};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(code) = text.get(..3) else { return };
    let Ok(currency) = Currency::parse(code) else { return };
    let Ok(money) = Money::from_decimal_str(&text[3..], currency) else { return };
    let printed = money.to_decimal_string();
    assert_eq!(Money::from_decimal_str(&printed, currency), Ok(money), "{printed}");
    let _ = money.check_chargeable();
    let _ = money.check_refund(money.minor);
    let _ = money.checked_add(money);
    let _ = money.checked_sub(money);
    let _ = money.round_to_step();
});
