"""Per-call cost of verify + decode + decide on the Python host: ``receive`` of the 3 KB
payment_intent.succeeded envelope, then ``apply`` to an invoice for each fact. Prints a Markdown
table. A measurement, not a test::

    python bench/bench.py [--iterations N] [--fresh-iterations N]
"""

import argparse
import importlib.metadata
import platform
import statistics
import time
from pathlib import Path

from payhook_engine import Engine, money

BODY = (Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "stripe-events" / "events" / "payment_intent.succeeded.json").read_text(encoding="utf-8")
SECRET = "whsec_bench"
NOW = 1767300000


def measure(f, n: int, warmup: int) -> dict:
    """Mean, median and 99th percentile in µs over ``n`` timed calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        f()
    samples = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    samples.sort()
    return {"n": n, "mean": total / n * 1e6, "p50": statistics.median(samples) * 1e6, "p99": samples[int(n * 0.99)] * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--fresh-iterations", type=int, default=300)
    args = parser.parse_args()

    reused = Engine()
    fresh = Engine(fresh_instance=True)
    header = reused.sign(BODY, SECRET, NOW)
    invoice = reused.new_invoice(money(2000, "usd"))
    facts = reused.receive(header, BODY, [SECRET], now=NOW).facts

    def receive_and_decide(engine: Engine) -> None:
        delivery = engine.receive(header, BODY, [SECRET], now=NOW)
        for fact in delivery.facts:
            engine.apply("invoice", invoice, fact)

    n, warm = args.iterations, args.iterations // 4
    rows = [
        ("receive + apply(invoice) per fact, reused instance", measure(lambda: receive_and_decide(reused), n, warm)),
        ("verify only, reused instance", measure(lambda: reused.verify(header, BODY, [SECRET], now=NOW), n, warm)),
        ("decode_stored only, reused instance", measure(lambda: reused.decode_stored(BODY), n, warm)),
        ("apply(invoice) only, reused instance", measure(lambda: reused.apply("invoice", invoice, facts[0]), n, warm)),
        ("receive + apply(invoice), fresh instance per call", measure(lambda: receive_and_decide(fresh), args.fresh_iterations, 10)),
    ]
    print(f"Python {platform.python_version()}, wasmtime-py {importlib.metadata.version('wasmtime')}, {len(BODY.encode())}-byte body, {len(facts)} fact(s)\n")
    print("| what | calls | mean µs | p50 µs | p99 µs |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for what, r in rows:
        print(f"| {what} | {r['n']} | {r['mean']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} |")


if __name__ == "__main__":
    main()
