import pytest

import payhook_engine as payhook
from payhook_engine import (
    MAX_BODY_BYTES,
    AmountError,
    Case,
    DecodeError,
    Engine,
    MachineError,
    Record,
    SignatureError,
    WebhookError,
    money,
)

from conftest import event_body

SECRET = "whsec_python_test"
NOW = 1767300000
BODY = event_body("payment_intent.succeeded.json")
HEADER = payhook.sign(BODY, SECRET, NOW)


def test_the_component_imports_nothing(engine):
    assert engine._component.type.imports(engine._engine) == {}


def test_verify_returns_the_timestamp_and_which_secret_matched(engine):
    assert engine.verify(HEADER, BODY, SECRET, now=NOW) == Record(timestamp=NOW, secret_index=0)
    assert engine.verify(HEADER, BODY, ["whsec_newer", SECRET], now=NOW).secret_index == 1
    assert engine.verify(HEADER, BODY.encode(), [SECRET], now=NOW).secret_index == 0


@pytest.mark.parametrize(
    "call, code",
    [
        (lambda e: e.verify(HEADER, BODY + " ", SECRET, now=NOW), "signature-mismatch"),
        (lambda e: e.verify(None, BODY, SECRET, now=NOW), "missing-header"),
        (lambda e: e.verify(HEADER, BODY, SECRET, now=NOW + 301), "timestamp-too-old"),
        (lambda e: e.verify(HEADER, BODY, SECRET, now=NOW, tolerance=0), "invalid-tolerance"),
        (lambda e: e.verify(HEADER, BODY, [], now=NOW), "no-secret"),
        (lambda e: e.receive(HEADER, "x" * (MAX_BODY_BYTES + 1), SECRET, now=NOW), "body-too-large"),
        (lambda e: e.verify(HEADER, b"\xff" * (MAX_BODY_BYTES + 1), SECRET, now=NOW), "body-too-large"),
    ],
)
def test_signature_errors_name_the_wit_case(engine, call, code):
    with pytest.raises(SignatureError) as caught:
        call(engine)
    assert isinstance(caught.value, WebhookError)
    assert caught.value.code == code
    assert caught.value.tag == f"signature/{code}"
    assert SECRET not in str(caught.value)


def test_a_stale_timestamp_carries_its_window(engine):
    with pytest.raises(SignatureError) as caught:
        engine.verify(HEADER, BODY, SECRET, now=NOW + 1000)
    assert caught.value.detail == Record(timestamp=NOW, now=NOW + 1000, tolerance=300)


def test_bytes_that_are_not_utf8_are_refused_with_the_valid_prefix(engine):
    with pytest.raises(DecodeError) as caught:
        engine.verify(HEADER, b'{"\xc3(', SECRET, now=NOW)
    assert (caught.value.code, caught.value.detail) == ("invalid-utf8", 2)


def test_receive_decodes_the_event_and_its_facts(engine):
    delivery = engine.receive(HEADER, BODY, SECRET, now=NOW)
    assert delivery.event.event_type == "payment_intent.succeeded"
    assert delivery.event.object.tag == "payment-intent"
    assert [f.kind for f in delivery.facts] == [Case("payment-succeeded", money(2000, "usd"))]
    stored = engine.decode_stored(BODY)
    assert (stored.event, stored.facts) == (delivery.event, delivery.facts)


def test_a_verified_body_that_is_not_an_event_is_a_decode_error(engine):
    body = '{"object": "charge", "id": "ch_1"}'
    with pytest.raises(DecodeError) as caught:
        engine.receive(engine.sign(body, SECRET, NOW), body, SECRET, now=NOW)
    assert caught.value.tag == "decode/not-an-event"
    with pytest.raises(DecodeError) as caught:
        engine.decode_stored('{"id": ')
    assert caught.value.code == "invalid-json"
    assert caught.value.detail.line == 1


def test_amounts_are_exact(engine):
    assert engine.parse_amount("20.00", "eur") == money(2000, "eur")
    assert engine.parse_amount("500", "jpy") == money(500, "jpy")
    assert engine.format_amount(money(5120, "kwd")) == "5.120"
    assert engine.check_chargeable({"minor": 50, "currency": "usd"}) is None
    with pytest.raises(AmountError) as caught:
        engine.parse_amount("1.234", "eur")
    assert caught.value.code == "too_many_fraction_digits"
    with pytest.raises(AmountError) as caught:
        engine.check_chargeable(money(10, "usd"))
    assert caught.value.code == "below_minimum"
    with pytest.raises(AmountError):
        engine.check_refund(money(600, "usd"), 500)


def test_apply_returns_the_next_state_exactly_as_the_engine_wrote_it(engine):
    fact = engine.receive(HEADER, BODY, SECRET, now=NOW).facts[0]
    decision = engine.apply("invoice", engine.new_invoice(money(2000, "usd")), fact)
    assert decision.applied and decision.ignored is None
    assert decision.next in decision.document
    assert '"status":"paid"' in decision.next
    assert any(e["effect"] == "invoice_paid" for e in decision.effects)
    again = engine.apply("invoice", decision.next, fact)
    assert (again.applied, again.next, again.ignored) == (False, None, "duplicate")


def test_every_kind_of_record_can_be_built(engine):
    for state in (engine.new_appointment("eur"), engine.new_payment("pi_1", "eur"), engine.new_subscription()):
        assert state.startswith("{")


def test_machine_errors(engine):
    fact = engine.receive(HEADER, BODY, SECRET, now=NOW).facts[0]
    with pytest.raises(MachineError) as caught:
        engine.apply("invoice", engine.new_subscription(), fact)
    assert caught.value.code == "invalid-state"
    with pytest.raises(MachineError) as caught:
        engine.new_appointment("euro")
    assert caught.value.code == "invalid-currency"
    with pytest.raises(ValueError):
        engine.apply("ledger", "{}", fact)


def test_a_fresh_instance_per_call_gives_the_same_results(engine):
    fresh = Engine(fresh_instance=True)
    assert fresh.receive(HEADER, BODY, SECRET, now=NOW) == engine.receive(HEADER, BODY, SECRET, now=NOW)
    with pytest.raises(SignatureError):
        fresh.verify(HEADER, "tampered", SECRET, now=NOW)
