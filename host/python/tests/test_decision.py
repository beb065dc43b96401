from payhook_engine import read_decision
from payhook_engine.decision import raw_member


def test_a_member_is_cut_out_byte_for_byte():
    doc = '{ "a" : "x}\\"{" , "applied" : {"next": {"k": [1, {"s": "]}"}], "n": 12345678901234567890}, "effects": []} }'
    assert raw_member(raw_member(doc, "applied"), "next") == '{"k": [1, {"s": "]}"}], "n": 12345678901234567890}'
    assert raw_member(doc, "missing") is None


def test_both_kinds_of_decision_are_read():
    applied = read_decision('{"applied":{"next":{"status":"paid"},"effects":[{"effect":"invoice_paid"}]}}')
    assert (applied.applied, applied.next, applied.effects, applied.ignored) == (True, '{"status":"paid"}', [{"effect": "invoice_paid"}], None)
    rejected = read_decision('{"ignored":{"rejected":{"condition":"currency_mismatch"}}}')
    assert (rejected.applied, rejected.ignored) == (False, {"rejected": {"condition": "currency_mismatch"}})
