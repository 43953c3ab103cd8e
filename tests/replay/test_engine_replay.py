"""The engine's replay wrappers: record a run's outside calls, play them back, no Django."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tests.engine.helpers import FakeModel, chain, end, graph, node, run, start
from workflows.engine import HttpRequest, HttpResponse, NodeFailed, Ports
from workflows.engine.replay import REDACTED, RecordingPorts, ReplayLog, replaying_ports

MODEL = {"provider": "openai", "name": "gpt-4o", "mode": "chat", "completion_params": {}}
SECRET = "sk-live-0123456789"


class EchoHttp:
    """The remote peer of the http-request node: answers with what it was sent."""

    def __init__(self) -> None:
        self.calls = 0

    async def request(self, request: HttpRequest) -> HttpResponse:
        self.calls += 1
        body = json.dumps(
            {
                "url": request.url,
                "auth": {k.lower(): v for k, v in request.headers.items()}.get("authorization", ""),
            }
        )
        return HttpResponse(200, {"content-type": "application/json", "set-cookie": "s=1"}, body.encode())


class UpperCode:
    def __init__(self) -> None:
        self.calls = 0

    async def execute(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {"result": str(inputs["text"]).upper()}


def app_graph(prompt: str = "{{#start.q#}}") -> dict[str, Any]:
    return graph(
        [
            start("q"),
            node("llm", "llm", model=MODEL, prompt_template=[{"role": "user", "text": prompt}]),
            node(
                "c",
                "code",
                code_language="python3",
                code="def main(text):\n    return {'result': text.upper()}\n",
                outputs={"result": {"type": "string"}},
                variables=[{"variable": "text", "value_selector": ["llm", "text"]}],
            ),
            node(
                "h",
                "http-request",
                method="get",
                url="http://peer.example/echo",
                authorization={"type": "api-key", "config": {"type": "bearer", "api_key": SECRET}},
                headers="",
                params="",
                body={"type": "none", "data": []},
            ),
            end(text=["llm", "text"], shout=["c", "result"], body=["h", "body"]),
        ],
        chain("start", "llm", "c", "h", "end"),
    )


def live_ports() -> tuple[Ports, FakeModel, UpperCode, EchoHttp]:
    model, code, http = FakeModel("bonjour le monde"), UpperCode(), EchoHttp()
    return Ports(models=model, code=code, http=http), model, code, http


async def record() -> tuple[Any, ReplayLog]:
    ports, *_ = live_ports()
    recording = RecordingPorts(ports, secrets=[SECRET])
    outcome = await run(app_graph(), inputs={"q": "hello"}, ports=recording.ports)
    return outcome, recording.log


async def test_recording_keys_calls_by_node_and_order_and_redacts_secrets():
    # given a run of an llm -> code -> http graph, recorded
    outcome, log = await record()
    # then the outputs are the live ones and each outside call is in the log under its node
    assert outcome.outputs["shout"] == "BONJOUR LE MONDE"
    keys = [(e["node_id"], e["port"], e["seq"]) for e in log.entries]
    assert keys == [("llm", "models", 0), ("c", "code", 0), ("h", "http", 0)]
    # and no secret survives: not the bearer header, not the key echoed back in the body, not cookies
    text = json.dumps(log.to_dict())
    assert SECRET not in text
    http = log.entries[2]
    assert http["request"]["headers"]["Authorization"] == REDACTED
    assert http["response"]["headers"]["set-cookie"] == REDACTED


async def test_replay_answers_from_the_log_without_calling_the_outside():
    # given a recorded run, serialised as it is stored
    recorded_outcome, log = await record()
    stored = ReplayLog.from_dict(json.loads(json.dumps(log.to_dict())))
    _, model, code, http = live_ports()
    # when the same graph is replayed from the log
    outcome = await run(app_graph(), inputs={"q": "hello"}, ports=replaying_ports(stored))
    # then the outputs match (the body holds the redacted key, as recorded) and nothing live ran
    assert outcome.outputs["text"] == recorded_outcome.outputs["text"]
    assert outcome.outputs["shout"] == "BONJOUR LE MONDE"
    assert json.loads(outcome.outputs["body"])["auth"] == f"Bearer {REDACTED}"
    assert (len(model.requests), code.calls, http.calls) == (0, 0, 0)
    assert stored.drift == []


async def test_a_changed_prompt_is_reported_as_drift_and_a_live_node_calls_the_real_port():
    _, log = await record()
    ports, model, _, _ = live_ports()
    # when the llm node's prompt changes and the replay keeps it on the recorded answer
    outcome = await run(app_graph("Say: {{#start.q#}}"), inputs={"q": "hello"}, ports=replaying_ports(log))
    # then the recorded answer is used and the mismatch is named
    assert outcome.outputs["text"] == "bonjour le monde"
    assert log.drift == [{"node_id": "llm", "port": "models", "seq": 0}]
    # and with the llm node live, the real model answers while the others stay recorded
    model.replies = ["salut"]
    live = replaying_ports(ReplayLog.from_dict(log.to_dict()), live=ports, live_nodes=["llm"])
    outcome = await run(app_graph("Say: {{#start.q#}}"), inputs={"q": "hello"}, ports=live)
    assert outcome.outputs["text"] == "salut"
    assert outcome.outputs["shout"] == "BONJOUR LE MONDE"  # the code node's recorded result
    assert model.requests[0].messages[0].content == "Say: hello"


async def test_a_call_the_recording_never_made_fails_the_node_by_name():
    # given a log without the http call
    _, log = await record()
    log.entries = [e for e in log.entries if e["port"] != "http"]
    outcome = await run(app_graph(), inputs={"q": "hello"}, ports=replaying_ports(log))
    failed = [e for e in outcome.events if isinstance(e, NodeFailed)]
    assert failed and failed[0].node_id == "h"
    assert "no recorded http call #1 for node 'h'" in failed[0].error


async def test_a_recorded_failure_fails_again_with_its_message():
    _, log = await record()
    log.entries[1]["error"] = {"type": "CodeExecutionError", "message": "division by zero"}
    outcome = await run(app_graph(), inputs={"q": "hello"}, ports=replaying_ports(log))
    failed = [e for e in outcome.events if isinstance(e, NodeFailed)]
    assert failed[0].node_id == "c" and "division by zero" in failed[0].error
