"""The engine component in wasmtime, with a Python API.

- Results that succeed return the package's values (:class:`Record`, :class:`Case`, ``int``,
  ``str``; see :mod:`payhook_engine.values`).
- WIT errors are raised as exceptions (:class:`SignatureError`, :class:`DecodeError`,
  :class:`AmountError`, :class:`MachineError`) with the WIT case in ``code``.
- ``apply`` returns a :class:`Decision`.

The engine is sans-IO: it reads no clock and touches nothing. The defaults here (``now`` is the
host's clock, ``tolerance`` 300 s) are the host's choice.
"""

from __future__ import annotations

import threading
import time
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

import wasmtime
from wasmtime import component as wc

from .decision import Decision, read_decision
from .errors import AmountError, DecodeError, EngineTrap, MachineError, SignatureError, webhook_error
from .values import Case, Record, from_wit, to_wit

#: The engine refuses bodies above 1 MiB; the host refuses them before copying them in.
MAX_BODY_BYTES = 1024 * 1024
#: Stripe's default tolerance for the signed timestamp, in seconds.
DEFAULT_TOLERANCE = 300
#: The state machines, in the order the conformance suite applies them.
MACHINES = ("invoice", "appointment", "payment", "subscription")
#: The most linear memory one instance may use.
MEMORY_LIMIT = 32 << 20

Body = Union[str, bytes, bytearray, memoryview]

_WEBHOOK = "payhook:engine/webhook@0.1.2"
_AMOUNTS = "payhook:engine/amounts@0.1.2"
_MACHINES = "payhook:engine/machines@0.1.2"
_EXPORTS = {
    "verify": (_WEBHOOK, "verify"),
    "receive": (_WEBHOOK, "receive"),
    "decode_stored": (_WEBHOOK, "decode-stored"),
    "sign": (_WEBHOOK, "sign"),
    "parse_amount": (_AMOUNTS, "parse-amount"),
    "format_amount": (_AMOUNTS, "format-amount"),
    "check_chargeable": (_AMOUNTS, "check-chargeable"),
    "check_refund": (_AMOUNTS, "check-refund"),
    "new_invoice": (_MACHINES, "new-invoice"),
    "new_appointment": (_MACHINES, "new-appointment"),
    "new_payment": (_MACHINES, "new-payment"),
    "new_subscription": (_MACHINES, "new-subscription"),
    "apply": (_MACHINES, "apply"),
}


def packaged_wasm() -> Path:
    """The component installed with the package."""
    path = Path(str(resources.files("payhook_engine").joinpath("payhook_engine.wasm")))
    if not path.is_file():
        raise FileNotFoundError(
            "the package was installed without its component; reinstall it with PAYHOOK_ENGINE_WASM set "
            "to the file `cargo run -q -p payhook -- export-wasm FILE` writes, or pass Engine(wasm=...)"
        )
    return path


class _Instance:
    """One instance in its own store, with its exports looked up once."""

    def __init__(self, engine: wasmtime.Engine, linker: wc.Linker, component: wc.Component) -> None:
        self.store = wasmtime.Store(engine)
        self.store.set_limits(memory_size=MEMORY_LIMIT)
        instance = linker.instantiate(self.store, component)
        self.funcs: dict[str, wc.Func] = {}
        for name, (iface, export) in _EXPORTS.items():
            index = instance.get_export_index(self.store, export, instance.get_export_index(self.store, iface))
            func = instance.get_func(self.store, index) if index is not None else None
            if func is None:
                raise RuntimeError(f"the component does not export {iface}#{export}")
            self.funcs[name] = func

    def call(self, name: str, *args: Any) -> Any:
        return self.funcs[name](self.store, *args)


class Engine:
    """A loaded engine component.

    By default each thread reuses one instance (the fast path); with ``fresh_instance=True``
    every call gets a new instance, so no state survives between calls. After a trap the
    instance is dropped and the next call instantiates a new one.
    """

    def __init__(self, wasm: Union[str, PathLike[str], bytes, None] = None, *, fresh_instance: bool = False) -> None:
        self._engine = wasmtime.Engine()
        if isinstance(wasm, (bytes, bytearray)):
            self._component = wc.Component(self._engine, bytes(wasm))
        else:
            self._component = wc.Component.from_file(self._engine, str(wasm if wasm is not None else packaged_wasm()))
        imports = self._component.type.imports(self._engine)
        if imports:
            raise RuntimeError(f"the component imports {', '.join(imports)}; the payhook engine imports nothing")
        self._linker = wc.Linker(self._engine)
        self._fresh = fresh_instance
        self._local = threading.local()

    # -- webhook ---------------------------------------------------------------------------

    def verify(self, header: Optional[str], body: Body, secrets: Union[str, Iterable[str]], *, now: Optional[int] = None, tolerance: int = DEFAULT_TOLERANCE) -> Record:
        """Verifies a ``Stripe-Signature`` header over the raw body.

        Returns ``Record(timestamp, secret_index)``; raises :class:`SignatureError`.
        """
        result = self._call("verify", *_webhook_args(header, body, secrets, now, tolerance))
        if isinstance(result, Case):
            raise SignatureError.from_wit(result)
        return result

    def receive(self, header: Optional[str], body: Body, secrets: Union[str, Iterable[str]], *, now: Optional[int] = None, tolerance: int = DEFAULT_TOLERANCE) -> Record:
        """Verifies, decodes and derives facts: the fast path for a webhook receiver.

        Returns ``Record(verified, event, facts)``; raises :class:`SignatureError` or :class:`DecodeError`.
        """
        result = self._call("receive", *_webhook_args(header, body, secrets, now, tolerance))
        if isinstance(result, Case):
            raise webhook_error(result)
        return result

    def decode_stored(self, body: Body) -> Record:
        """Decodes a body verified when it arrived and stored unchanged. Never call it on an unverified body.

        Returns ``Record(event, facts)``; raises :class:`DecodeError`.
        """
        result = self._call("decode_stored", _body_text(body))
        if isinstance(result, Case):
            raise DecodeError.from_wit(result)
        return result

    def sign(self, body: Body, secret: str, timestamp: int) -> str:
        """Signs ``body`` as Stripe would at ``timestamp`` (unix seconds); returns ``t=…,v1=…``."""
        return self._call("sign", _body_text(body), secret, timestamp)

    # -- amounts ---------------------------------------------------------------------------

    def parse_amount(self, text: str, currency: str) -> Record:
        """Parses a decimal text in ``currency`` into ``Record(minor, currency)`` exactly; raises :class:`AmountError`."""
        # Both sides are records, so wasmtime tags this result: Case("ok" | "err", …).
        result = self._call("parse_amount", text, currency)
        if result.tag == "err":
            raise AmountError.from_wit(result.value)
        return result.value

    def format_amount(self, amount: Any) -> str:
        """Formats an amount with the currency's digits (``2000 eur`` → ``20.00``)."""
        result = self._call("format_amount", _money(amount))
        if isinstance(result, Record):
            raise AmountError.from_wit(result)
        return result

    def check_chargeable(self, amount: Any) -> None:
        """Raises :class:`AmountError` unless ``amount`` may be charged."""
        result = self._call("check_chargeable", _money(amount))
        if result is not None:
            raise AmountError.from_wit(result)

    def check_refund(self, amount: Any, refundable: int) -> None:
        """Raises :class:`AmountError` unless ``amount`` may be refunded when ``refundable`` minor units remain."""
        result = self._call("check_refund", _money(amount), refundable)
        if result is not None:
            raise AmountError.from_wit(result)

    # -- machines --------------------------------------------------------------------------

    def new_invoice(self, amount_due: Any) -> str:
        """A finalized invoice of ``amount_due``, open for payment: its state document (JSON text)."""
        return self._machine("new_invoice", _money(amount_due))

    def new_appointment(self, currency: str) -> str:
        """A new appointment holding its slot, in ``currency``: its state document."""
        return self._machine("new_appointment", currency)

    def new_payment(self, id: str, currency: str) -> str:
        """A new payment with Stripe id ``id`` in ``currency``: its state document."""
        return self._machine("new_payment", id, currency)

    def new_subscription(self) -> str:
        """A new subscription: its state document."""
        return self._call("new_subscription")

    def apply(self, machine: str, state: str, fact: Record) -> Decision:
        """Applies ``fact`` (from ``receive`` or ``decode_stored``) to a record of ``machine``.

        Returns a :class:`Decision`: ``next`` is the state document to store (``None`` when the
        fact is ignored). Raises :class:`MachineError`.
        """
        return read_decision(self.apply_document(machine, state, fact))

    def apply_document(self, machine: str, state: str, fact: Record) -> str:
        """As :meth:`apply`, but returns the decision document exactly as the engine wrote it."""
        if machine not in MACHINES:
            raise ValueError(f"unknown machine {machine!r}; one of {', '.join(MACHINES)}")
        return self._machine("apply", machine, state, to_wit(fact))

    # -- calls -----------------------------------------------------------------------------

    def _machine(self, name: str, *args: Any) -> str:
        result = self._call(name, *args)
        if isinstance(result, Case):
            raise MachineError.from_wit(result)
        return result

    def _instance(self) -> _Instance:
        if self._fresh:
            return _Instance(self._engine, self._linker, self._component)
        instance = getattr(self._local, "instance", None)
        if instance is None:
            instance = self._local.instance = _Instance(self._engine, self._linker, self._component)
        return instance

    def _call(self, name: str, *args: Any) -> Any:
        instance = self._instance()
        try:
            return from_wit(instance.call(name, *args))
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            # A trap (or a failed call): this instance is not to be trusted again.
            self._local.instance = None
            raise EngineTrap(e) from e


def _webhook_args(header: Optional[str], body: Body, secrets: Union[str, Iterable[str]], now: Optional[int], tolerance: int) -> tuple[Any, ...]:
    if isinstance(body, str):
        size = len(body) if body.isascii() else len(body.encode("utf-8"))
    else:
        size = memoryview(body).nbytes if isinstance(body, (bytes, bytearray, memoryview)) else 0
    if size > MAX_BODY_BYTES:
        # Refused before it is copied into the sandbox; the engine would refuse it too.
        raise SignatureError.from_wit(Case("body-too-large", Record(actual=size, max=MAX_BODY_BYTES)))
    text = _body_text(body)
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    return (header, text, candidates, int(time.time()) if now is None else now, tolerance)


def _body_text(body: Body) -> str:
    """The raw body as text: a ``str`` as it is, bytes only when they are UTF-8 (as every Stripe event is)."""
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError.from_wit(Case("invalid-utf8", e.start)) from None
    raise TypeError("the body must be str or bytes (the raw request body)")


def _money(amount: Any) -> Record:
    if isinstance(amount, dict):
        return Record(minor=amount["minor"], currency=amount["currency"])
    return Record(minor=amount.minor, currency=amount.currency)


_default: Optional[Engine] = None
_default_lock = threading.Lock()


def engine() -> Engine:
    """The shared engine behind the module-level functions (the packaged component)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def _shared(name: str) -> Callable[..., Any]:
    method = getattr(Engine, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        return method(engine(), *args, **kwargs)

    call.__name__ = name
    call.__doc__ = method.__doc__
    return call


verify = _shared("verify")
receive = _shared("receive")
decode_stored = _shared("decode_stored")
sign = _shared("sign")
parse_amount = _shared("parse_amount")
format_amount = _shared("format_amount")
check_chargeable = _shared("check_chargeable")
check_refund = _shared("check_refund")
new_invoice = _shared("new_invoice")
new_appointment = _shared("new_appointment")
new_payment = _shared("new_payment")
new_subscription = _shared("new_subscription")
apply = _shared("apply")
