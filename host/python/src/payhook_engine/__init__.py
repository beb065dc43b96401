"""payhook's engine component (``payhook:engine@0.1.2``) in Python, through wasmtime.

Verify Stripe webhooks, decode events into facts, and decide what each fact does to a host's
records, with the same WebAssembly component every payhook host runs::

    from payhook_engine import Engine, SignatureError

    engine = Engine()
    delivery = engine.receive(header, raw_body, [secret])
    decision = engine.apply("invoice", engine.new_invoice(amount), delivery.facts[0])
"""

from .decision import Decision, read_decision
from .engine import (
    DEFAULT_TOLERANCE,
    MACHINES,
    MAX_BODY_BYTES,
    Engine,
    apply,
    check_chargeable,
    check_refund,
    decode_stored,
    engine,
    format_amount,
    new_appointment,
    new_invoice,
    new_payment,
    new_subscription,
    packaged_wasm,
    parse_amount,
    receive,
    sign,
    verify,
)
from .errors import AmountError, DecodeError, EngineTrap, MachineError, PayhookError, SignatureError, WebhookError
from .values import Case, Record, money

__all__ = [
    "DEFAULT_TOLERANCE",
    "MACHINES",
    "MAX_BODY_BYTES",
    "AmountError",
    "Case",
    "Decision",
    "DecodeError",
    "Engine",
    "EngineTrap",
    "MachineError",
    "PayhookError",
    "Record",
    "SignatureError",
    "WebhookError",
    "apply",
    "check_chargeable",
    "check_refund",
    "decode_stored",
    "engine",
    "format_amount",
    "money",
    "new_appointment",
    "new_invoice",
    "new_payment",
    "new_subscription",
    "packaged_wasm",
    "parse_amount",
    "read_decision",
    "receive",
    "sign",
    "verify",
]
