"""WIT values as Python values, and back.

wasmtime lifts a WIT record to an object whose attributes carry the WIT (kebab-case) names, and a
variant to ``Variant(tag, payload)``. The package hands out :class:`Record` (attributes in
snake_case: ``fact.event_id``) and :class:`Case` (``fact.kind.tag``, ``fact.kind.value``). Options
are ``None`` or the value, tuples are tuples, lists are lists, ``s64`` is an ``int``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from wasmtime.component import Record as WitRecord
from wasmtime.component import Variant as WitVariant


class Record(SimpleNamespace):
    """A WIT record: its fields as attributes named in snake_case. Compares by value."""


@dataclass(frozen=True)
class Case:
    """A case of a WIT variant: its name as in the WIT (``payment-succeeded``) and its payload."""

    tag: str
    value: Any = None


def money(minor: int, currency: str) -> Record:
    """A ``money`` value: an amount in the currency's minor unit and its lower-case code."""
    return Record(minor=minor, currency=currency)


def from_wit(value: Any) -> Any:
    """A value as wasmtime lifted it, as the package's values."""
    if isinstance(value, WitRecord):
        return Record(**{name.replace("-", "_"): from_wit(v) for name, v in vars(value).items()})
    if isinstance(value, WitVariant):
        return Case(value.tag, from_wit(value.payload))
    if isinstance(value, list):
        return [from_wit(v) for v in value]
    if isinstance(value, tuple):
        return tuple(from_wit(v) for v in value)
    return value


def to_wit(value: Any) -> Any:
    """One of the package's values as wasmtime lowers it."""
    if isinstance(value, Record):
        record = WitRecord()
        for name, v in vars(value).items():
            setattr(record, name.replace("_", "-"), to_wit(v))
        return record
    if isinstance(value, Case):
        return WitVariant(value.tag, to_wit(value.value))
    if isinstance(value, list):
        return [to_wit(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_wit(v) for v in value)
    return value
