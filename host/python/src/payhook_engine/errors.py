"""The engine's WIT errors as Python exceptions.

Every exception carries the WIT case in ``code`` and its payload in ``detail``; no message ever
contains a secret (no WIT case carries one).
"""

from __future__ import annotations

import json
from typing import Any

from .values import Case, Record


class PayhookError(Exception):
    """Any error the engine reports."""

    def __init__(self, message: str, code: str, detail: Any = None) -> None:
        super().__init__(message)
        #: The WIT case (``signature-mismatch``, …) or, for amounts, the engine's snake_case code.
        self.code = code
        #: The case's payload (a :class:`Record`, an ``int``, a ``str``) or ``None``.
        self.detail = detail


class WebhookError(PayhookError):
    """``receive``, ``verify`` or ``decode_stored`` refused a delivery."""

    #: ``signature`` or ``decode``: the WIT ``webhook-error`` case.
    kind = ""

    @property
    def tag(self) -> str:
        """``signature/<case>`` or ``decode/<case>``, as the conformance golden file names outcomes."""
        return f"{self.kind}/{self.code}"


class SignatureError(WebhookError):
    """The signature did not verify (WIT ``signature-error``). A receiver answers 400."""

    kind = "signature"

    @classmethod
    def from_wit(cls, case: Case) -> "SignatureError":
        return cls(_signature_message(case.tag, case.value), case.tag, case.value)


class DecodeError(WebhookError):
    """The signature verified but the body is not a usable event (WIT ``decode-error``)."""

    kind = "decode"

    @classmethod
    def from_wit(cls, case: Case) -> "DecodeError":
        return cls(_decode_message(case.tag, case.value), case.tag, case.value)


class AmountError(PayhookError):
    """An amount was refused (WIT ``money-error``); ``code`` is the engine's snake_case code."""

    @classmethod
    def from_wit(cls, error: Record) -> "AmountError":
        return cls(error.message, error.code)


class MachineError(PayhookError):
    """A machine call was refused (WIT ``machine-error``: ``invalid-state``, ``invalid-currency``)."""

    @classmethod
    def from_wit(cls, case: Case) -> "MachineError":
        if case.tag == "invalid-state":
            message = f"the state document is not a state of that machine: {case.value}"
        else:
            message = f"invalid currency code {json.dumps(case.value)}"
        return cls(message, case.tag, case.value)


class EngineTrap(PayhookError):
    """The component trapped. Its instance is dropped; the next call gets a fresh one."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"the engine component trapped: {cause}", "trap")


def webhook_error(case: Case) -> WebhookError:
    """A WIT ``webhook-error`` as the matching exception."""
    if case.tag == "signature":
        return SignatureError.from_wit(case.value)
    return DecodeError.from_wit(case.value)


def _signature_message(tag: str, v: Any) -> str:
    messages = {
        "missing-header": lambda: "the Stripe-Signature header is absent or empty",
        "header-too-large": lambda: f"the Stripe-Signature header has {v.actual} bytes, more than {v.max}",
        "element-without-equals": lambda: f"element {v} of the Stripe-Signature header has no '='",
        "missing-timestamp": lambda: "the Stripe-Signature header has no t=",
        "duplicate-timestamp": lambda: "the Stripe-Signature header has t= more than once",
        "invalid-timestamp": lambda: "the signed timestamp t= is not 1 to 19 ASCII digits",
        "no-v1-signature": lambda: "the Stripe-Signature header has no v1= signature",
        "too-many-signatures": lambda: f"the Stripe-Signature header has {v.actual} v1 signatures, more than {v.max}",
        "no-secret": lambda: "no signing secret was given",
        "blank-secret": lambda: f"signing secret #{v} is empty or white space",
        "too-many-secrets": lambda: f"{v.actual} candidate signing secrets, more than {v.max}",
        "invalid-tolerance": lambda: f"the tolerance must be at least 1 second, got {v}",
        "body-too-large": lambda: f"the body has {v.actual} bytes, more than {v.max}",
        "signature-mismatch": lambda: "no v1 signature matches the body under any candidate secret",
        "timestamp-too-old": lambda: f"the signed timestamp {v.timestamp} is more than {v.tolerance} s before now ({v.now})",
        "timestamp-in-future": lambda: f"the signed timestamp {v.timestamp} is more than {v.tolerance} s after now ({v.now})",
    }
    return messages.get(tag, lambda: f"signature error {tag}")()


def _decode_message(tag: str, v: Any) -> str:
    messages = {
        "invalid-utf8": lambda: f"the body is not UTF-8 (valid up to byte {v})",
        "invalid-json": lambda: f"the body is not a JSON object: {v.message} at line {v.line} column {v.column}",
        "nesting-too-deep": lambda: "the JSON is nested too deeply",
        "wrong-type": lambda: f"{v.field} must be {v.expected}",
        "missing-field": lambda: f"the event has no {v}",
        "not-an-event": lambda: f"the JSON is {json.dumps(v)}, not an event",
        "thin-event-notification": lambda: f"a thin event notification ({v.event_type} {v.id}): fetch the event from the API",
        "invalid-currency": lambda: f"invalid currency code {json.dumps(v)}",
        "invalid-amount": lambda: f"{v.field} is not a valid amount",
    }
    return messages.get(tag, lambda: f"decode error {tag}")()
