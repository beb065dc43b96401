//! `payhook conformance` end to end: the embedded fixtures, and the same files passed as
//! arguments, must all pass; a wrong verdict must fail the run.

use std::process::Command;

fn payhook(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payhook"))
        .args(args)
        .output()
        .expect("running payhook");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

#[test]
fn every_embedded_case_passes() {
    let (code, out) = payhook(&["conformance"]);
    assert_eq!(out.lines().last(), Some("109 passed, 0 failed"), "{out}");
    assert_eq!(code, 0);
}

/// Every case's outcome must equal the golden file that the other hosts (Node, Python) are
/// held to; `PAYHOOK_BLESS=1 cargo test -p payhook --test conformance` rewrites it.
#[test]
fn outcomes_match_the_golden_file_other_hosts_share() {
    let (code, out) = payhook(&["conformance", "--json"]);
    assert_eq!(code, 0, "{out}");
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.pop(), Some("109 passed, 0 failed"));
    let actual = lines.join("\n") + "\n";
    let golden = fixtures().join("conformance/expected.jsonl");
    if std::env::var_os("PAYHOOK_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&golden)
        .expect("golden file; run with PAYHOOK_BLESS=1 to create it");
    for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(
            a, e,
            "case #{i} differs from tests/fixtures/conformance/expected.jsonl (PAYHOOK_BLESS=1 rewrites it)"
        );
    }
    assert_eq!(actual.lines().count(), expected.lines().count());
}

#[test]
fn files_given_as_arguments_are_checked_too() {
    let vectors = fixtures().join("stripe-vectors/vectors.json");
    let events = fixtures().join("stripe-events/events");
    let (code, out) = payhook(&[
        "conformance",
        "--vectors",
        vectors.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--verbose",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok   vector:valid_basic (ok)"), "{out}");
    assert!(
        out.contains("ok   vector:valid_future_timestamp_1h (timestamp_outside_tolerance)"),
        "{out}"
    );
    assert!(
        out.contains("ok   event:payment_intent.succeeded.json (ok)"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("109 passed, 0 failed"));
}

#[test]
fn a_vector_whose_verdict_is_wrong_fails_the_run() {
    let text = std::fs::read_to_string(fixtures().join("stripe-vectors/vectors.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Claim that a tampered payload verifies: the engines must disagree with the file.
    let v = doc["vectors"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|v| v["id"] == "tampered_payload_amount")
        .unwrap();
    v["expected"] = "ok".into();
    v["expected_verify_header"] = "ok".into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vectors.json");
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let (code, out) = payhook(&["conformance", "--vectors", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "FAIL vector:tampered_payload_amount (signature_mismatch): expected ok like the SDKs"
        ),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("108 passed, 1 failed"));
}

#[test]
fn unreadable_inputs_are_clear_errors() {
    let (code, out) = payhook(&["conformance", "--vectors", "/nonexistent/vectors.json"]);
    assert_eq!(code, 2);
    assert!(
        out.starts_with("error: reading /nonexistent/vectors.json: "),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"vectors\": 5}").unwrap();
    let (code, out) = payhook(&["conformance", "--vectors", bad.to_str().unwrap()]);
    assert_eq!(
        (code, out.trim()),
        (2, "error: the vectors file has no `vectors` array of cases")
    );
    let empty = tempfile::tempdir().unwrap();
    let (code, out) = payhook(&["conformance", "--events", empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        out.trim().ends_with("holds no *.json event envelopes"),
        "{out}"
    );
    // A file that is not an event is a failed case, shown with its reason.
    let (code, out) = payhook(&["conformance", "--events", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("FAIL event:bad.json (invalid_json): refused: the event has no `id` field"),
        "{out}"
    );
}
