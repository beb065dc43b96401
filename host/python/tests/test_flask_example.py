import sys
from pathlib import Path

import pytest

from conftest import event_body

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from flask_app import create_app, process_stored  # noqa: E402

SECRET = "whsec_flask_test"
NOW = 1767300000
BODY = event_body("invoice.paid.json").encode()


@pytest.fixture()
def stored():
    return []


@pytest.fixture()
def client(engine, stored):
    app = create_app([SECRET], store=lambda body, verified: stored.append((body, verified)), engine=engine, now=lambda: NOW)
    return app.test_client()


def test_a_signed_delivery_is_stored_raw_then_acknowledged(client, engine, stored):
    res = client.post("/webhooks/stripe", data=BODY, headers={"Content-Type": "application/json", "Stripe-Signature": engine.sign(BODY, SECRET, NOW)})
    assert res.status_code == 200
    assert [body for body, _ in stored] == [BODY]
    assert process_stored(engine, stored[0][0]) == {"event": "invoice.paid", "facts": ["invoice-paid"]}


@pytest.mark.parametrize(
    "body, signer, error",
    [
        (BODY + b" ", lambda e: e.sign(BODY, SECRET, NOW), "signature/signature-mismatch"),
        (BODY, lambda e: None, "signature/missing-header"),
        (BODY, lambda e: e.sign(BODY, "whsec_other", NOW), "signature/signature-mismatch"),
        (b"\xff" + BODY, lambda e: e.sign(BODY, SECRET, NOW), "decode/invalid-utf8"),
    ],
)
def test_a_bad_delivery_is_a_400_and_is_not_stored(client, engine, stored, body, signer, error):
    header = signer(engine)
    headers = {"Content-Type": "application/json"} | ({"Stripe-Signature": header} if header else {})
    res = client.post("/webhooks/stripe", data=body, headers=headers)
    assert res.status_code == 400
    assert res.get_json()["error"] == error
    assert SECRET not in res.get_data(as_text=True)
    assert stored == []
