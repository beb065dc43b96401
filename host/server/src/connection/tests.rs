use payhook_core::signature::{Tolerance, header_for, verify};

use super::*;

// Made-up keys of Stripe's shapes.
const SK_TEST: &str = "sk_test_51PayhookTestKey0000000000AbCd";
const SK_LIVE: &str = "sk_live_51PayhookLiveKey0000000000WxYz";
const RK_TEST: &str = "rk_test_51PayhookRestricted00000000Rk01";
const RK_LIVE: &str = "rk_live_51PayhookRestricted00000000Rk02";
const PK_TEST: &str = "pk_test_51PayhookPublishable0000000Pk01";
const PK_LIVE: &str = "pk_live_51PayhookPublishable0000000Pk02";
const WHSEC_A: &str = "whsec_PayhookSigningSecretAAAAAAAA0001";
const WHSEC_B: &str = "whsec_PayhookSigningSecretBBBBBBBB0002";

const NOW: i64 = 1_750_000_000;
const DAY: i64 = 24 * 60 * 60;

fn input(mode: Mode, secret_key: &str) -> ConnectionInput {
    ConnectionInput {
        name: "Production Stripe".into(),
        mode,
        secret_key: Some(Secret::new(secret_key)),
        publishable_key: None,
        webhook_secret: None,
        default_currency: None,
        enabled: true,
    }
}

fn valid_with_secret(secret: &str) -> ValidConnection {
    ConnectionInput {
        webhook_secret: Some(WebhookSecret::new(secret)),
        ..input(Mode::Test, SK_TEST)
    }
    .validate()
    .unwrap()
}

fn whsec(n: usize) -> WebhookSecret {
    WebhookSecret::new(format!("whsec_PayhookRolled{n:020}"))
}

fn exposed(secrets: &[WebhookSecret]) -> Vec<&str> {
    secrets.iter().map(WebhookSecret::expose).collect()
}

#[test]
fn a_full_test_connection_is_valid() {
    let c = ConnectionInput {
        name: "  Clinic Stripe ".into(),
        mode: Mode::Test,
        secret_key: Some(Secret::new(format!(" {SK_TEST}\n"))),
        publishable_key: Some(Secret::new(PK_TEST)),
        webhook_secret: Some(WebhookSecret::new(format!("{WHSEC_A}\n"))),
        default_currency: Some("EUR".into()),
        enabled: true,
    }
    .validate()
    .unwrap();
    assert_eq!(c.name(), "Clinic Stripe");
    assert_eq!(c.mode(), Mode::Test);
    assert_eq!(c.secret_key().expose(), SK_TEST);
    assert_eq!(c.secret_key_kind(), SecretKeyKind::Standard);
    assert_eq!(
        c.publishable_key().map(PublishableKey::as_str),
        Some(PK_TEST)
    );
    assert_eq!(c.webhook_secret().map(WebhookSecret::expose), Some(WHSEC_A));
    assert_eq!(c.default_currency(), Some(Currency::EUR));
    assert!(c.is_enabled());
    assert_eq!(exposed(&c.active_signing_secrets(NOW)), [WHSEC_A]);
}

#[test]
fn a_live_connection_with_a_restricted_key_is_valid() {
    let c = ConnectionInput {
        publishable_key: Some(Secret::new(PK_LIVE)),
        ..input(Mode::Live, RK_LIVE)
    }
    .validate()
    .unwrap();
    assert_eq!(c.secret_key_kind(), SecretKeyKind::Restricted);
    assert_eq!(c.secret_key().expose(), RK_LIVE);
}

#[test]
fn a_name_and_a_secret_key_are_enough() {
    // Fluxrate's first step: the signing secret is added once the endpoint exists.
    let c = ConnectionInput {
        publishable_key: Some(Secret::new("")),
        webhook_secret: Some(WebhookSecret::new("  ")),
        default_currency: Some(" ".into()),
        ..input(Mode::Test, RK_TEST)
    }
    .validate()
    .unwrap();
    assert!(
        c.publishable_key().is_none()
            && c.webhook_secret().is_none()
            && c.default_currency().is_none()
    );
    assert!(c.active_signing_secrets(NOW).is_empty());
}

/// Every refusal of `validate`, with the message the user sees.
fn refusals() -> Vec<(ConnectionInput, &'static str)> {
    let test = |key: &str| input(Mode::Test, key);
    let live = |key: &str| input(Mode::Live, key);
    let with_pk = |mode, pk: &str| ConnectionInput {
        publishable_key: Some(Secret::new(pk)),
        ..input(mode, if mode == Mode::Test { SK_TEST } else { SK_LIVE })
    };
    let with_wh = |secret: &str| ConnectionInput {
        webhook_secret: Some(WebhookSecret::new(secret)),
        ..test(SK_TEST)
    };
    let long_key = format!("sk_test_{}", "a".repeat(MAX_KEY_LEN));
    vec![
        (
            ConnectionInput {
                secret_key: None,
                ..test(SK_TEST)
            },
            "Stripe gateway is not properly configured: the secret key is missing: copy the test mode secret \
             key (sk_test_…) from the Stripe dashboard, Developers → API keys",
        ),
        (
            live(" \t"),
            "Stripe gateway is not properly configured: the secret key is missing: copy the live mode secret \
             key (sk_live_…) from the Stripe dashboard, Developers → API keys",
        ),
        (
            test("not-a-key-at-all"),
            "Stripe gateway is not properly configured: the secret key is malformed: it must start with \
             sk_test_ (or rk_test_ for a restricted key) and go on with letters and digits only; copy it \
             again from the Stripe dashboard, Developers → API keys",
        ),
        (
            live("sk_live_"),
            "Stripe gateway is not properly configured: the secret key is malformed: it must start with \
             sk_live_ (or rk_live_ for a restricted key) and go on with letters and digits only; copy it \
             again from the Stripe dashboard, Developers → API keys",
        ),
        (
            test("sk_test_abc def"),
            "Stripe gateway is not properly configured: the secret key is malformed: it must start with \
             sk_test_ (or rk_test_ for a restricted key) and go on with letters and digits only; copy it \
             again from the Stripe dashboard, Developers → API keys",
        ),
        (
            test(&long_key),
            "Stripe gateway is not properly configured: the secret key is malformed: it must start with \
             sk_test_ (or rk_test_ for a restricted key) and go on with letters and digits only; copy it \
             again from the Stripe dashboard, Developers → API keys",
        ),
        (
            test(SK_LIVE),
            "the secret key is a live key (sk_live_…WxYz) but the connection is in test mode: use the test \
             key from the Stripe dashboard's test mode, or create the connection with --mode live",
        ),
        (
            test(RK_LIVE),
            "the secret key is a live key (rk_live_…Rk02) but the connection is in test mode: use the test \
             key from the Stripe dashboard's test mode, or create the connection with --mode live",
        ),
        (
            live(SK_TEST),
            "the secret key is a test key (sk_test_…AbCd) but the connection is in live mode: use the live \
             key from the Stripe dashboard with test mode off, or create the connection with --mode test",
        ),
        (
            test(PK_TEST),
            "the secret key is a publishable key (pk_test_…Pk01): give the secret key (sk_…) or a \
             restricted key (rk_…) from the Stripe dashboard, Developers → API keys, and pass the pk_ key \
             as the publishable key",
        ),
        (
            test(WHSEC_A),
            "the secret key is a webhook signing secret (whsec_…0001): pass it as the webhook signing \
             secret, and give the secret key from the Stripe dashboard, Developers → API keys",
        ),
        (
            with_pk(Mode::Test, SK_TEST),
            "the publishable key is a secret key (sk_test_…AbCd): pass it as the secret key and give the \
             publishable key (pk_…) here; a secret key must never reach a web page",
        ),
        (
            with_pk(Mode::Live, RK_LIVE),
            "the publishable key is a secret key (rk_live_…Rk02): pass it as the secret key and give the \
             publishable key (pk_…) here; a secret key must never reach a web page",
        ),
        (
            with_pk(Mode::Test, PK_LIVE),
            "the publishable key is a live key (pk_live_…Pk02) but the connection is in test mode: use \
             the test key from the Stripe dashboard's test mode, or create the connection with --mode live",
        ),
        (
            with_pk(Mode::Live, PK_TEST),
            "the publishable key is a test key (pk_test_…Pk01) but the connection is in live mode: use \
             the live key from the Stripe dashboard with test mode off, or create the connection with \
             --mode test",
        ),
        (
            with_pk(Mode::Live, "pk_abc"),
            "Stripe gateway is not properly configured: the publishable key is malformed: it must start \
             with pk_live_ and go on with letters and digits only; copy it again from the Stripe \
             dashboard, Developers → API keys",
        ),
        (
            with_pk(Mode::Test, WHSEC_B),
            "the publishable key is a webhook signing secret (whsec_…0002): pass it as the webhook \
             signing secret, and give the publishable key from the Stripe dashboard, Developers → API keys",
        ),
        (
            with_wh(SK_TEST),
            "the webhook signing secret is an API key (sk_test_…AbCd): give the endpoint's signing secret \
             (whsec_…) from the Stripe dashboard, Developers → Webhooks, your endpoint's signing secret \
             (Reveal)",
        ),
        (
            with_wh("https://example.com/webhooks/stripe"),
            "Stripe gateway is not properly configured: the webhook signing secret is malformed: it must \
             start with whsec_ and go on with letters and digits only; copy it again from the Stripe \
             dashboard, Developers → Webhooks, your endpoint's signing secret (Reveal)",
        ),
        (
            ConnectionInput {
                name: " ".into(),
                ..test(SK_TEST)
            },
            "the connection name is empty: give one, such as \"Production Stripe\"",
        ),
        (
            ConnectionInput {
                name: "é".repeat(101),
                ..test(SK_TEST)
            },
            "the connection name is 101 characters long: use at most 100",
        ),
        (
            ConnectionInput {
                name: "Stripe\nlive".into(),
                ..test(SK_TEST)
            },
            "the connection name contains a control character such as a line break: use one line of plain \
             text",
        ),
        (
            ConnectionInput {
                default_currency: Some("euro".into()),
                ..test(SK_TEST)
            },
            "the default currency is not valid: invalid currency code \"euro\": use a three-letter ISO 4217 \
             code such as \"usd\"",
        ),
    ]
}

#[test]
fn every_refusal_says_what_is_wrong_and_how_to_fix_it() {
    for (input, message) in refusals() {
        let err = input.validate().unwrap_err();
        assert_eq!(err.to_string(), message, "{err:?}");
    }
}

#[test]
fn refusals_never_show_more_than_the_masked_key() {
    for (input, _) in refusals() {
        let err = input.validate().unwrap_err();
        let shown = format!("{err} {err:?}");
        for key in [
            SK_TEST, SK_LIVE, RK_TEST, RK_LIVE, PK_TEST, PK_LIVE, WHSEC_A, WHSEC_B,
        ] {
            // Nothing of the key's body is shown but its last four characters.
            let body = &key[key.len() - 12..key.len() - 4];
            assert!(!shown.contains(body), "{shown}");
        }
        assert!(
            !shown.contains("not-a-key") && !shown.contains("abc def"),
            "{shown}"
        );
    }
}

#[test]
fn only_missing_or_malformed_keys_are_not_configured_errors() {
    let mut count = 0;
    for (input, message) in refusals() {
        let err = input.validate().unwrap_err();
        assert_eq!(
            err.is_not_configured(),
            message.starts_with(NOT_CONFIGURED),
            "{err:?}"
        );
        count += usize::from(err.is_not_configured());
    }
    assert_eq!(count, 8);
    assert!(ConnectionError::WebhookSecretMissing.is_not_configured());
}

#[test]
fn modes_parse_and_print() {
    assert_eq!("test".parse::<Mode>().unwrap(), Mode::Test);
    assert_eq!("LIVE".parse::<Mode>().unwrap(), Mode::Live);
    assert_eq!(Mode::Live.to_string(), "live");
    assert_eq!(
        "sandbox-mode".parse::<Mode>().unwrap_err().to_string(),
        "unknown mode \"sandbox-\": use \"test\" or \"live\""
    );
}

#[test]
fn rotating_the_secret_key_checks_it_against_the_mode() {
    let mut c = input(Mode::Test, SK_TEST).validate().unwrap();
    c.rotate_secret_key(&Secret::new(RK_TEST)).unwrap();
    assert_eq!(
        (c.secret_key().expose(), c.secret_key_kind()),
        (RK_TEST, SecretKeyKind::Restricted)
    );
    let err = c.rotate_secret_key(&Secret::new(SK_LIVE)).unwrap_err();
    assert!(
        matches!(err, ConnectionError::LiveKeyInTestMode { .. }),
        "{err:?}"
    );
    assert_eq!(
        c.secret_key().expose(),
        RK_TEST,
        "a refused rotation changes nothing"
    );
}

#[test]
fn disabling_and_enabling() {
    let mut c = input(Mode::Test, SK_TEST).validate().unwrap();
    c.set_enabled(false);
    assert!(!c.is_enabled());
    c.set_enabled(true);
    assert!(c.is_enabled());
}

#[test]
fn a_first_roll_sets_the_secret() {
    let mut c = input(Mode::Test, SK_TEST).validate().unwrap();
    c.roll_webhook_secret(&WebhookSecret::new(WHSEC_A), NOW, DEFAULT_ROLL_OVERLAP)
        .unwrap();
    assert_eq!(exposed(&c.active_signing_secrets(NOW)), [WHSEC_A]);
    assert!(c.rolled_webhook_secrets().is_empty());
}

#[test]
fn a_rolled_secret_verifies_until_its_expiry() {
    let mut c = valid_with_secret(WHSEC_A);
    c.roll_webhook_secret(&WebhookSecret::new(WHSEC_B), NOW, DEFAULT_ROLL_OVERLAP)
        .unwrap();
    assert_eq!(c.rolled_webhook_secrets()[0].expires_at(), NOW + DAY);
    assert_eq!(exposed(&c.active_signing_secrets(NOW)), [WHSEC_B, WHSEC_A]);
    assert_eq!(
        exposed(&c.active_signing_secrets(NOW + DAY - 1)),
        [WHSEC_B, WHSEC_A]
    );
    assert_eq!(exposed(&c.active_signing_secrets(NOW + DAY)), [WHSEC_B]);

    // What the engine does with the list: a delivery signed with the old secret still verifies.
    let body = br#"{"id":"evt_1","object":"event"}"#;
    let header = header_for(body, &WebhookSecret::new(WHSEC_A), NOW + 60);
    let secrets = c.active_signing_secrets(NOW + 60);
    let verified = verify(
        Some(&header),
        body,
        &secrets,
        NOW + 60,
        Tolerance::default(),
    )
    .unwrap();
    assert_eq!(verified.secret_index(), Some(1));
    let late = c.active_signing_secrets(NOW + DAY + 60);
    let header = header_for(body, &WebhookSecret::new(WHSEC_A), NOW + DAY + 60);
    assert!(
        verify(
            Some(&header),
            body,
            &late,
            NOW + DAY + 60,
            Tolerance::default()
        )
        .is_err()
    );
}

#[test]
fn a_roll_with_no_overlap_drops_the_old_secret_at_once() {
    let mut c = valid_with_secret(WHSEC_A);
    c.roll_webhook_secret(&WebhookSecret::new(WHSEC_B), NOW, Duration::ZERO)
        .unwrap();
    assert_eq!(exposed(&c.active_signing_secrets(NOW)), [WHSEC_B]);
    assert!(c.rolled_webhook_secrets().is_empty());
}

#[test]
fn secrets_are_tried_newest_first_and_expired_ones_are_dropped() {
    let mut c = valid_with_secret(WHSEC_A);
    let hour = Duration::from_secs(3600);
    c.roll_webhook_secret(&whsec(1), NOW, hour).unwrap(); // A expires at NOW + 1 h
    c.roll_webhook_secret(&whsec(2), NOW + 10, DEFAULT_ROLL_OVERLAP)
        .unwrap(); // 1 expires at NOW + 10 + 24 h
    let active = c.active_signing_secrets(NOW + 20);
    assert_eq!(
        exposed(&active),
        [whsec(2).expose(), whsec(1).expose(), WHSEC_A]
    );
    assert_eq!(
        exposed(&c.active_signing_secrets(NOW + 3600)),
        [whsec(2).expose(), whsec(1).expose()]
    );
    // The next roll forgets A, which has expired.
    c.roll_webhook_secret(&whsec(3), NOW + 7200, DEFAULT_ROLL_OVERLAP)
        .unwrap();
    let rolled: Vec<&str> = c
        .rolled_webhook_secrets()
        .iter()
        .map(|r| r.secret().expose())
        .collect();
    assert_eq!(rolled, [whsec(2).expose(), whsec(1).expose()]);
}

#[test]
fn at_most_max_secrets_are_active() {
    let mut c = valid_with_secret(whsec(0).expose());
    for n in 1..MAX_SECRETS {
        c.roll_webhook_secret(&whsec(n), NOW + n as i64, DEFAULT_ROLL_OVERLAP)
            .unwrap();
    }
    assert_eq!(c.active_signing_secrets(NOW + 100).len(), MAX_SECRETS);
    let err = c
        .roll_webhook_secret(&whsec(99), NOW + 100, DEFAULT_ROLL_OVERLAP)
        .unwrap_err();
    assert_eq!(
        err,
        ConnectionError::TooManyActiveWebhookSecrets {
            max: 8,
            oldest_expiry: NOW + 1 + DAY
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "8 webhook signing secrets would be active, more than are tried: roll again once the oldest \
             expires, at unix time {}",
            NOW + 1 + DAY
        )
    );
    assert_eq!(
        c.webhook_secret(),
        Some(&whsec(7)),
        "a refused roll changes nothing"
    );
    // Once the oldest has expired there is room again.
    c.roll_webhook_secret(&whsec(99), NOW + 1 + DAY, DEFAULT_ROLL_OVERLAP)
        .unwrap();
    assert_eq!(c.active_signing_secrets(NOW + 1 + DAY).len(), MAX_SECRETS);
}

#[test]
fn roll_refusals_say_what_is_wrong() {
    let mut c = valid_with_secret(WHSEC_A);
    c.roll_webhook_secret(&WebhookSecret::new(WHSEC_B), NOW, DEFAULT_ROLL_OVERLAP)
        .unwrap();
    let reused = "the new webhook signing secret is the current one or one rolled before: roll the secret in \
                  the Stripe dashboard (Developers → Webhooks, your endpoint, Roll secret) and give the new \
                  whsec_ value";
    let cases = [
        (WHSEC_B, DEFAULT_ROLL_OVERLAP, reused.to_owned()),
        (WHSEC_A, DEFAULT_ROLL_OVERLAP, reused.to_owned()),
        (
            "",
            DEFAULT_ROLL_OVERLAP,
            "Stripe gateway is not properly configured: the new webhook signing secret is empty: copy it from \
             the Stripe dashboard, Developers → Webhooks, your endpoint's signing secret (Reveal)"
                .to_owned(),
        ),
        (
            PK_TEST,
            DEFAULT_ROLL_OVERLAP,
            "the webhook signing secret is an API key (pk_test_…Pk01): give the endpoint's signing secret \
             (whsec_…) from the Stripe dashboard, Developers → Webhooks, your endpoint's signing secret \
             (Reveal)"
                .to_owned(),
        ),
        (
            "whsec_",
            DEFAULT_ROLL_OVERLAP,
            "Stripe gateway is not properly configured: the webhook signing secret is malformed: it must \
             start with whsec_ and go on with letters and digits only; copy it again from the Stripe \
             dashboard, Developers → Webhooks, your endpoint's signing secret (Reveal)"
                .to_owned(),
        ),
        (
            "whsec_PayhookSigningSecretCCCCCCCC0003",
            MAX_ROLL_OVERLAP + Duration::from_secs(1),
            "a roll overlap of 604801 seconds is longer than the 604800 allowed (7 days): an old signing \
             secret should stop working soon after a roll"
                .to_owned(),
        ),
    ];
    for (new, overlap, message) in cases {
        let err = c
            .roll_webhook_secret(&WebhookSecret::new(new), NOW + 5, overlap)
            .unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    assert_eq!(
        exposed(&c.active_signing_secrets(NOW + 5)),
        [WHSEC_B, WHSEC_A],
        "refused rolls change nothing"
    );
    // The longest overlap allowed is accepted.
    c.roll_webhook_secret(
        &WebhookSecret::new("whsec_PayhookSigningSecretCCCCCCCC0003"),
        NOW + 5,
        MAX_ROLL_OVERLAP,
    )
    .unwrap();
}

#[test]
fn debug_output_holds_no_secret() {
    let typed = ConnectionInput {
        publishable_key: Some(Secret::new(SK_LIVE)), // a secret key pasted in the wrong field
        webhook_secret: Some(WebhookSecret::new(WHSEC_A)),
        ..input(Mode::Test, SK_TEST)
    };
    let mut valid = ConnectionInput {
        publishable_key: Some(Secret::new(PK_TEST)),
        webhook_secret: Some(WebhookSecret::new(WHSEC_A)),
        ..input(Mode::Test, SK_TEST)
    }
    .validate()
    .unwrap();
    valid
        .roll_webhook_secret(&WebhookSecret::new(WHSEC_B), NOW, DEFAULT_ROLL_OVERLAP)
        .unwrap();
    let shown = [
        format!("{typed:?}"),
        format!("{typed:#?}"),
        format!("{valid:?}"),
        format!("{valid:#?}"),
        format!("{:?}", valid.rolled_webhook_secrets()),
        format!("{:?}", valid.active_signing_secrets(NOW)),
    ];
    for shown in shown {
        for secret in [SK_TEST, SK_LIVE, WHSEC_A, WHSEC_B, PK_TEST] {
            assert!(!shown.contains(&secret[8..]), "{shown}");
        }
    }
    assert_eq!(
        format!("{:?}", valid.publishable_key().unwrap()),
        "PublishableKey(pk_test_…Pk01)"
    );
}
