"""The decision document ``apply`` returns, read.

The next state is cut out of the document as the engine wrote it, byte for byte, so a host stores
exactly what the engine made.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Decision:
    """``{"applied":{"next":<state>,"effects":[…]}}`` or ``{"ignored":<reason>}``, read."""

    #: True when the fact changed the record.
    applied: bool
    #: The new state document to store, exactly as the engine wrote it; ``None`` when ignored.
    next: Optional[str]
    #: What the host must do (``{"effect": "invoice_paid", …}``); empty when ignored.
    effects: list[dict[str, Any]] = field(default_factory=list)
    #: ``"stale"``, ``"duplicate"``, ``"not_applicable"`` or ``{"rejected": {…}}``; ``None`` when applied.
    ignored: Any = None
    #: The whole decision document as the engine wrote it.
    document: str = ""


def read_decision(document: str) -> Decision:
    """Reads a decision document."""
    parsed = json.loads(document)
    if "applied" in parsed:
        applied = raw_member(document, "applied")
        next_state = raw_member(applied, "next") if applied is not None else None
        return Decision(True, next_state, parsed["applied"].get("effects", []), None, document)
    return Decision(False, None, [], parsed.get("ignored"), document)


def raw_member(text: str, key: str) -> Optional[str]:
    """The raw text of member ``key`` of the JSON object ``text`` (which must be valid JSON)."""
    i = _skip_space(text, 0)
    if text[i : i + 1] != "{":
        raise ValueError("the decision document is not a JSON object")
    i = _skip_space(text, i + 1)
    while text[i : i + 1] == '"':
        name, i = _DECODER.raw_decode(text, i)
        i = _skip_space(text, _skip_space(text, i) + 1)  # past the ':'
        _, end = _DECODER.raw_decode(text, i)
        if name == key:
            return text[i:end]
        i = _skip_space(text, end)
        if text[i : i + 1] == ",":
            i = _skip_space(text, i + 1)
    return None


def _skip_space(text: str, i: int) -> int:
    return _SPACE.match(text, i).end()
