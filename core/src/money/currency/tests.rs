//! The currency table tests: every entry of Stripe's table (`tests/fixtures/stripe-currencies.json`)
//! must agree with the rules in `currency.rs`, for all 17,576 possible codes.

use super::*;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use proptest::prelude::*;
use serde_json::Value;

use crate::money::Money;

const TABLE: &str = include_str!("../../../../tests/fixtures/stripe-currencies.json");

fn table() -> Value {
    serde_json::from_str(TABLE).expect("tests/fixtures/stripe-currencies.json is valid JSON")
}

fn code_list(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list of currency codes")
        .iter()
        .map(|c| c.as_str().expect("a currency code").to_string())
        .collect()
}

fn cur(code: &str) -> Currency {
    Currency::parse(code).expect("the table holds valid codes")
}

/// What the table says about each currency, derived from the JSON alone.
struct Expected {
    zero: BTreeSet<Currency>,
    three: BTreeSet<Currency>,
    three_exponent: u8,
    three_step: i64,
    /// Special cases sent as two-decimal values whose decimals are always `00`.
    whole_units: BTreeSet<Currency>,
    /// Special cases that are zero-decimal for payouts only.
    whole_payouts: BTreeSet<Currency>,
    minimum: BTreeMap<Currency, i64>,
    default_max: i64,
    max: BTreeMap<Currency, i64>,
}

impl Expected {
    fn exponent(&self, c: Currency) -> u8 {
        if self.whole_units.contains(&c) {
            2
        } else if self.zero.contains(&c) {
            0
        } else if self.three.contains(&c) {
            self.three_exponent
        } else {
            2
        }
    }

    fn charge_step(&self, c: Currency) -> i64 {
        if self.whole_units.contains(&c) {
            100
        } else if self.three.contains(&c) {
            self.three_step
        } else {
            1
        }
    }

    fn payout_step(&self, c: Currency) -> i64 {
        if self.whole_payouts.contains(&c) {
            100
        } else {
            self.charge_step(c)
        }
    }

    fn max_amount(&self, c: Currency) -> i64 {
        self.max.get(&c).copied().unwrap_or(self.default_max)
    }
}

fn all_nines(digits: u32) -> i64 {
    10i64.pow(digits) - 1
}

/// "10 digits, max ..." -> 10.
fn leading_digit_count(text: &str) -> u32 {
    let mut words = text.split(' ');
    let n = words.next().and_then(|n| n.parse().ok());
    assert_eq!(
        words.next(),
        Some("digits,"),
        "unexpected limit text {text:?}"
    );
    n.unwrap_or_else(|| panic!("no digit count in {text:?}"))
}

fn expected() -> Expected {
    let t = table();
    let zero = code_list(&t["zero_decimal"]["currencies"])
        .iter()
        .map(|c| cur(c))
        .collect();
    let three = code_list(&t["three_decimal"]["currencies"])
        .iter()
        .map(|c| cur(c))
        .collect();
    let divisor = t["three_decimal"]["divisor"].as_i64().expect("divisor");
    let three_exponent = match divisor {
        1000 => 3,
        other => panic!("three-decimal divisor {other} is not 1000"),
    };
    let three_step = t["three_decimal"]["amount_must_be_multiple_of"]
        .as_i64()
        .expect("step");

    let mut whole_units = BTreeSet::new();
    let mut whole_payouts = BTreeSet::new();
    for (code, text) in t["special_cases"].as_object().expect("special cases") {
        let text = text.as_str().expect("special case text");
        let mut understood = false;
        if text.contains("two-decimal value whose decimals are always 00") {
            whole_units.insert(cur(code));
            understood = true;
        }
        if text.contains("zero-decimal for payouts") && text.contains("divisible by 100") {
            whole_payouts.insert(cur(code));
            understood = true;
        }
        assert!(
            understood,
            "special case {code} is not handled by the money module: {text}"
        );
    }

    let minimum = t["minimum_charge_amount"]["by_settlement_currency"]
        .as_object()
        .expect("minimum table")
        .iter()
        .map(|(code, m)| (cur(code), m["minor_units"].as_i64().expect("minor_units")))
        .collect();

    let limits = t["maximum_amount_digits"]
        .as_object()
        .expect("digit limits");
    let mut default_max = 0;
    let mut max = BTreeMap::new();
    for (key, v) in limits {
        match key.as_str() {
            "rule" | "note_on_card_limits" => {}
            "default" | "IDR" | "INR" => {
                let digits = v["digits"].as_u64().expect("digits") as u32;
                let value = v["max_amount"].as_i64().expect("max_amount");
                assert_eq!(
                    value,
                    all_nines(digits),
                    "{key}: digits and max_amount disagree"
                );
                match key.as_str() {
                    "default" => default_max = value,
                    code => {
                        max.insert(cur(code), value);
                    }
                }
            }
            // Card-network limits lower than the currency's own are Stripe's to enforce.
            "IDR_with_american_express" => {
                let value = v["max_amount"].as_i64().expect("max_amount");
                assert!(
                    value <= Currency::IDR.max_amount(),
                    "{key}: above IDR's limit"
                );
            }
            "card_payments_higher_limits_as_printed" => {
                for (code, text) in v.as_object().expect("card limits") {
                    let text = text.as_str().expect("card limit text");
                    max.insert(cur(code), all_nines(leading_digit_count(text)));
                }
            }
            other => panic!("maximum_amount_digits.{other} is not handled by the money module"),
        }
    }

    Expected {
        zero,
        three,
        three_exponent,
        three_step,
        whole_units,
        whole_payouts,
        minimum,
        default_max,
        max,
    }
}

/// "AAA" to "ZZZ".
fn every_code() -> impl Iterator<Item = String> {
    (0u32..26 * 26 * 26).map(|i| {
        let letter = |n: u32| char::from(b'A' + (n % 26) as u8);
        [letter(i / 676), letter(i / 26), letter(i)]
            .iter()
            .collect()
    })
}

#[test]
fn the_table_is_read_whole() {
    let e = expected();
    assert_eq!(e.zero.len(), 16);
    assert_eq!(e.three.len(), 5);
    assert_eq!(e.whole_units.len() + e.whole_payouts.len(), 4);
    assert_eq!(e.minimum.len(), 24);
    assert_eq!(e.default_max, 99_999_999);
    assert_eq!(e.max.len(), 6);
}

#[test]
fn every_code_agrees_with_the_table() {
    let e = expected();
    let mut checked = 0;
    for code in every_code() {
        let c = Currency::parse(&code).expect("three letters");
        assert_eq!(c.as_str(), code.to_ascii_lowercase());
        assert_eq!(c.api_exponent(), e.exponent(c), "api_exponent of {c}");
        assert_eq!(c.charge_step(), e.charge_step(c), "charge_step of {c}");
        assert_eq!(c.payout_step(), e.payout_step(c), "payout_step of {c}");
        assert_eq!(
            c.minimum_charge(),
            e.minimum.get(&c).copied(),
            "minimum_charge of {c}"
        );
        assert_eq!(c.max_amount(), e.max_amount(c), "max_amount of {c}");
        checked += 1;
    }
    assert_eq!(checked, 26 * 26 * 26);
}

#[test]
fn every_zero_and_three_decimal_entry_by_name() {
    let t = table();
    for code in code_list(&t["zero_decimal"]["currencies"]) {
        let c = cur(&code);
        if code == "UGX" {
            // The page contradicts itself; the special case wins (5 UGX -> 500).
            assert_eq!((c.api_exponent(), c.charge_step()), (2, 100));
        } else {
            assert_eq!((c.api_exponent(), c.charge_step()), (0, 1), "{code}");
        }
    }
    for code in code_list(&t["three_decimal"]["currencies"]) {
        assert_eq!(
            (cur(&code).api_exponent(), cur(&code).charge_step()),
            (3, 10),
            "{code}"
        );
    }
    assert!(!code_list(&t["zero_decimal"]["currencies"]).contains(&"ISK".to_string()));
}

#[test]
fn minimum_display_strings_agree_with_their_minor_units() {
    let t = table();
    let minimums = t["minimum_charge_amount"]["by_settlement_currency"]
        .as_object()
        .unwrap();
    for (code, m) in minimums {
        let display = m["display"].as_str().unwrap();
        let number: String = display
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let number = number.trim_end_matches('.');
        let parsed = Money::from_decimal_str(number, cur(code)).unwrap();
        assert_eq!(
            Some(parsed.minor),
            m["minor_units"].as_i64(),
            "{code} {display}"
        );
        assert_eq!(
            parsed.check_chargeable(),
            Ok(()),
            "{code}: the minimum is chargeable"
        );
    }
}

/// Finds "5 ISK -> 500" and "1000 = 10.00 USD" in every text of the table.
fn worked_examples(v: &Value, out: &mut Vec<(String, String, i64)>) {
    match v {
        Value::String(s) => {
            let words: Vec<&str> = s
                .split_whitespace()
                .map(|w| w.trim_matches(|c: char| "(),;:.".contains(c)))
                .collect();
            for w in words.windows(4) {
                let is_code = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase());
                let (amount, code, minor) = match w {
                    [a, c, "->", m] if is_code(c) => (a, c, m),
                    [m, "=", a, c] if is_code(c) => (a, c, m),
                    _ => continue,
                };
                if let Ok(minor) = minor.parse() {
                    out.push((amount.to_string(), code.to_string(), minor));
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| worked_examples(i, out)),
        Value::Object(map) => map.values().for_each(|i| worked_examples(i, out)),
        _ => {}
    }
}

#[test]
fn worked_examples_in_the_table_parse_to_their_amounts() {
    let mut examples = Vec::new();
    worked_examples(&table(), &mut examples);
    let found: Vec<String> = examples
        .iter()
        .map(|(a, c, m)| format!("{a} {c} {m}"))
        .collect();
    for must in [
        "500 JPY 500",
        "5 ISK 500",
        "5 UGX 500",
        "10.00 USD 1000",
        "10 JPY 10",
    ] {
        assert!(
            found.iter().any(|f| f == must),
            "example {must:?} not found in {found:?}"
        );
    }
    for (amount, code, minor) in examples {
        let m = Money::from_decimal_str(&amount, cur(&code)).unwrap();
        assert_eq!(m.minor, minor, "{amount} {code}");
    }
}

#[test]
fn payout_examples_of_the_special_cases() {
    // "balance HUF 10.45 -> pay out 1000", "balance TWD 800.45 -> pay out 80000"
    for (balance, currency, payout) in [
        ("10.45", Currency::HUF, 1000),
        ("800.45", Currency::TWD, 80000),
    ] {
        let b = Money::from_decimal_str(balance, currency).unwrap().minor;
        assert_eq!(b - b % currency.payout_step(), payout);
        assert_eq!(
            b % currency.charge_step(),
            0,
            "{currency} is charged with two decimals"
        );
    }
}

#[test]
fn parse_accepts_any_case_and_rejects_everything_else() {
    assert_eq!(Currency::parse("USD"), Ok(Currency::USD));
    assert_eq!(Currency::parse("uSd"), Ok(Currency::USD));
    assert_eq!("eur".parse::<Currency>(), Ok(Currency::EUR));
    for bad in [
        "",
        "us",
        "usdx",
        "us1",
        "u d",
        "usd ",
        "üsd",
        "€",
        "é",
        "12345678901234567890",
    ] {
        assert!(
            matches!(
                Currency::parse(bad),
                Err(MoneyError::InvalidCurrencyCode { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn display_debug_and_serde() {
    assert_eq!(Currency::JPY.to_string(), "jpy");
    assert_eq!(format!("{:>5}", Currency::JPY), "  jpy");
    assert_eq!(format!("{:?}", Currency::JPY), "Currency(\"jpy\")");
    assert_eq!(serde_json::to_string(&Currency::KWD).unwrap(), "\"kwd\"");
    assert_eq!(
        serde_json::from_str::<Currency>("\"KWD\"").unwrap(),
        Currency::KWD
    );
    let v = serde_json::Value::String("kwd".to_string());
    assert_eq!(
        serde_json::from_value::<Currency>(v).unwrap(),
        Currency::KWD
    );
    let err = serde_json::from_str::<Currency>("\"dollars\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid currency code \"dollars\""),
        "{err}"
    );
    assert!(serde_json::from_str::<Currency>("12").is_err());
}

proptest! {
    #[test]
    fn any_three_letters_round_trip(code in "[a-zA-Z]{3}") {
        let c = Currency::parse(&code).unwrap();
        prop_assert_eq!(c.as_str(), code.to_ascii_lowercase());
        prop_assert_eq!(Currency::parse(c.as_str()), Ok(c));
        let json = serde_json::to_string(&c).unwrap();
        prop_assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), c);
    }

    #[test]
    fn parse_never_panics(code in "\\PC{0,8}") {
        let _ = Currency::parse(&code);
    }
}
