"""What passing a webhook body costs in wasmtime-py: ``list<u8>`` against ``string``.

A minimal component (WAT below, no engine logic) exports two functions that take the body and
return its length, one as ``list<u8>`` and one as ``string``; the difference is the binding's
lowering alone. The engine's WIT takes the body as ``string`` because of this. A measurement,
not a test::

    python bench/bench_body.py [--iterations N]
"""

import argparse
import importlib.metadata
import statistics
import time
from pathlib import Path

import wasmtime
from wasmtime import component as wc

# A bump allocator reset by every call: the lowered body lands at offset 1024 each time.
WAT = """
(component
  (core module $m
    (memory (export "memory") 64)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (global.get $next) (local.get 3)))
      (local.get $at))
    (func (export "length") (param i32 i32) (result i32)
      (global.set $next (i32.const 1024))
      (local.get 1)))
  (core instance $i (instantiate $m))
  (func (export "bytes-length") (param "body" (list u8)) (result u32)
    (canon lift (core func $i "length") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func (export "string-length") (param "body" string) (result u32)
    (canon lift (core func $i "length") (memory (core memory $i "memory")) (realloc (core func $i "realloc")))))
"""

BODY = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "stripe-events" / "events" / "payment_intent.succeeded.json"


def per_call_us(f, n: int) -> tuple[float, float]:
    for _ in range(max(1, n // 10)):
        f()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return statistics.mean(samples) * 1e6, statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()

    engine = wasmtime.Engine()
    component = wc.Component(engine, WAT)
    store = wasmtime.Store(engine)
    instance = wc.Linker(engine).instantiate(store, component)
    as_bytes = instance.get_func(store, "bytes-length")
    as_string = instance.get_func(store, "string-length")

    body = BODY.read_bytes()
    text = body.decode("utf-8")
    assert as_bytes(store, body) == len(body) and as_string(store, text) == len(body)

    print(f"wasmtime-py {importlib.metadata.version('wasmtime')}, {len(body)}-byte body, {args.iterations} calls each\n")
    print("| body passed as | mean µs | median µs |")
    print("| --- | ---: | ---: |")
    for label, f in (("list<u8> (bytes)", lambda: as_bytes(store, body)), ("string (str)", lambda: as_string(store, text))):
        mean, median = per_call_us(f, args.iterations)
        print(f"| {label} | {mean:.1f} | {median:.1f} |")
    for size in (16 * 1024, 64 * 1024):
        big = (body * (size // len(body) + 1))[:size]
        mean_b, _ = per_call_us(lambda: as_bytes(store, big), 20)
        mean_s, _ = per_call_us(lambda: as_string(store, big.decode("utf-8", "ignore")), 20)
        print(f"| {size // 1024} KiB: list<u8> / string | {mean_b:.1f} / {mean_s:.1f} | |")


if __name__ == "__main__":
    main()
