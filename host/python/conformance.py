"""Runs the conformance suite on the Python host against the repo's golden file.

    python conformance.py                                   # tests/fixtures, against tests/fixtures/conformance/expected.jsonl
    python conformance.py --vectors FILE --events DIR --expected FILE
"""

import sys
from pathlib import Path

from payhook_engine.conformance import main

if __name__ == "__main__":
    sys.exit(main(fixtures=Path(__file__).resolve().parents[2] / "tests" / "fixtures"))
