use proptest::prelude::*;

use super::*;

const KEY: [u8; MASTER_KEY_LEN] = *b"0123456789abcdef0123456789abcdef";
const SK: &str = "sk_test_51PayhookTestKey0000000000AbCd";

fn sealer() -> Sealer {
    Sealer::new(&MasterKey::from_bytes(KEY))
}

#[test]
fn seals_and_opens() {
    let s = sealer();
    let sealed = s.seal("ten_1", "secret_key", SK.as_bytes()).unwrap();
    assert_eq!(
        s.open("ten_1", "secret_key", &sealed).unwrap().as_slice(),
        SK.as_bytes()
    );
    let text = sealed.to_string();
    assert!(text.starts_with("v1."), "{text}");
    assert!(!text.contains(SK));
    assert_eq!(SealedSecret::parse(&text).unwrap(), sealed);
    assert_eq!(text.parse::<SealedSecret>().unwrap(), sealed);
}

#[test]
fn seals_and_opens_text_secrets() {
    let s = sealer();
    let sealed = s
        .seal_secret("ten_1", "secret_key", &Secret::new(SK))
        .unwrap();
    assert_eq!(
        s.open_secret("ten_1", "secret_key", &sealed)
            .unwrap()
            .expose(),
        SK
    );
}

#[test]
fn seals_the_empty_secret() {
    let s = sealer();
    let sealed = s.seal("ten_1", "f", b"").unwrap();
    assert!(s.open("ten_1", "f", &sealed).unwrap().is_empty());
    assert_eq!(SealedSecret::parse(&sealed.to_string()).unwrap(), sealed);
}

#[test]
fn two_seals_of_the_same_plaintext_differ() {
    let s = sealer();
    let a = s.seal("ten_1", "secret_key", SK.as_bytes()).unwrap();
    let b = s.seal("ten_1", "secret_key", SK.as_bytes()).unwrap();
    assert_ne!(a.nonce(), b.nonce());
    assert_ne!(a.to_string(), b.to_string());
}

#[test]
fn a_value_copied_to_another_tenant_does_not_open() {
    let s = sealer();
    let sealed = s.seal("ten_1", "secret_key", SK.as_bytes()).unwrap();
    let err = s.open("ten_2", "secret_key", &sealed).unwrap_err();
    assert_eq!(
        err,
        SealError::OpenFailed {
            tenant_id: "ten_2".into(),
            field: "secret_key".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "the sealed \"secret_key\" of tenant \"ten_2\" does not open: it was sealed for another tenant \
         or field, under another master key, or it was altered"
    );
}

#[test]
fn a_value_copied_to_another_field_does_not_open() {
    let s = sealer();
    let sealed = s.seal("ten_1", "secret_key", SK.as_bytes()).unwrap();
    let err = s.open("ten_1", "webhook_secret", &sealed).unwrap_err();
    assert!(matches!(err, SealError::OpenFailed { .. }), "{err:?}");
}

#[test]
fn the_associated_data_is_unambiguous() {
    let s = sealer();
    let sealed = s.seal("a\0b", "c", SK.as_bytes()).unwrap();
    assert!(s.open("a", "b\0c", &sealed).is_err());
    let sealed = s.seal("ab", "c", SK.as_bytes()).unwrap();
    assert!(s.open("a", "bc", &sealed).is_err());
}

#[test]
fn another_master_key_does_not_open() {
    let sealed = sealer().seal("ten_1", "secret_key", SK.as_bytes()).unwrap();
    let mut other = KEY;
    other[0] ^= 1;
    let err = Sealer::new(&MasterKey::from_bytes(other))
        .open("ten_1", "secret_key", &sealed)
        .unwrap_err();
    assert!(matches!(err, SealError::OpenFailed { .. }), "{err:?}");
}

#[test]
fn every_flipped_bit_of_the_ciphertext_is_detected() {
    let s = sealer();
    let sealed = s.seal("ten_1", "secret_key", b"whsec_x").unwrap();
    for byte in 0..sealed.ciphertext.len() {
        for bit in 0..8 {
            let mut tampered = sealed.clone();
            tampered.ciphertext[byte] ^= 1 << bit;
            assert!(
                s.open("ten_1", "secret_key", &tampered).is_err(),
                "byte {byte} bit {bit}"
            );
        }
    }
    for byte in 0..NONCE_LEN {
        let mut tampered = sealed.clone();
        tampered.nonce[byte] ^= 0x80;
        assert!(
            s.open("ten_1", "secret_key", &tampered).is_err(),
            "nonce byte {byte}"
        );
    }
}

#[test]
fn refuses_a_plaintext_above_the_limit() {
    let err = sealer()
        .seal("t", "f", &vec![b'x'; MAX_PLAINTEXT_LEN + 1])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the secret is 16385 bytes; at most 16384 can be sealed"
    );
    // The largest plaintext seals, and its text form parses back.
    let sealed = sealer()
        .seal("t", "f", &vec![b'x'; MAX_PLAINTEXT_LEN])
        .unwrap();
    assert_eq!(SealedSecret::parse(&sealed.to_string()).unwrap(), sealed);
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let nonce = BASE64.encode([7u8; NONCE_LEN]);
    let tag = BASE64.encode([9u8; TAG_LEN]);
    let cases: Vec<(String, &str)> = vec![
        (
            String::new(),
            "the sealed value has version \"\"; this build opens only \"v1\" values",
        ),
        (
            format!("v2.{nonce}.{tag}"),
            "the sealed value has version \"v2\"; this build opens only \"v1\" values",
        ),
        (
            "sk_test_51PayhookTestKey0000000000AbCd".into(),
            "the sealed value has version \"sk_test_\"; this build opens only \"v1\" values",
        ),
        (
            format!("v1.{nonce}"),
            "the sealed value is malformed: expected three parts separated by '.'",
        ),
        (
            format!("v1.{nonce}.{tag}.x"),
            "the sealed value is malformed: expected three parts separated by '.'",
        ),
        (
            format!("v1.{nonce}!.{tag}"),
            "the sealed value is malformed: the nonce is not standard base64",
        ),
        (
            format!("v1.{nonce}.{tag} "),
            "the sealed value is malformed: the ciphertext is not standard base64",
        ),
        (
            format!("v1.{}.{tag}", BASE64.encode([1u8; 11])),
            "the sealed value's nonce is 11 bytes; it must be 12",
        ),
        (
            format!("v1.{nonce}.{}", BASE64.encode([1u8; 15])),
            "the sealed value's ciphertext is 15 bytes; it must be at least 16 (the tag)",
        ),
        (
            "v1.".repeat(MAX_TEXT_LEN),
            "the sealed value is 65700 bytes long; no sealed value is longer than 21900",
        ),
    ];
    for (text, message) in cases {
        let err = SealedSecret::parse(&text).unwrap_err();
        assert_eq!(err.to_string(), message, "{text:.40}");
    }
}

#[test]
fn opening_non_text_as_a_secret_is_an_error() {
    let s = sealer();
    let sealed = s.seal("ten_1", "blob", &[0xff, 0xfe]).unwrap();
    let err = s.open_secret("ten_1", "blob", &sealed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the sealed \"blob\" of tenant \"ten_1\" opened but is not UTF-8 text"
    );
}

#[test]
fn the_random_failure_message_says_nothing_was_sealed() {
    let err = SealError::RandomUnavailable {
        reason: "errno: 38".into(),
    };
    assert_eq!(
        err.to_string(),
        "the operating system's random number generator failed (errno: 38): no secret was sealed"
    );
}

#[test]
fn debug_output_holds_no_key_and_no_plaintext() {
    let key = MasterKey::from_bytes(KEY);
    assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
    let s = Sealer::new(&key);
    assert_eq!(format!("{s:?}"), "Sealer { key: [redacted] }");
    let sealed = s.seal("ten_1", "secret_key", SK.as_bytes()).unwrap();
    let debug = format!("{sealed:?}");
    assert_eq!(debug, format!("SealedSecret({sealed})"));
    for shown in [
        format!("{key:?}"),
        format!("{s:?}"),
        debug,
        format!("{:?}", s.open_secret("ten_1", "secret_key", &sealed)),
    ] {
        assert!(
            !shown.contains(SK) && !shown.contains("0123456789abcdef"),
            "{shown}"
        );
    }
}

proptest! {
    #[test]
    fn round_trips_any_plaintext(
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        tenant in "\\PC{0,24}",
        field in "\\PC{0,24}",
    ) {
        let s = sealer();
        let sealed = s.seal(&tenant, &field, &plaintext).unwrap();
        let parsed = SealedSecret::parse(&sealed.to_string()).unwrap();
        let opened = s.open(&tenant, &field, &parsed).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
    }

    #[test]
    fn any_single_byte_change_to_the_text_fails_to_open(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        index in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let s = sealer();
        let text = s.seal("ten_1", "secret_key", &plaintext).unwrap().to_string().into_bytes();
        let at = index.index(text.len());
        prop_assume!(text[at] != replacement);
        let mut changed = text.clone();
        changed[at] = replacement;
        let opened = std::str::from_utf8(&changed)
            .ok()
            .and_then(|text| SealedSecret::parse(text).ok())
            .and_then(|sealed| s.open("ten_1", "secret_key", &sealed).ok());
        prop_assert!(opened.is_none(), "byte {} changed to {:#04x} still opens", at, replacement);
    }
}
