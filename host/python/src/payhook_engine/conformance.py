"""The conformance suite on this host.

Every signature vector and event envelope goes through the component, each case's outcome computed
exactly as the Rust host's ``payhook conformance --json`` computes it, then compared with that
golden output. Ends with ``N passed, N failed``; exits 1 on any failure, 2 on bad input::

    python -m payhook_engine.conformance --vectors FILE --events DIR --expected FILE
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from .engine import MACHINES, Engine
from .errors import PayhookError, WebhookError
from .values import Record, money

#: The secret, clock and tolerance every event envelope is signed and received with.
EVENT_SECRET = "whsec_conformance"
EVENT_NOW = 1767300000
EVENT_TOLERANCE = 300
#: The payment id of the new payment record each fact is applied to.
_PAYMENT_ID = "pi_conformance"
_I64 = (-(2**63), 2**63 - 1)
_SUMMARY = re.compile(r"^\d+ passed, \d+ failed$")


class ConformanceInputError(Exception):
    """A vectors, events or golden file that cannot be used."""


def read_text(path: "os.PathLike[str] | str") -> str:
    """Reads a text file that must be UTF-8 (as Rust's ``read_to_string`` demands)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConformanceInputError(f"reading {path}: {e}") from None


def parse_vectors(text: str) -> list[dict[str, Any]]:
    """The cases of a vectors file (format ``stripe-signature-vectors/1``): ``vectors``, then ``divergent``."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ConformanceInputError(f"the vectors file is not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("vectors"), list):
        raise ConformanceInputError("the vectors file has no `vectors` array of cases")
    cases = doc["vectors"] + (doc["divergent"] if isinstance(doc.get("divergent"), list) else [])
    vectors = []
    for index, v in enumerate(cases):
        v = v if isinstance(v, dict) else {}

        def string(field: str) -> str:
            if not isinstance(v.get(field), str):
                raise ConformanceInputError(f"vector #{index} has no valid `{field}`")
            return v[field]

        def integer(field: str) -> int:
            value = v.get(field)
            if not isinstance(value, int) or isinstance(value, bool) or not _I64[0] <= value <= _I64[1]:
                raise ConformanceInputError(f"vector #{index} has no valid `{field}`")
            return value

        vector = {
            "id": string("id"),
            "payload": string("payload"),
            "secret": string("secret"),
            "header": v["header"] if isinstance(v.get("header"), str) else None,
            "now": integer("now"),
            "tolerance": integer("tolerance"),
        }
        if string("expected") != "divergent":
            string("expected_verify_header")
        vectors.append(vector)
    return vectors


def read_events(directory: "os.PathLike[str] | str") -> list[tuple[str, str]]:
    """The ``*.json`` envelopes of a directory, as ``(file name, body)``, sorted by file name bytes."""
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".json") and n != ".json"]
    except OSError as e:
        raise ConformanceInputError(f"reading {directory}: {e}") from None
    names.sort(key=lambda n: n.encode("utf-8", "surrogateescape"))
    if not names:
        raise ConformanceInputError(f"{directory} holds no *.json event envelopes")
    return [(n, read_text(Path(directory, n))) for n in names]


def run_cases(engine: Engine, vectors: Sequence[dict[str, Any]], events: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every case's ``{"case", "outcome"}``: the vectors, then the events."""
    results = [{"case": f"vector:{v['id']}", "outcome": vector_outcome(engine, v)} for v in vectors]
    results += [{"case": f"event:{name}", "outcome": event_outcome(engine, body)} for name, body in events]
    return results


def vector_outcome(engine: Engine, v: dict[str, Any]) -> dict[str, Any]:
    """A vector received with its own header, secret, clock and tolerance; no decisions."""
    try:
        delivery = engine.receive(v["header"], v["payload"], [v["secret"]], now=v["now"], tolerance=v["tolerance"])
    except WebhookError as e:
        return {"error": e.tag}
    return _outcome(delivery, [])


def event_outcome(engine: Engine, body: str) -> dict[str, Any]:
    """An envelope signed and received at the suite's clock, each fact decided by a new record of each machine."""
    header = engine.sign(body, EVENT_SECRET, EVENT_NOW)
    try:
        delivery = engine.receive(header, body, [EVENT_SECRET], now=EVENT_NOW, tolerance=EVENT_TOLERANCE)
    except WebhookError as e:
        return {"error": e.tag}
    return _outcome(delivery, [[_decision(engine, m, fact) for m in MACHINES] for fact in delivery.facts])


def _outcome(delivery: Record, decisions: list[list[str]]) -> dict[str, Any]:
    return {
        "timestamp": delivery.verified.timestamp,
        "secret_index": delivery.verified.secret_index,
        "event_id": delivery.event.id,
        "event_type": delivery.event.event_type,
        "facts": [f.kind.tag for f in delivery.facts],
        "decisions": decisions,
    }


def _decision(engine: Engine, machine: str, fact: Record) -> str:
    try:
        return engine.apply_document(machine, _new_state(engine, machine, fact), fact)
    except PayhookError as e:
        # The Rust host writes its own error text here; no golden case has one.
        return f"machine/{e.code}"


def _new_state(engine: Engine, machine: str, fact: Record) -> str:
    """The new record each machine starts from for ``fact`` (as the Rust host's ``new_state``)."""
    amount = fact_amount(fact)
    if machine == "invoice":
        return engine.new_invoice(amount)
    if machine == "appointment":
        return engine.new_appointment(amount.currency)
    if machine == "payment":
        return engine.new_payment(_PAYMENT_ID, amount.currency)
    return engine.new_subscription()


def fact_amount(fact: Record) -> Record:
    """The amount a fact names, or 20.00 USD when it names none (as the Rust host's ``fact_amount``)."""
    tag, value = fact.kind.tag, fact.kind.value
    if tag in ("payment-succeeded", "payment-processing", "dispute-lost", "invoice-finalized", "invoice-paid"):
        return value
    if tag in ("payment-failed", "payout-failed"):
        return value.amount
    if tag in ("payment-requires-action", "refunded", "refund-failed", "dispute-opened", "invoice-payment-failed", "payout-paid"):
        return value[0]
    if tag in ("checkout-completed-paid", "checkout-async-payment-succeeded") and value is not None:
        return value
    return money(2000, "usd")


def parse_golden(text: str) -> dict[str, list[Any]]:
    """The golden lines (``{"case","outcome",…}``), by case, in order; the summary line is skipped."""
    golden: dict[str, list[Any]] = {}
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or _SUMMARY.match(line):
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise ConformanceInputError(f"golden line {number} is not JSON: {e}") from None
        if not isinstance(row, dict) or not isinstance(row.get("case"), str) or "outcome" not in row:
            raise ConformanceInputError(f"golden line {number} has no `case` and `outcome`")
        golden.setdefault(row["case"], []).append(row["outcome"])
    return golden


def compare(results: Sequence[dict[str, Any]], golden: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Each case's ``{"case", "ok", "why"}``: failed when its outcome differs, when the golden file
    lacks it, or when the golden file has a case this run did not produce."""
    remaining = {name: list(outcomes) for name, outcomes in golden.items()}
    report = []
    for result in results:
        name, outcome = result["case"], result["outcome"]
        left = remaining.get(name)
        if not left:
            report.append({"case": name, "ok": False, "why": ["no line for this case in the golden file"]})
            continue
        expected = left.pop(0)
        why = difference(expected, outcome, "outcome")
        report.append({"case": name, "ok": not why, "why": why})
    for name, left in remaining.items():
        report += [{"case": name, "ok": False, "why": ["in the golden file, but this run did not produce it"]} for _ in left]
    return report


def difference(expected: Any, actual: Any, path: str) -> list[str]:
    """Where two JSON values differ, one line per difference (``1`` and ``true`` differ)."""
    if isinstance(expected, list) and isinstance(actual, list):
        lines = [] if len(expected) == len(actual) else [f"{path}: expected {len(expected)} items, got {len(actual)}"]
        for i, (e, a) in enumerate(zip(expected, actual)):
            lines += difference(e, a, f"{path}[{i}]")
        return lines
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = []
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                lines.append(f"{path}.{key}: expected {json.dumps(expected[key])}, missing")
            elif key not in expected:
                lines.append(f"{path}.{key}: not expected, got {json.dumps(actual[key])}")
            else:
                lines += difference(expected[key], actual[key], f"{path}.{key}")
        return lines
    if type(expected) is type(actual) and expected == actual:
        return []
    return [f"{path}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]


def main(argv: Optional[Sequence[str]] = None, *, fixtures: Optional[Path] = None, engine: Optional[Engine] = None) -> int:
    """The command line; ``fixtures`` is the repo's ``tests/fixtures`` when the caller knows it."""
    parser = argparse.ArgumentParser(description="Runs the payhook conformance suite on the Python host and compares it with the Rust host's golden output.")
    parser.add_argument("--vectors", metavar="FILE", help="a vectors file (format stripe-signature-vectors/1)")
    parser.add_argument("--events", metavar="DIR", help="a directory of event envelopes (*.json)")
    parser.add_argument("--expected", metavar="FILE", help="the golden output: `payhook conformance --json` for the same files")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case, not only failures")
    args = parser.parse_args(argv)
    try:
        if (args.vectors or args.events) and not args.expected:
            raise ConformanceInputError("--vectors/--events need --expected FILE: the Rust host's `payhook conformance --json` output for the same files")
        if fixtures is None and not (args.vectors and args.events and args.expected):
            raise ConformanceInputError("outside the repo, give --vectors, --events and --expected")
        vectors = parse_vectors(read_text(args.vectors or fixtures / "stripe-vectors/vectors.json"))
        events = read_events(args.events or fixtures / "stripe-events/events")
        golden = parse_golden(read_text(args.expected or fixtures / "conformance/expected.jsonl"))
    except ConformanceInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = compare(run_cases(engine or Engine(), vectors, events), golden)
    for r in report:
        if not r["ok"]:
            print(f"FAIL {r['case']}\n" + "\n".join(f"  {line}" for line in r["why"]))
        elif args.verbose:
            print(f"ok   {r['case']}")
    failed = sum(1 for r in report if not r["ok"])
    print(f"{len(report) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
