//! Tests of [`Money`]: exact parsing and printing, the chargeability rules and every error message.
//! The currency table itself is tested in `currency.rs`.

use super::*;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

fn money(text: &str, currency: Currency) -> Money {
    Money::from_decimal_str(text, currency).unwrap()
}

fn err(text: &str, currency: Currency) -> MoneyError {
    Money::from_decimal_str(text, currency).unwrap_err()
}

#[test]
fn jpy_is_never_charged_a_hundred_times() {
    let m = money("500", Currency::JPY);
    assert_eq!(m.minor, 500);
    assert_eq!(m.to_decimal_string(), "500");
    assert_eq!(m.to_string(), "500 jpy");
    assert_eq!(m.check_chargeable(), Ok(()));
}

#[test]
fn parses_exactly_into_the_api_minor_unit() {
    let cases = [
        ("20.00", Currency::EUR, 2000),
        ("20", Currency::EUR, 2000),
        ("20.5", Currency::EUR, 2050),
        ("0.01", Currency::USD, 1),
        ("-0.01", Currency::USD, -1),
        ("-0", Currency::USD, 0),
        ("007.50", Currency::GBP, 750),
        ("500", Currency::JPY, 500),
        ("5.124", Currency::KWD, 5124),
        ("5.12", Currency::KWD, 5120),
        ("5", Currency::KWD, 5000),
        ("5", Currency::ISK, 500),
        ("5.5", Currency::ISK, 550),
        ("5", Currency::UGX, 500),
        ("10.45", Currency::HUF, 1045),
        ("92233720368547758.07", Currency::EUR, i64::MAX),
        ("-92233720368547758.08", Currency::EUR, i64::MIN),
        ("9223372036854775807", Currency::JPY, i64::MAX),
        ("-9223372036854775808", Currency::JPY, i64::MIN),
        ("-9223372036854775.808", Currency::KWD, i64::MIN),
    ];
    for (text, currency, minor) in cases {
        assert_eq!(
            Money::from_decimal_str(text, currency),
            Ok(Money::new(minor, currency)),
            "{text}"
        );
    }
}

#[test]
fn prints_with_exactly_the_currency_exponent() {
    let cases = [
        (Money::new(2000, Currency::EUR), "20.00"),
        (Money::new(5, Currency::EUR), "0.05"),
        (Money::new(-5, Currency::EUR), "-0.05"),
        (Money::new(0, Currency::EUR), "0.00"),
        (Money::new(500, Currency::JPY), "500"),
        (Money::new(-500, Currency::JPY), "-500"),
        (Money::new(5120, Currency::KWD), "5.120"),
        (Money::new(500, Currency::ISK), "5.00"),
        (Money::new(i64::MAX, Currency::EUR), "92233720368547758.07"),
        (Money::new(i64::MIN, Currency::EUR), "-92233720368547758.08"),
        (Money::new(i64::MIN, Currency::JPY), "-9223372036854775808"),
    ];
    for (m, text) in cases {
        assert_eq!(m.to_decimal_string(), text);
        assert_eq!(m.to_string(), format!("{text} {}", m.currency));
    }
}

#[test]
fn serializes_as_minor_units_and_lowercase_code() {
    let m = Money::new(2000, Currency::EUR);
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(json, r#"{"minor":2000,"currency":"eur"}"#);
    assert_eq!(
        serde_json::from_str::<Money>(r#"{"minor":2000,"currency":"EUR"}"#).unwrap(),
        m
    );
    assert!(serde_json::from_str::<Money>(r#"{"minor":20.5,"currency":"eur"}"#).is_err());
}

#[test]
fn chargeable_amounts() {
    let ok = [
        ("0.50", Currency::EUR),
        ("0.30", Currency::GBP),
        ("50", Currency::JPY),
        ("5.120", Currency::KWD),
        ("0.010", Currency::KWD),
        ("5", Currency::ISK),
        ("5", Currency::UGX),
        ("175.00", Currency::HUF),
        ("0.01", Currency::TWD),
        ("999999.99", Currency::USD),
        ("9999999999", Currency::JPY),
        ("9999999999.99", Currency::IDR),
    ];
    for (text, currency) in ok {
        assert_eq!(
            money(text, currency).check_chargeable(),
            Ok(()),
            "{text} {currency}"
        );
    }
}

#[test]
fn isk_fractions_and_kwd_last_digits_parse_but_are_not_chargeable() {
    let isk = money("5.5", Currency::ISK);
    assert_eq!(isk.minor, 550);
    assert!(matches!(
        isk.check_chargeable(),
        Err(MoneyError::NotMultipleOf { step: 100, .. })
    ));
    assert_eq!(isk.round_to_step(), Money::new(600, Currency::ISK));

    let kwd = money("5.124", Currency::KWD);
    assert!(matches!(
        kwd.check_chargeable(),
        Err(MoneyError::NotMultipleOf { step: 10, .. })
    ));
    assert_eq!(kwd.round_to_step().check_chargeable(), Ok(()));
}

#[test]
fn round_to_step_is_half_away_from_zero() {
    let cases = [
        (5124, Currency::KWD, 5120),
        (5125, Currency::KWD, 5130),
        (5126, Currency::KWD, 5130),
        (5120, Currency::KWD, 5120),
        (-5124, Currency::KWD, -5120),
        (-5125, Currency::KWD, -5130),
        (549, Currency::ISK, 500),
        (550, Currency::ISK, 600),
        (-550, Currency::UGX, -600),
        (1045, Currency::HUF, 1045),
        (12345, Currency::EUR, 12345),
        (i64::MAX, Currency::KWD, 9_223_372_036_854_775_800),
        (i64::MIN, Currency::KWD, -9_223_372_036_854_775_800),
        (i64::MAX, Currency::ISK, 9_223_372_036_854_775_800),
        (i64::MIN, Currency::EUR, i64::MIN),
    ];
    for (minor, currency, rounded) in cases {
        assert_eq!(
            Money::new(minor, currency).round_to_step(),
            Money::new(rounded, currency),
            "{minor}"
        );
    }
}

#[test]
fn refunds() {
    let eur = |minor| Money::new(minor, Currency::EUR);
    assert_eq!(eur(2000).check_refund(2000), Ok(()));
    assert_eq!(eur(1).check_refund(2000), Ok(()));
    assert_eq!(
        eur(2001).check_refund(2000),
        Err(MoneyError::ExceedsRefundable {
            requested: 2001,
            refundable: 2000,
            currency: Currency::EUR
        })
    );
    assert_eq!(
        eur(1).check_refund(-5).unwrap_err().to_string(),
        "cannot refund 0.01 eur: only -0.05 eur is left to refund"
    );
    // An old fractional ISK charge of 5.50 is refunded in whole krónur.
    let isk = Money::new(500, Currency::ISK);
    assert_eq!(isk.check_refund(550), Ok(()));
    assert!(matches!(
        Money::new(550, Currency::ISK).check_refund(550),
        Err(MoneyError::NotMultipleOf { .. })
    ));
}

#[test]
fn arithmetic() {
    let eur = |minor| Money::new(minor, Currency::EUR);
    assert_eq!(eur(2000).checked_add(eur(50)), Ok(eur(2050)));
    assert_eq!(eur(2000).checked_sub(eur(2050)), Ok(eur(-50)));
    assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
    assert_eq!(eur(i64::MIN).checked_sub(eur(1)), Err(MoneyError::Overflow));
    assert_eq!(
        eur(1).checked_add(Money::new(1, Currency::USD)),
        Err(MoneyError::CurrencyMismatch {
            left: Currency::EUR,
            right: Currency::USD
        })
    );
    assert!(eur(1).checked_sub(Money::new(1, Currency::JPY)).is_err());
}

/// Every variant, with the message a user sees.
#[test]
fn error_messages() {
    let too_long = "1".repeat(41);
    let cases: Vec<(MoneyError, &str)> = vec![
        (
            Currency::parse("dollars").unwrap_err(),
            r#"invalid currency code "dollars": use a three-letter ISO 4217 code such as "usd""#,
        ),
        (
            Currency::parse("a-very-long-currency-name").unwrap_err(),
            r#"invalid currency code "a-very-long-": use a three-letter ISO 4217 code such as "usd""#,
        ),
        (
            err("", Currency::EUR),
            r#"the amount is empty: write a number such as "20.00""#,
        ),
        (
            err(&too_long, Currency::EUR),
            "the amount is 41 characters long: write at most 40",
        ),
        (
            err("+5", Currency::EUR),
            r#"invalid amount "+5": a '+' sign is not allowed; write a plain decimal such as "20.00""#,
        ),
        (
            err("1e3", Currency::EUR),
            r#"invalid amount "1e3": exponents are not allowed; write a plain decimal such as "20.00""#,
        ),
        (
            err(" 5", Currency::EUR),
            r#"invalid amount " 5": spaces are not allowed; write a plain decimal such as "20.00""#,
        ),
        (
            err("1,50", Currency::EUR),
            r#"invalid amount "1,50": use '.' for decimals and no thousands separators; write a plain decimal such as "20.00""#,
        ),
        (
            err("1.5.0", Currency::EUR),
            r#"invalid amount "1.5.0": only one '.' is allowed; write a plain decimal such as "20.00""#,
        ),
        (
            err("5-", Currency::EUR),
            r#"invalid amount "5-": a '-' sign is allowed only at the start; write a plain decimal such as "20.00""#,
        ),
        (
            err("-", Currency::EUR),
            r#"invalid amount "-": digits are needed after the '-'; write a plain decimal such as "20.00""#,
        ),
        (
            err("5.", Currency::EUR),
            r#"invalid amount "5.": digits are needed before and after the '.'; write a plain decimal such as "20.00""#,
        ),
        (
            err("€5", Currency::EUR),
            r#"invalid amount "€5": only digits, one '.' and a leading '-' are allowed; write a plain decimal such as "20.00""#,
        ),
        (
            err("500.5", Currency::JPY),
            "too many decimal places for jpy: it takes at most 0 (whole units only); remove the extra digits",
        ),
        (
            err("20.001", Currency::EUR),
            "too many decimal places for eur: it takes at most 2; remove the extra digits",
        ),
        (
            err("92233720368547758.08", Currency::EUR),
            "the amount is out of range: it must fit in a signed 64-bit count of minor units",
        ),
        (
            Money::new(0, Currency::EUR).check_chargeable().unwrap_err(),
            "the amount must be greater than zero, got 0.00 eur",
        ),
        (
            Money::new(-500, Currency::EUR)
                .check_refund(2000)
                .unwrap_err(),
            "the amount must be positive, got -5.00 eur",
        ),
        (
            Money::new(20, Currency::EUR)
                .check_chargeable()
                .unwrap_err(),
            "0.20 eur is below stripe's minimum charge of 0.50 eur: charge at least that much",
        ),
        (
            Money::new(100_000_000, Currency::USD)
                .check_chargeable()
                .unwrap_err(),
            "1000000.00 usd is above stripe's maximum of 999999.99 usd: charge at most that much",
        ),
        (
            Money::new(5124, Currency::KWD)
                .check_chargeable()
                .unwrap_err(),
            "5.124 kwd cannot be sent to stripe: kwd amounts must be a multiple of 0.010 kwd; round to 5.120 or 5.130",
        ),
        (
            Money::new(550, Currency::ISK)
                .check_chargeable()
                .unwrap_err(),
            "5.50 isk cannot be sent to stripe: isk amounts must be a multiple of 1.00 isk; round to 5.00 or 6.00",
        ),
        (
            Money::new(3000, Currency::EUR)
                .check_refund(2000)
                .unwrap_err(),
            "cannot refund 30.00 eur: only 20.00 eur is left to refund",
        ),
        (
            Money::new(1, Currency::EUR)
                .checked_add(Money::new(1, Currency::USD))
                .unwrap_err(),
            "cannot combine eur and usd amounts: convert them to one currency first",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message, "{error:?}");
    }
}

#[test]
fn rejects_malformed_decimals() {
    let bad = [
        "", "-", ".", "-.", ".5", "5.", "-.5", "--5", "+5", "5+", "1e3", "1E3", "5 ", " 5", "5\t",
        "1_000", "1,000.00", "1'000", "0x10", "NaN", "inf", "5.0.0", "٥", "５", "5\u{0}", "-+5",
    ];
    for text in bad {
        assert!(
            Money::from_decimal_str(text, Currency::EUR).is_err(),
            "{text:?}"
        );
    }
    for text in [
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
    ] {
        assert_eq!(err(text, Currency::JPY), MoneyError::Overflow, "{text}");
    }
    assert_eq!(
        err("-92233720368547758.09", Currency::EUR),
        MoneyError::Overflow
    );
    // Leading zeros are harmless, up to the length limit.
    assert_eq!(
        money(&"0".repeat(40), Currency::EUR),
        Money::new(0, Currency::EUR)
    );
    assert_eq!(
        money(&format!("{}1.00", "0".repeat(36)), Currency::EUR).minor,
        100
    );
}

/// Any `i64`, with the edges made likely.
fn any_minor() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(i64::MIN + 1),
        Just(i64::MAX - 1),
        Just(0i64),
        -1000i64..1000,
    ]
}

/// Currencies with every exponent and step, plus arbitrary codes.
fn any_currency() -> impl Strategy<Value = Currency> {
    prop_oneof![
        prop::sample::select(alloc::vec![
            Currency::EUR,
            Currency::JPY,
            Currency::KWD,
            Currency::ISK,
            Currency::UGX,
            Currency::HUF,
            Currency::IDR,
        ]),
        "[a-z]{3}".prop_map(|c| Currency::parse(&c).unwrap()),
    ]
}

proptest! {
    #[test]
    fn decimal_strings_round_trip(minor in any_minor(), currency in any_currency()) {
        let m = Money::new(minor, currency);
        let text = m.to_decimal_string();
        prop_assert_eq!(Money::from_decimal_str(&text, currency), Ok(m));
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,50}", currency in any_currency()) {
        let _ = Money::from_decimal_str(&text, currency);
    }

    #[test]
    fn decimal_looking_text_parses_or_is_rejected_cleanly(
        text in "-?[0-9]{0,22}(\\.[0-9]{0,4})?",
        currency in any_currency(),
    ) {
        if let Ok(m) = Money::from_decimal_str(&text, currency) {
            // What parses prints back canonically and re-parses to the same amount.
            prop_assert_eq!(Money::from_decimal_str(&m.to_decimal_string(), currency), Ok(m));
        }
    }

    #[test]
    fn checks_never_panic(
        minor in any_minor(),
        refundable in any_minor(),
        other in any_minor(),
        currency in any_currency(),
    ) {
        let m = Money::new(minor, currency);
        if m.check_chargeable().is_ok() {
            prop_assert!(minor > 0 && minor % currency.charge_step() == 0);
            prop_assert!(minor <= currency.max_amount());
        }
        if let Err(e) = m.check_chargeable() {
            prop_assert!(!e.to_string().is_empty());
        }
        if let Err(e) = m.check_refund(refundable) {
            prop_assert!(!e.to_string().is_empty());
        }
        let _ = m.checked_add(Money::new(other, currency));
        let _ = m.checked_sub(Money::new(other, currency));
    }

    #[test]
    fn round_to_step_lands_on_the_nearest_step(minor in any_minor(), currency in any_currency()) {
        let step = currency.charge_step();
        let rounded = Money::new(minor, currency).round_to_step();
        prop_assert_eq!(rounded.currency, currency);
        prop_assert_eq!(rounded.minor % step, 0);
        let distance = (i128::from(rounded.minor) - i128::from(minor)).abs();
        if minor.unsigned_abs() <= (i64::MAX - step) as u64 {
            prop_assert!(2 * distance <= i128::from(step));
        } else {
            // Rounding away from zero would overflow: it rounds toward zero instead.
            prop_assert!(distance < i128::from(step) && rounded.minor.unsigned_abs() <= minor.unsigned_abs());
        }
    }

    #[test]
    fn error_messages_never_panic(
        amount in any_minor(),
        other in any_minor(),
        code in "[a-z]{3}",
        max in any::<u8>(),
    ) {
        let currency = Currency::parse(&code).unwrap();
        let errors = [
            MoneyError::NotMultipleOf { amount, step: other, currency },
            MoneyError::BelowMinimum { amount, minimum: other, currency },
            MoneyError::AboveMaximum { amount, maximum: other, currency },
            MoneyError::ExceedsRefundable { requested: amount, refundable: other, currency },
            MoneyError::Negative { amount, currency },
            MoneyError::TooManyFractionDigits { currency, max },
        ];
        for e in errors {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

/// A rounding hint can name a multiple just outside `i64`, written with its digits intact.
#[test]
fn a_rounding_hint_at_the_edges_of_i64_is_written_in_full() {
    let hint = |amount: i64| {
        let error = MoneyError::NotMultipleOf { amount, step: 10, currency: Currency::KWD };
        let text = error.to_string();
        text[text.find("; round to ").unwrap()..].to_string()
    };
    assert_eq!(hint(i64::MAX), "; round to 9223372036854775.800 or 9223372036854775.810");
    assert_eq!(hint(i64::MIN + 1), "; round to -9223372036854775.810 or -9223372036854775.800");
    assert_eq!(hint(-5), "; round to -0.010 or 0.000");
    // Negative amounts keep their sign, and the remainder's digits their zeros.
    assert_eq!(Money::new(-5_124, Currency::KWD).to_string(), "-5.124 kwd");
    assert_eq!(Money::new(i64::MIN, Currency::KWD).to_string(), "-9223372036854775.808 kwd");
}
