"""The conformance corpus in ../shared/conformance passes, and the runner really judges cases."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management import call_command

from workflows.engine.conformance import DEFAULT_SHARED, run_conformance

CASES = DEFAULT_SHARED / "cases.json"
DSL = DEFAULT_SHARED / "dsl"


def test_every_conformance_case_passes():
    report = run_conformance(CASES, DSL)
    failures = [result.line() for result in report.results if not result.passed]
    assert failures == []
    assert report.passed == len(json.loads(CASES.read_text())) == 84


def test_the_runner_fails_a_case_whose_expectation_is_wrong(tmp_path: Path):
    cases = {case["case_id"]: case for case in json.loads(CASES.read_text())}
    wrong_output = dict(cases["case-009"], expected_outputs={"query": "something else"})
    wrong_status = dict(cases["case-042"], expected_status="succeeded")
    wrong_chunks = dict(cases["case-067"], expected_stream_chunks=["hello, world!"])
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([wrong_output, wrong_status, wrong_chunks]))
    report = run_conformance(path, DSL)
    assert report.summary() == "0 passed, 3 failed"
    lines = report.lines()
    assert lines[-1] == "0 passed, 3 failed"
    assert any("case-009" in line and "outputs" in line for line in lines)
    assert any("case-042" in line and "status" in line for line in lines)


def test_property_cases_run_many_generated_inputs():
    report = run_conformance(CASES, DSL, only={"case-005", "case-027"})
    assert {result.case_id: result.runs for result in report.results} == {"case-005": 50, "case-027": 36}
    assert report.failed == 0


def test_management_command_prints_failures_and_the_closing_line(capsys):
    call_command("workflow_conformance", "--cases", str(CASES), "--dsl", str(DSL), "--case", "case-009")
    assert capsys.readouterr().out.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_event_sequences_are_normative(tmp_path: Path):
    # given case-004 with its first stream chunk moved after the last node event
    cases = {case["case_id"]: case for case in json.loads(CASES.read_text())}
    sequence = list(cases["case-004"]["expected_event_sequence"])
    sequence.remove("NodeRunStreamChunkEvent")
    sequence.insert(-1, "NodeRunStreamChunkEvent")
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([dict(cases["case-004"], expected_event_sequence=sequence)]))
    # when it runs, then it fails, naming the sequence
    report = run_conformance(path, DSL)
    assert report.summary() == "0 passed, 1 failed"
    assert "event sequence differs" in report.lines()[0]


def test_sequences_are_compared_in_the_vocabulary_of_the_engine_that_asserted_them(tmp_path: Path):
    # case-065 comes from an engine without NodeRunVariableUpdatedEvent: ours emits it (as graphon does),
    # and it is left out of the comparison; the same case taken from graphon must list it
    cases = {case["case_id"]: case for case in json.loads(CASES.read_text())}
    old = cases["case-065"]
    assert "NodeRunVariableUpdatedEvent" not in old["expected_event_sequence"]
    graphon = dict(old, source_version="graphon HEAD")
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([old, graphon]))
    report = run_conformance(path, DSL)
    assert [result.passed for result in report.results] == [True, False]
    assert "NodeRunVariableUpdatedEvent" in report.results[1].failures[0]
