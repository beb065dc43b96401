use super::*;
use alloc::string::{String, ToString};
use alloc::vec;

const SECRET: &str = "whsec_test_5f2b1c9e8a7d4e6f0a1b2c3d4e5f6a7b";
const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}"#;
const T: i64 = 1_767_225_600;

fn secrets() -> alloc::vec::Vec<WebhookSecret> {
    vec![WebhookSecret::new(SECRET)]
}

fn check(header: &str, now: i64) -> Result<VerifiedPayload<'static>, SignatureError> {
    verify(Some(header), BODY, &secrets(), now, Tolerance::default())
}

fn good_header() -> String {
    header_for(BODY, &WebhookSecret::new(SECRET), T)
}

#[test]
fn accepts_a_fresh_signature_and_reports_the_secret() {
    let ok = check(&good_header(), T + 10).unwrap();
    assert_eq!(ok.timestamp(), Some(T));
    assert_eq!(ok.secret_index(), Some(0));
    assert_eq!(ok.body(), BODY);
}

#[test]
fn any_of_several_secrets_may_match_and_the_match_is_reported() {
    let old = WebhookSecret::new("whsec_old");
    let new = WebhookSecret::new("whsec_new");
    let header = header_for(BODY, &old, T);
    let ok = verify(Some(&header), BODY, &[new.clone(), old.clone()], T, Tolerance::default()).unwrap();
    assert_eq!(ok.secret_index(), Some(1));
    let err = verify(Some(&header), BODY, &[new], T, Tolerance::default()).unwrap_err();
    assert_eq!(err, SignatureError::SignatureMismatch);
}

#[test]
fn any_v1_may_match() {
    let sig = sign(BODY, &WebhookSecret::new(SECRET), T);
    let header = alloc::format!("t={T},v1={},v1={sig},v1=zz", "0".repeat(64));
    assert!(check(&header, T).is_ok());
}

#[test]
fn a_signature_one_hex_digit_off_anywhere_is_a_mismatch() {
    let sig = sign(BODY, &WebhookSecret::new(SECRET), T);
    for at in 0..sig.len() {
        let mut bytes = sig.clone().into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        let header = alloc::format!("t={T},v1={}", String::from_utf8(bytes).unwrap());
        assert_eq!(check(&header, T).unwrap_err(), SignatureError::SignatureMismatch, "digit {at}");
    }
}

#[test]
fn age_is_checked_on_both_sides_and_equal_to_tolerance_passes() {
    let header = good_header();
    assert!(check(&header, T + 300).is_ok());
    assert!(check(&header, T - 300).is_ok());
    assert_eq!(
        check(&header, T + 301).unwrap_err(),
        SignatureError::TimestampTooOld { timestamp: T, now: T + 301, tolerance: 300 }
    );
    assert_eq!(
        check(&header, T - 301).unwrap_err(),
        SignatureError::TimestampInFuture { timestamp: T, now: T - 301, tolerance: 300 }
    );
}

#[test]
fn extreme_clocks_do_not_overflow() {
    let header = alloc::format!("t=9223372036854775807,v1={}", sign(BODY, &WebhookSecret::new(SECRET), i64::MAX));
    assert!(matches!(check(&header, i64::MIN).unwrap_err(), SignatureError::TimestampInFuture { .. }));
    assert!(check(&header, i64::MAX).is_ok());
}

#[test]
fn a_tampered_and_expired_delivery_is_a_mismatch() {
    let header = good_header();
    let err = verify(Some(&header), b"{}", &secrets(), T + 86_400, Tolerance::default()).unwrap_err();
    assert_eq!(err, SignatureError::SignatureMismatch);
}

#[test]
fn tolerance_must_be_positive() {
    assert_eq!(Tolerance::seconds(0).unwrap_err(), SignatureError::InvalidTolerance { seconds: 0 });
    assert_eq!(Tolerance::seconds(-1).unwrap_err().to_string(), "the timestamp tolerance must be at least 1 second, got -1");
    assert_eq!(Tolerance::seconds(1).unwrap().as_secs(), 1);
}

#[test]
fn malformed_headers_get_named_errors() {
    let sig = sign(BODY, &WebhookSecret::new(SECRET), T);
    let cases: &[(Option<&str>, SignatureError)] = &[
        (None, SignatureError::MissingHeader),
        (Some(""), SignatureError::MissingHeader),
        (Some("   "), SignatureError::MissingHeader),
        (Some("hello world"), SignatureError::ElementWithoutEquals { position: 1 }),
        (Some("t=1,v1"), SignatureError::ElementWithoutEquals { position: 2 }),
        (Some("v1=abc"), SignatureError::MissingTimestamp),
        (Some("t=1,t=1,v1=abc"), SignatureError::DuplicateTimestamp),
        (Some("t=+1767225600,v1=abc"), SignatureError::InvalidTimestamp),
        (Some("t=1767225600 ,v1=abc"), SignatureError::InvalidTimestamp),
        (Some("t=1767225600.5,v1=abc"), SignatureError::InvalidTimestamp),
        (Some("t=,v1=abc"), SignatureError::InvalidTimestamp),
        (Some("t=99999999999999999999,v1=abc"), SignatureError::InvalidTimestamp),
        (Some("t=1767225600"), SignatureError::NoV1Signature),
        (Some("t=1767225600,V1=abc,v0=abc"), SignatureError::NoV1Signature),
    ];
    for (header, expected) in cases {
        assert_eq!(parse_header(*header).unwrap_err(), *expected, "header {header:?}");
    }
    // Leading zeros are still digits, and the signed string uses the parsed value, as the SDKs do.
    assert!(check(&alloc::format!("t=0{T},v1={sig}"), T).is_ok());
}

#[test]
fn work_is_bounded() {
    let many = alloc::format!("t={T}{}", ",v1=00".repeat(17));
    assert_eq!(parse_header(Some(&many)).unwrap_err(), SignatureError::TooManySignatures { count: 17, max: 16 });
    let sixteen = alloc::format!("t={T}{}", ",v1=00".repeat(16));
    assert_eq!(parse_header(Some(&sixteen)).unwrap().signatures.len(), 16);
    let huge = "x".repeat(MAX_HEADER_BYTES + 1);
    assert_eq!(parse_header(Some(&huge)).unwrap_err(), SignatureError::HeaderTooLarge { len: 8193, max: 8192 });
    let big_body = vec![b' '; MAX_BODY_BYTES + 1];
    let err = verify(Some(&good_header()), &big_body, &secrets(), T, Tolerance::default()).unwrap_err();
    assert_eq!(err.to_string(), "the body is 1048577 bytes; at most 1048576 are accepted");
}

#[test]
fn secrets_are_checked_before_anything_else() {
    let header = good_header();
    let t = Tolerance::default();
    assert_eq!(verify(Some(&header), BODY, &[], T, t).unwrap_err(), SignatureError::NoSecret);
    let blank = [WebhookSecret::new(SECRET), WebhookSecret::new("  ")];
    assert_eq!(verify(Some(&header), BODY, &blank, T, t).unwrap_err(), SignatureError::BlankSecret { index: 1 });
    let nine = vec![WebhookSecret::new(SECRET); 9];
    assert_eq!(verify(Some(&header), BODY, &nine, T, t).unwrap_err(), SignatureError::TooManySecrets { count: 9, max: 8 });
}

#[test]
fn upper_case_and_truncated_signatures_never_match() {
    let sig = sign(BODY, &WebhookSecret::new(SECRET), T);
    for bad in [sig.to_uppercase(), String::from(&sig[..63]), alloc::format!("{sig}0"), String::new()] {
        let err = check(&alloc::format!("t={T},v1={bad}"), T).unwrap_err();
        assert_eq!(err, SignatureError::SignatureMismatch, "{bad}");
    }
}

#[test]
fn errors_never_mention_the_secret() {
    let header = header_for(BODY, &WebhookSecret::new("whsec_other"), T);
    let err = check(&header, T).unwrap_err();
    let shown = alloc::format!("{err} {err:?}");
    assert!(!shown.contains("whsec"), "{shown}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_never_panics(header in ".{0,300}") {
            let _ = parse_header(Some(&header));
        }

        #[test]
        fn structured_noise_never_panics(parts in proptest::collection::vec("(t|v1|v0| v1|T)?=?[0-9a-f+ .=-]{0,70}", 0..24)) {
            let header = parts.join(",");
            let _ = verify(Some(&header), BODY, &secrets(), T, Tolerance::default());
        }

        #[test]
        fn a_signature_verifies_only_its_own_body(body in proptest::collection::vec(any::<u8>(), 0..512), other in proptest::collection::vec(any::<u8>(), 0..512), t in 0i64..4_000_000_000) {
            let secret = WebhookSecret::new(SECRET);
            let header = header_for(&body, &secret, t);
            prop_assert!(verify(Some(&header), &body, core::slice::from_ref(&secret), t, Tolerance::default()).is_ok());
            if other != body {
                prop_assert_eq!(verify(Some(&header), &other, &[secret], t, Tolerance::default()).unwrap_err(), SignatureError::SignatureMismatch);
            }
        }
    }
}

/// Records what it was asked and answers with [`NativeHmac`], or with zeros when `wrong`.
struct Recording {
    calls: core::cell::RefCell<vec::Vec<(vec::Vec<u8>, vec::Vec<u8>)>>,
    wrong: bool,
}

impl Recording {
    fn new(wrong: bool) -> Self {
        Self { calls: core::cell::RefCell::new(vec::Vec::new()), wrong }
    }
}

impl HmacSha256 for Recording {
    fn mac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        self.calls.borrow_mut().push((key.to_vec(), parts.concat()));
        if self.wrong { [0; 32] } else { NativeHmac.mac(key, parts) }
    }
}

#[test]
fn another_hmac_gets_the_secret_and_the_signed_text_and_decides_the_verdict() {
    let body = b"{\"id\":\"evt_1\"}";
    let secrets = vec![WebhookSecret::new("whsec_old"), WebhookSecret::new("whsec_new")];
    let header = header_for(body, &secrets[1], 1000);

    let hmac = Recording::new(false);
    let ok = verify_with(&hmac, Some(&header), body, &secrets, 1000, Tolerance::default()).unwrap();
    assert_eq!(ok.secret_index(), Some(1));
    {
        let calls = hmac.calls.borrow();
        // One MAC per candidate secret, each over `{t}.{body}` with the whole secret as key.
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], (b"whsec_old".to_vec(), b"1000.{\"id\":\"evt_1\"}".to_vec()));
        assert_eq!(calls[1].0, b"whsec_new".to_vec());
    }
    assert_eq!(sign_with(&hmac, body, &secrets[1], 1000), sign(body, &secrets[1], 1000));

    // What the MAC says is what counts: a wrong answer is a mismatch, never a pass.
    let wrong = Recording::new(true);
    assert_eq!(
        verify_with(&wrong, Some(&header), body, &secrets, 1000, Tolerance::default()),
        Err(SignatureError::SignatureMismatch)
    );
    // A negative timestamp is signed with its sign, as the text it is.
    let hmac = Recording::new(false);
    sign_with(&hmac, body, &secrets[0], -5);
    assert!(hmac.calls.borrow()[0].1.starts_with(b"-5."));
}
