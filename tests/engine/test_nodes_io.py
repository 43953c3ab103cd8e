"""Nodes reaching the outside world through ports: code, http-request, document-extractor, tool, agent,
knowledge-retrieval. HTTP runs against a loopback server; code runs in the real sandbox.

Long on purpose: one short case per node behaviour, grouped by node, so a node's contract reads in one place."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import pytest

from workflows.engine import (
    AgentLog,
    File,
    HttpxHttpPort,
    Limits,
    NodeFailed,
    NodeSucceeded,
    Ports,
    RetrievedChunk,
    SandboxCodePort,
    SubprocessCodePort,
    ToolMessage,
)

from .helpers import (
    FakeFiles,
    FakeRetrieval,
    FakeTools,
    answer,
    chain,
    chunks,
    end,
    graph,
    node,
    of_type,
    run,
    start,
)

# -- code ---------------------------------------------------------------------------------------------------

CODE_PORT = SandboxCodePort(timeout=5)


def code_graph(code, outputs, language="python3", **variables):
    return graph(
        [
            start("x"),
            node(
                "c",
                "code",
                code_language=language,
                code=code,
                outputs=outputs,
                variables=[{"variable": k, "value_selector": v} for k, v in variables.items()],
            ),
            end(r=["c", "result"]),
        ],
        chain("start", "c", "end"),
    )


async def test_code_node_runs_python_in_a_subprocess():
    config = code_graph(
        "def main(x: str) -> dict:\n    return {'result': x.upper() + '!'}\n",
        {"result": {"type": "string"}},
        x=["start", "x"],
    )
    outcome = await run(config, inputs={"x": "hi"}, ports=Ports(code=CODE_PORT))
    assert outcome.outputs == {"r": "HI!"}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_code_node_runs_javascript_when_node_is_installed():
    config = code_graph(
        "function main({x}) { return {result: [x.length, x.length * 2]}; }",
        {"result": {"type": "array[number]"}},
        language="javascript",
        x=["start", "x"],
    )
    outcome = await run(config, inputs={"x": "abc"}, ports=Ports(code=CODE_PORT))
    assert outcome.outputs == {"r": [3, 6]}


@pytest.mark.parametrize(
    ("code", "outputs", "message"),
    [
        (
            "def main(x):\n    return {'other': 1}\n",
            {"result": {"type": "number"}},
            "Output result is missing",
        ),
        (
            "def main(x):\n    return {'result': 1, 'extra': 2}\n",
            {"result": {"type": "number"}},
            "Not all output parameters are validated",
        ),
        ("def main(x):\n    return {'result': 'text'}\n", {"result": {"type": "number"}}, "is not a number"),
        ("def main(x):\n    return {'result': 1}\n", {"result": {"type": "string"}}, "must be a string"),
        (
            "def main(x):\n    return {'result': [1, 'a']}\n",
            {"result": {"type": "array[number]"}},
            "must be a number",
        ),
        ("def main(x):\n    return {'result': 2**64}\n", {"result": {"type": "number"}}, "out of range"),
        (
            "def main(x):\n    return {'result': 1e-21}\n",
            {"result": {"type": "number"}},
            "too high precision",
        ),
        (
            "def main(x):\n    return {'result': ['s'] * 31}\n",
            {"result": {"type": "array[string]"}},
            "less than 30 elements",
        ),
        (
            "def main(x):\n    return {'result': {'a': {'b': {'c': {'d': {'e': 1}}}}}}\n",
            {"result": {"type": "object"}},
            "Depth limit",
        ),
        ("def main(x):\n    raise ValueError('boom')\n", {"result": {"type": "string"}}, "ValueError: boom"),
        ("def nothing():\n    pass\n", {"result": {"type": "string"}}, "main function is not defined"),
        ("def main(x):\n    return 5\n", {"result": {"type": "string"}}, "must return a dict"),
    ],
)
async def test_code_node_validates_results_like_dify(code, outputs, message):
    outcome = await run(
        code_graph(code, outputs, x=["start", "x"]), inputs={"x": "a"}, ports=Ports(code=CODE_PORT)
    )
    assert outcome.status == "failed"
    assert message in outcome.error


async def test_code_node_normalises_booleans_and_strips_nul():
    config = code_graph(
        "def main(x):\n    return {'result': True, 's': 'a\\x00b'}\n",
        {"result": {"type": "number"}, "s": {"type": "string"}},
        x=["start", "x"],
    )
    outcome = await run(config, inputs={"x": "a"}, ports=Ports(code=CODE_PORT))
    succeeded = next(e for e in of_type(outcome, NodeSucceeded) if e.node_id == "c")
    assert succeeded.outputs == {"result": 1, "s": "ab"}


@pytest.mark.parametrize("port_class", [SandboxCodePort, SubprocessCodePort])
async def test_code_execution_times_out_and_is_killed(port_class):
    port = port_class(timeout=0.5)
    config = code_graph(
        "def main(x):\n    while True:\n        pass\n", {"result": {"type": "string"}}, x=["start", "x"]
    )
    outcome = await run(config, inputs={"x": "a"}, ports=Ports(code=port))
    assert outcome.status == "failed"
    assert "timed out" in outcome.error


@pytest.mark.parametrize("port_class", [SandboxCodePort, SubprocessCodePort])
async def test_code_memory_limit_stops_runaway_allocation(port_class):
    port = port_class(timeout=5, memory_mb=200)
    config = code_graph(
        "def main(x):\n    data = bytearray(600 * 1024 * 1024)\n    return {'result': 'no'}\n",
        {"result": {"type": "string"}},
        x=["start", "x"],
    )
    outcome = await run(config, inputs={"x": "a"}, ports=Ports(code=port))
    assert outcome.status == "failed"
    assert "MemoryError" in outcome.error


async def test_code_node_without_a_port_fails_clearly():
    config = code_graph(
        "def main(x):\n    return {'result': x}\n", {"result": {"type": "string"}}, x=["start", "x"]
    )
    outcome = await run(config, inputs={"x": "a"})
    assert outcome.status == "failed"
    assert "'code' port" in outcome.error


# -- http-request -----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status=200, body=b"", content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        parsed = urlparse(self.path)
        if parsed.path.startswith("/status/"):
            self._reply(int(parsed.path.rsplit("/", 1)[1]), b'{"error": true}')
            return
        if parsed.path == "/big":
            self._reply(200, b"x" * 5000, "text/plain")
            return
        if parsed.path == "/file":
            self._reply(
                200,
                b"%PDF-1.4 binary",
                "application/pdf",
                {"Content-Disposition": 'attachment; filename="report.pdf"'},
            )
            return
        if parsed.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/echo?redirected=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = {
            "method": self.command,
            "path": parsed.path,
            "query": parse_qsl(parsed.query),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        self._reply(200, json.dumps(payload).encode())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _echo  # noqa: N815 - http.server's method names


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def http_graph(**data):
    base = {
        "method": "get",
        "url": "",
        "authorization": {"type": "no-auth"},
        "headers": "",
        "params": "",
        "body": {"type": "none", "data": []},
    }
    base.update(data)
    return graph(
        [
            start("name"),
            node("h", "http-request", **base),
            end(
                status=["h", "status_code"],
                body=["h", "body"],
                headers=["h", "headers"],
                files=["h", "files"],
            ),
        ],
        chain("start", "h", "end"),
    )


async def test_http_get_with_templated_url_params_headers_and_bearer_auth(server):
    config = http_graph(
        url=server + "/echo/{{#start.name#}}",
        params="a: 1\nname: {{#start.name#}}\na: 2",
        headers="X-Trace: t-{{#start.name#}}\nAccept:",
        authorization={"type": "api-key", "config": {"type": "bearer", "api_key": "{{#env.TOKEN#}}"}},
    )
    outcome = await run(
        config, inputs={"name": "bob"}, environment={"TOKEN": "sekret"}, ports=Ports(http=HttpxHttpPort())
    )
    assert outcome.outputs["status"] == 200
    echoed = json.loads(outcome.outputs["body"])
    assert echoed["path"] == "/echo/bob"
    assert sorted(echoed["query"]) == [["a", "1"], ["a", "2"], ["name", "bob"]]  # duplicate keys are kept
    assert echoed["headers"]["x-trace"] == "t-bob"
    assert echoed["headers"]["authorization"] == "Bearer sekret"
    log = next(e for e in of_type(outcome, NodeSucceeded) if e.node_id == "h").process_data["request"]
    assert "sekret" not in log  # the authorization header is masked in logs


async def test_http_request_log_masks_secret_environment_variables(server):
    config = http_graph(url=server + "/echo?key={{#env.API_KEY#}}", headers="X-Key: {{#env.API_KEY#}}")
    outcome = await run(
        config,
        inputs={"name": "x"},
        ports=Ports(http=HttpxHttpPort()),
        environment=[{"name": "API_KEY", "value": "abcdefghijkl", "value_type": "secret"}],
    )
    assert json.loads(outcome.outputs["body"])["headers"]["x-key"] == "abcdefghijkl"  # sent in clear
    log = next(e for e in of_type(outcome, NodeSucceeded) if e.node_id == "h").process_data["request"]
    assert "abcdefghijkl" not in log and "abcdef************kl" in log


@pytest.mark.parametrize(
    ("body", "content_type", "expected_body"),
    [
        (
            {"type": "json", "data": [{"type": "text", "value": '{"name": "{{#start.name#}}", "n": 1,}'}]},
            "application/json",
            '{"name": "bob", "n": 1}',
        ),
        (
            {"type": "raw-text", "data": [{"type": "text", "value": "hi {{#start.name#}}"}]},
            "text/plain",
            "hi bob",
        ),
        (
            {
                "type": "x-www-form-urlencoded",
                "data": [{"key": "k", "type": "text", "value": "{{#start.name#}}"}],
            },
            "application/x-www-form-urlencoded",
            "k=bob",
        ),
        ({"type": "raw-text", "data": "legacy {{#start.name#}}"}, "text/plain", "legacy bob"),
    ],
)
async def test_http_post_bodies(server, body, content_type, expected_body):
    config = http_graph(method="POST", url=server + "/echo", body=body)
    outcome = await run(config, inputs={"name": "bob"}, ports=Ports(http=HttpxHttpPort()))
    echoed = json.loads(outcome.outputs["body"])
    assert echoed["method"] == "POST"
    assert echoed["headers"]["content-type"].startswith(content_type)
    if content_type == "application/json":
        assert json.loads(echoed["body"]) == json.loads(expected_body)
    else:
        assert echoed["body"] == expected_body


async def test_http_basic_and_custom_authorization(server):
    basic = http_graph(
        url=server + "/echo",
        authorization={"type": "api-key", "config": {"type": "basic", "api_key": "user:pass"}},
    )
    outcome = await run(basic, inputs={"name": "x"}, ports=Ports(http=HttpxHttpPort()))
    assert json.loads(outcome.outputs["body"])["headers"]["authorization"] == "Basic dXNlcjpwYXNz"
    custom = http_graph(
        url=server + "/echo",
        authorization={
            "type": "api-key",
            "config": {"type": "custom", "api_key": "k1", "header": "X-Api-Key"},
        },
    )
    outcome = await run(custom, inputs={"name": "x"}, ports=Ports(http=HttpxHttpPort()))
    assert json.loads(outcome.outputs["body"])["headers"]["x-api-key"] == "k1"


async def test_http_non_2xx_is_a_success_without_error_strategy(server):
    outcome = await run(
        http_graph(url=server + "/status/404"), inputs={"name": "x"}, ports=Ports(http=HttpxHttpPort())
    )
    assert outcome.status == "succeeded"
    assert outcome.outputs["status"] == 404


async def test_http_non_2xx_fails_with_an_error_strategy_and_uses_defaults(server):
    config = http_graph(
        url=server + "/status/503",
        error_strategy="default-value",
        default_value=[
            {"key": "status_code", "type": "number", "value": "0"},
            {"key": "body", "type": "string", "value": "fallback"},
        ],
    )
    outcome = await run(config, inputs={"name": "x"}, ports=Ports(http=HttpxHttpPort()))
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs["status"] == 0 and outcome.outputs["body"] == "fallback"


async def test_http_follows_redirects(server):
    outcome = await run(
        http_graph(url=server + "/redirect"), inputs={"name": "x"}, ports=Ports(http=HttpxHttpPort())
    )
    assert json.loads(outcome.outputs["body"])["query"] == [["redirected", "1"]]


async def test_http_response_size_limit(server):
    outcome = await run(
        http_graph(url=server + "/big"),
        inputs={"name": "x"},
        ports=Ports(http=HttpxHttpPort()),
        limits=Limits(http_max_text_size=1000),
    )
    assert outcome.status == "failed"
    assert "Text size is too large" in outcome.error


async def test_http_file_response_is_saved_through_the_files_port(server):
    files = FakeFiles()
    outcome = await run(
        http_graph(url=server + "/file"), inputs={"name": "x"}, ports=Ports(http=HttpxHttpPort(), files=files)
    )
    assert outcome.outputs["body"] == ""
    assert outcome.outputs["files"][0].filename == "report.pdf"
    assert files.saved == [(b"%PDF-1.4 binary", "application/pdf", "report.pdf")]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com", "should start with http"),
        ("{{#start.nothing#}}", "should start with http"),
        ("", "url is required"),
    ],
)
async def test_http_invalid_urls_fail(url, message):
    outcome = await run(http_graph(url=url), inputs={"name": "x"}, ports=Ports(http=HttpxHttpPort()))
    assert outcome.status == "failed"
    assert message in outcome.error


async def test_http_connection_errors_fail_the_node():
    outcome = await run(
        http_graph(url="http://127.0.0.1:9/nothing", timeout={"connect": 1}),
        inputs={"name": "x"},
        ports=Ports(http=HttpxHttpPort()),
    )
    assert outcome.status == "failed"
    assert of_type(outcome, NodeFailed)[0].node_id == "h"


async def test_http_private_network_guard(server):
    outcome = await run(
        http_graph(url=server + "/echo"),
        inputs={"name": "x"},
        ports=Ports(http=HttpxHttpPort(block_private_networks=True)),
    )
    assert outcome.status == "failed"
    assert "not allowed" in outcome.error


# -- document extractor ----------------------------------------------------------------------------------


async def test_document_extractor_reads_text_files_and_delegates_others():
    files = [
        File(type="document", filename="a.txt", extension=".txt", related_id="a"),
        File(type="document", filename="b.pdf", extension=".pdf", related_id="b"),
    ]
    config = graph(
        [
            start(),
            node("d", "document-extractor", variable_selector=["conversation", "files"]),
            end(text=["d", "text"]),
        ],
        chain("start", "d", "end"),
    )
    outcome = await run(
        config, conversation={"files": files}, ports=Ports(files=FakeFiles({"a": "héllo".encode()}))
    )
    assert outcome.outputs == {"text": ["héllo", "extracted b.pdf"]}


async def test_document_extractor_errors():
    config = graph(
        [
            start(),
            node("d", "document-extractor", variable_selector=["conversation", "f"]),
            end(text=["d", "text"]),
        ],
        chain("start", "d", "end"),
    )
    not_a_file = await run(config, conversation={"f": "text"}, ports=Ports(files=FakeFiles()))
    assert not_a_file.status == "failed" and "not a file" in not_a_file.error
    unsupported = await run(
        config, conversation={"f": File(filename="x.bin", extension=".bin")}, ports=Ports(files=FakeFiles())
    )
    assert unsupported.status == "failed" and "unsupported file type" in unsupported.error


# -- tools and agents -----------------------------------------------------------------------------------------


async def test_tool_node_resolves_parameters_and_collects_messages():
    tools = FakeTools(
        ToolMessage(type="text", text="part one "),
        ToolMessage(type="text", text="part two"),
        ToolMessage(type="json", data={"k": 1}),
        ToolMessage(type="variable", name="score", data=0.9),
        ToolMessage(type="file", file=File(filename="x.png", type="image")),
    )
    config = graph(
        [
            start("q"),
            node(
                "tool",
                "tool",
                provider_type="builtin",
                provider_id="time",
                tool_name="now",
                tool_parameters={
                    "mixed": {"type": "mixed", "value": "Q={{#start.q#}}"},
                    "var": {"type": "variable", "value": ["start", "q"]},
                    "const": {"type": "constant", "value": 3},
                    "legacy": "{{#start.q#}}!",
                },
                tool_configurations={"tz": {"type": "constant", "value": "UTC"}, "fmt": "%Y"},
            ),
            answer("ans", "{{#tool.text#}}"),
            end(json=["tool", "json"], score=["tool", "score"]),
        ],
        chain("start", "tool", "ans", "end"),
    )
    outcome = await run(config, inputs={"q": "hi"}, ports=Ports(tools=tools))
    request = tools.requests[0]
    assert request.parameters == {"mixed": "Q=hi", "var": "hi", "const": 3, "legacy": "hi!"}
    assert request.configurations == {"tz": "UTC", "fmt": "%Y"}
    assert outcome.outputs["json"] == [{"k": 1}] and outcome.outputs["score"] == 0.9
    assert chunks(outcome)[:2] == ["part one ", "part two"]
    assert outcome.outputs["answer"] == "part one part two"


async def test_tool_node_fails_when_the_port_raises():
    class Broken:
        async def invoke(self, request):
            raise ConnectionError("plugin daemon down")
            yield  # pragma: no cover

    config = graph(
        [start(), node("tool", "tool", tool_name="x", provider_id="p"), end()], chain("start", "tool", "end")
    )
    outcome = await run(config, ports=Ports(tools=Broken()))
    assert outcome.status == "failed"
    assert outcome.error == "plugin daemon down"
    assert of_type(outcome, NodeFailed)[0].error_type == "ConnectionError"


async def test_agent_node_uses_the_agent_port_and_forwards_logs():
    class Agents:
        def __init__(self):
            self.requests = []

        async def run(self, request):
            self.requests.append(request)
            yield ToolMessage(type="log", data={"step": "think"})
            yield ToolMessage(type="text", text="done")

    agents = Agents()
    config = graph(
        [
            start("q"),
            node(
                "ag",
                "agent",
                agent_strategy_provider_name="p",
                agent_strategy_name="react",
                agent_parameters={"query": {"type": "mixed", "value": "{{#start.q#}}"}},
            ),
            end(text=["ag", "text"]),
        ],
        chain("start", "ag", "end"),
    )
    outcome = await run(config, inputs={"q": "go"}, ports=Ports(agents=agents))
    assert outcome.outputs == {"text": "done"}
    assert agents.requests[0].parameters == {"query": "go"}
    assert of_type(outcome, AgentLog)[0].data == {"step": "think"}


# -- knowledge retrieval --------------------------------------------------------------------------------


async def test_knowledge_retrieval_formats_chunks_like_dify():
    retrieval = FakeRetrieval(
        [RetrievedChunk(content="c1", score=0.8, title="Doc", metadata={"document_id": "d"})]
    )
    config = graph(
        [
            start("q"),
            node(
                "kr",
                "knowledge-retrieval",
                query_variable_selector=["start", "q"],
                dataset_ids=["ds1"],
                retrieval_mode="multiple",
                multiple_retrieval_config={"top_k": 3, "score_threshold": 0.5},
            ),
            end(result=["kr", "result"]),
        ],
        chain("start", "kr", "end"),
    )
    outcome = await run(config, inputs={"q": "what"}, ports=Ports(retrieval=retrieval))
    assert outcome.outputs["result"] == [
        {"metadata": {"document_id": "d", "score": 0.8, "position": 1}, "title": "Doc", "content": "c1"}
    ]
    assert retrieval.requests[0].dataset_ids == ["ds1"] and retrieval.requests[0].top_k == 3


async def test_knowledge_retrieval_requires_a_query():
    config = graph(
        [
            start("q"),
            node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"], dataset_ids=["ds1"]),
            end(),
        ],
        chain("start", "kr", "end"),
    )
    outcome = await run(config, inputs={"q": ""}, ports=Ports(retrieval=FakeRetrieval([])))
    assert outcome.status == "failed" and outcome.error == "Query is required."


async def test_http_form_data_uploads_files_and_binary_bodies_send_bytes(server):
    files = FakeFiles({"f1": b"file bytes"})
    upload = File(type="document", filename="a.txt", related_id="f1", mime_type="text/plain")
    form = http_graph(
        method="POST",
        url=server + "/echo",
        body={
            "type": "form-data",
            "data": [
                {"key": "note", "type": "text", "value": "hi {{#start.name#}}"},
                {"key": "doc", "type": "file", "file": ["conversation", "doc"]},
            ],
        },
    )
    outcome = await run(
        form,
        inputs={"name": "bob"},
        conversation={"doc": upload},
        ports=Ports(http=HttpxHttpPort(), files=files),
    )
    echoed = json.loads(outcome.outputs["body"])
    assert echoed["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="note"' in echoed["body"] and "hi bob" in echoed["body"]
    assert 'filename="a.txt"' in echoed["body"] and "file bytes" in echoed["body"]
    binary = http_graph(
        method="PUT",
        url=server + "/echo",
        body={"type": "binary", "data": [{"type": "file", "file": ["conversation", "doc"]}]},
    )
    outcome = await run(
        binary,
        inputs={"name": "x"},
        conversation={"doc": upload},
        ports=Ports(http=HttpxHttpPort(), files=files),
    )
    assert json.loads(outcome.outputs["body"])["body"] == "file bytes"
