from payhook_engine.conformance import compare, difference, main, parse_golden, parse_vectors, read_events, read_text, run_cases


def test_every_case_gives_exactly_the_rust_hosts_outcome(engine, fixtures):
    vectors = parse_vectors(read_text(fixtures / "stripe-vectors" / "vectors.json"))
    events = read_events(fixtures / "stripe-events" / "events")
    golden = parse_golden(read_text(fixtures / "conformance" / "expected.jsonl"))
    report = compare(run_cases(engine, vectors, events), golden)
    assert len(report) == len(vectors) + len(events) == 109
    assert [r for r in report if not r["ok"]] == []


def test_a_changed_missing_or_extra_case_fails():
    golden = parse_golden('{"case":"a","outcome":{"error":"signature/missing-header"}}\n{"case":"c","outcome":{}}\n2 passed, 0 failed\n')
    report = compare([{"case": "a", "outcome": {"error": "signature/no-secret"}}, {"case": "b", "outcome": {}}], golden)
    assert [(r["case"], r["ok"]) for r in report] == [("a", False), ("b", False), ("c", False)]
    assert report[0]["why"] == ['outcome.error: expected "signature/missing-header", got "signature/no-secret"']


def test_differences_are_named_by_path_and_type():
    assert difference({"facts": ["x"], "n": 1}, {"facts": ["y", "z"], "n": True, "extra": 1}, "o") == [
        "o.extra: not expected, got 1",
        "o.facts: expected 1 items, got 2",
        'o.facts[0]: expected "x", got "y"',
        "o.n: expected 1, got true",
    ]


def test_the_command_line_ends_with_the_summary(engine, fixtures, capsys):
    assert main([], fixtures=fixtures, engine=engine) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "109 passed, 0 failed"
    assert main(["--vectors", str(fixtures / "stripe-vectors" / "vectors.json")], fixtures=fixtures, engine=engine) == 2
