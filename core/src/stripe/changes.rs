//! What a host's filter (a plugin's `checkout-params`) may change in the form of a Checkout
//! Session or a Payment Link before it is sent: words the customer reads and references the
//! business keeps, never what is charged, in which currency, for which record, or where the
//! money and the customer go.
//!
//! A filter answers the whole form; [`changes_between`] keeps what differs from payhook's form as
//! a list of changes, refusing an answer that drops or alters anything else. The changes are
//! stored with the operation (`extra_params`) and applied by [`apply`] when the request is
//! built, under the same rules, so a stored operation cannot smuggle in what a filter could not.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::RequestError;

/// At most this many changes on one form.
pub const MAX_CHANGES: usize = 50;
/// A changed or added value is at most this many characters (Stripe's longest custom text).
pub const MAX_VALUE_CHARS: usize = 1_200;
/// Stripe's limits on metadata: keys up to 40 characters, values up to 500, 50 keys.
const MAX_METADATA_KEY: usize = 40;
const MAX_METADATA_VALUE: usize = 500;
const MAX_METADATA_KEYS: usize = 50;

/// Keys a filter may add to either form when payhook did not set them.
const ADDABLE: &[&str] = &[
    "submit_type",
    "billing_address_collection",
    "phone_number_collection[enabled]",
    "consent_collection[terms_of_service]",
    "custom_text[submit][message]",
    "custom_text[after_submit][message]",
    "custom_text[shipping_address][message]",
    "custom_text[terms_of_service_acceptance][message]",
    "payment_intent_data[description]",
    "payment_intent_data[statement_descriptor_suffix]",
];

/// ... and those only a Checkout Session's form takes.
const ADDABLE_CHECKOUT: &[&str] = &["locale", "subscription_data[description]"];

/// ... and those only a Payment Link's form takes.
const ADDABLE_LINK: &[&str] = &["inactive_message"];

/// Metadata keys payhook routes payments by (see `fact::links`): a filter may not add them, or
/// a payment for one record would settle, cancel or release another.
const ROUTING_KEYS: &[&str] = &["invoice_id", "appointment_id", "booking_id", "customer_id"];

/// The containers of metadata a filter may add keys to (never change payhook's own keys).
const METADATA: &[&str] = &[
    "metadata",
    "payment_intent_data[metadata]",
    "subscription_data[metadata]",
];

/// The changes that turn `base` (payhook's form) into `answer` (a filter's): every pair the
/// answer adds or whose value it changes, in the answer's order. Refused, with the reason, when
/// the answer leaves out one of payhook's pairs, names a key twice, or changes or adds anything
/// but the words and references listed in this module's docs.
pub fn changes_between(
    base: &[(String, String)],
    answer: &[(String, String)],
) -> Result<Vec<(String, String)>, RequestError> {
    for (i, (key, _)) in answer.iter().enumerate() {
        if answer[..i].iter().any(|(k, _)| k == key) {
            return Err(refused(format!("names {key} twice")));
        }
    }
    if let Some((key, _)) = base
        .iter()
        .find(|(k, _)| !answer.iter().any(|(a, _)| a == k))
    {
        return Err(refused(format!("leaves out {key}, which payhook sets")));
    }
    let changes: Vec<(String, String)> = answer
        .iter()
        .filter(|pair| !base.contains(pair))
        .cloned()
        .collect();
    let mut form = base.to_vec();
    apply(&mut form, &changes)?;
    Ok(changes)
}

/// Applies `changes` to `form` (sorted by key afterwards), under the rules of
/// [`changes_between`].
pub fn apply(
    form: &mut Vec<(String, String)>,
    changes: &[(String, String)],
) -> Result<(), RequestError> {
    if changes.len() > MAX_CHANGES {
        return Err(refused(format!(
            "makes {} changes; at most {MAX_CHANGES} are kept",
            changes.len()
        )));
    }
    for (key, value) in changes {
        if super::char_count(value) > MAX_VALUE_CHARS {
            return Err(refused(format!(
                "gives {key} more than {MAX_VALUE_CHARS} characters"
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(refused(format!("gives {key} a control character")));
        }
        match form.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => {
                if !changeable(key) {
                    return Err(refused(format!(
                        "changes {key}; of payhook's values only a line's product name may change"
                    )));
                }
                if value.trim().is_empty() {
                    return Err(refused(format!("empties {key}")));
                }
                pair.1.clone_from(value);
            }
            None => {
                check_addable(form, key, value)?;
                form.push((key.clone(), value.clone()));
            }
        }
    }
    for container in METADATA {
        let prefix = format!("{container}[");
        let keys = form
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && metadata_key(k, container).is_some())
            .count();
        if keys > MAX_METADATA_KEYS {
            return Err(refused(format!(
                "gives {container} {keys} keys; Stripe takes at most {MAX_METADATA_KEYS}"
            )));
        }
    }
    super::params::sort(form);
    Ok(())
}

/// A line's product name, the only value of payhook's a filter may reword.
fn changeable(key: &str) -> bool {
    line_item_field(key) == Some("[price_data][product_data][name]")
}

fn check_addable(form: &[(String, String)], key: &str, value: &str) -> Result<(), RequestError> {
    // A Checkout Session's form names its `mode`; a Payment Link's does not.
    let own = if form.iter().any(|(k, _)| k == "mode") {
        ADDABLE_CHECKOUT
    } else {
        ADDABLE_LINK
    };
    if ADDABLE.contains(&key) || own.contains(&key) {
        return Ok(());
    }
    if line_item_field(key) == Some("[price_data][product_data][description]") {
        // Only on a line payhook made.
        let line = &key[..key.find(']').map_or(0, |i| i + 1)];
        let quantity = format!("{line}[quantity]");
        if form.iter().any(|(k, _)| *k == quantity) {
            return Ok(());
        }
        return Err(refused(format!(
            "describes {line}, a line payhook did not make"
        )));
    }
    for container in METADATA {
        if let Some(name) = metadata_key(key, container) {
            if ROUTING_KEYS.contains(&name) {
                return Err(refused(format!(
                    "adds {key}: payhook finds a payment's record by that key, so only payhook sets it"
                )));
            }
            let chars = super::char_count(name);
            if chars == 0 || chars > MAX_METADATA_KEY {
                return Err(refused(format!(
                    "adds the metadata key {}: keys are 1 to {MAX_METADATA_KEY} characters",
                    crate::json::Quoted(name)
                )));
            }
            if super::char_count(value) > MAX_METADATA_VALUE {
                return Err(refused(format!(
                    "gives {key} more than {MAX_METADATA_VALUE} characters"
                )));
            }
            // Metadata goes with the payment only where payhook sends some already.
            let prefix = format!("{container}[");
            if *container != "metadata" && !form.iter().any(|(k, _)| k.starts_with(&prefix)) {
                return Err(refused(format!(
                    "adds {key}, which this form does not carry"
                )));
            }
            return Ok(());
        }
    }
    Err(refused(format!(
        "adds {key}; a filter may add only words for the customer (custom_text, descriptions, and locale on a Checkout Session) and metadata"
    )))
}

/// `name` for `{container}[name]` with a plain name (no brackets).
fn metadata_key<'a>(key: &'a str, container: &str) -> Option<&'a str> {
    let name = key
        .strip_prefix(container)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    (!name.contains('[') && !name.contains(']')).then_some(name)
}

/// The rest of `line_items[N]…` after the index.
fn line_item_field(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("line_items[")?;
    let close = rest.find(']')?;
    let index = &rest[..close];
    (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())).then(|| &rest[close + 1..])
}

fn refused(reason: String) -> RequestError {
    RequestError::Invalid {
        field: "extra_params",
        reason: format!("the filter's answer {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base() -> Vec<(String, String)> {
        pairs(&[
            ("client_reference_id", "apt_1"),
            ("line_items[0][price_data][currency]", "eur"),
            (
                "line_items[0][price_data][product_data][name]",
                "Appointment apt_1",
            ),
            ("line_items[0][price_data][unit_amount]", "4500"),
            ("line_items[0][quantity]", "1"),
            ("metadata[appointment_id]", "apt_1"),
            ("mode", "payment"),
            ("payment_intent_data[metadata][appointment_id]", "apt_1"),
            ("success_url", "https://salon.example/done"),
        ])
    }

    fn with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut answer = base();
        for (k, v) in extra {
            match answer.iter_mut().find(|(a, _)| a == k) {
                Some(pair) => pair.1 = v.to_string(),
                None => answer.push((k.to_string(), v.to_string())),
            }
        }
        answer
    }

    fn reason(r: Result<Vec<(String, String)>, RequestError>) -> String {
        match r {
            Err(RequestError::Invalid { reason, .. }) => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unchanged_answer_is_no_change() {
        assert_eq!(changes_between(&base(), &base()), Ok(vec![]));
    }

    #[test]
    fn words_and_metadata_may_be_added_and_the_product_renamed() {
        let answer = with(&[
            (
                "line_items[0][price_data][product_data][name]",
                "Haircut with Anna",
            ),
            (
                "line_items[0][price_data][product_data][description]",
                "45 minutes",
            ),
            ("metadata[source]", "salon"),
            ("payment_intent_data[metadata][source]", "salon"),
            (
                "custom_text[submit][message]",
                "Free cancellation up to 24 h before",
            ),
            ("locale", "de"),
        ]);
        let changes = changes_between(&base(), &answer).unwrap();
        assert_eq!(changes.len(), 6);
        let mut form = base();
        apply(&mut form, &changes).unwrap();
        let mut expected = answer.clone();
        expected.sort();
        assert_eq!(form, expected);
    }

    #[test]
    fn what_is_charged_and_for_which_record_cannot_change() {
        for (key, value) in [
            ("line_items[0][price_data][unit_amount]", "1"),
            ("line_items[0][price_data][currency]", "jpy"),
            ("line_items[0][quantity]", "2"),
            ("metadata[appointment_id]", "apt_other"),
            ("payment_intent_data[metadata][appointment_id]", "apt_other"),
            ("client_reference_id", "apt_other"),
            ("success_url", "https://evil.example"),
            ("mode", "subscription"),
        ] {
            let why = reason(changes_between(&base(), &with(&[(key, value)])));
            assert!(why.contains(&format!("changes {key};")), "{key}: {why}");
        }
    }

    #[test]
    fn only_listed_keys_may_be_added() {
        for key in [
            "line_items[1][price_data][unit_amount]",
            "line_items[1][quantity]",
            "discounts[0][coupon]",
            "allow_promotion_codes",
            "automatic_tax[enabled]",
            "payment_intent_data[application_fee_amount]",
            "payment_intent_data[transfer_data][destination]",
            "customer",
            "customer_email",
            "inactive_message",
            "metadata[a][b]",
            "metadata[invoice_id]",
            "metadata[booking_id]",
            "payment_intent_data[metadata][customer_id]",
            "subscription_data[metadata][x]",
        ] {
            let why = reason(changes_between(&base(), &with(&[(key, "x")])));
            assert!(why.contains(&format!("adds {key}")), "{key}: {why}");
        }
        let why = reason(changes_between(
            &base(),
            &with(&[("line_items[3][price_data][product_data][description]", "x")]),
        ));
        assert!(why.contains("a line payhook did not make"), "{why}");
    }

    #[test]
    fn leaving_out_naming_twice_and_oversize_values_are_refused() {
        let mut dropped = base();
        dropped.retain(|(k, _)| k != "metadata[appointment_id]");
        assert!(
            reason(changes_between(&base(), &dropped))
                .contains("leaves out metadata[appointment_id]")
        );

        let mut twice = base();
        twice.push(("locale".into(), "de".into()));
        twice.push(("locale".into(), "fr".into()));
        assert!(reason(changes_between(&base(), &twice)).contains("names locale twice"));

        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        assert!(
            reason(changes_between(&base(), &with(&[("locale", &long)])))
                .contains("more than 1200")
        );
        let meta = "x".repeat(501);
        assert!(
            reason(changes_between(
                &base(),
                &with(&[("metadata[note]", &meta)])
            ))
            .contains("more than 500")
        );
        let key = format!("metadata[{}]", "k".repeat(41));
        assert!(
            reason(changes_between(&base(), &with(&[(&key, "v")]))).contains("1 to 40 characters")
        );
        assert!(
            reason(changes_between(&base(), &with(&[("locale", "de\r\nX: y")])))
                .contains("control character")
        );
        assert!(
            reason(changes_between(
                &base(),
                &with(&[("line_items[0][price_data][product_data][name]", " ")])
            ))
            .contains("empties")
        );
    }

    #[test]
    fn at_most_fifty_changes_and_fifty_metadata_keys() {
        let many: Vec<(String, String)> = (0..49)
            .map(|i| (format!("metadata[k{i}]"), "v".to_string()))
            .collect();
        let mut answer = base();
        answer.extend(many.iter().cloned());
        // 49 added + payhook's own appointment_id = 50 keys: accepted.
        assert_eq!(changes_between(&base(), &answer).unwrap().len(), 49);
        answer.push(("metadata[k49]".into(), "v".into()));
        assert!(reason(changes_between(&base(), &answer)).contains("at most 50"));
        let mut too_many = base();
        too_many.extend((0..51).map(|i| (format!("metadata[k{i}]"), "v".to_string())));
        assert!(reason(changes_between(&base(), &too_many)).contains("at most 50 are kept"));
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_payment_link_takes_its_own_words_and_never_a_routing_key() {
        let base: Vec<(String, String)> = [
            ("line_items[0][price]", "price_1"),
            ("line_items[0][quantity]", "1"),
            ("metadata[invoice_id]", "inv_1"),
            ("payment_intent_data[metadata][invoice_id]", "inv_1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let with = |key: &str| {
            let mut a = base.clone();
            a.push((key.to_string(), "x".to_string()));
            a
        };
        assert!(changes_between(&base, &with("inactive_message")).is_ok());
        assert!(changes_between(&base, &with("custom_text[submit][message]")).is_ok());
        assert!(changes_between(&base, &with("metadata[source]")).is_ok());
        for key in ["locale", "payment_intent_data[metadata][appointment_id]"] {
            let err = changes_between(&base, &with(key)).unwrap_err().to_string();
            assert!(err.contains(&alloc::format!("adds {key}")), "{key}: {err}");
        }
    }
}
