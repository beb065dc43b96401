from pathlib import Path

import pytest

from payhook_engine import Engine

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


def event_body(name: str) -> str:
    return (FIXTURES / "stripe-events" / "events" / name).read_text(encoding="utf-8")
