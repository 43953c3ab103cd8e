"""Attacks on the code sandbox, each asserted to fail, through the port the platform itself builds from
settings (`dify_project.code_execution`) and, end to end, through a workflow run over the Service API.

Where an attack would have worked on the old runner (a plain subprocess as the server's user), a
`control` case runs it on `SubprocessCodePort` and asserts that it *does* work there: the assertion
on the sandbox is then known to be able to fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from dify_project import code_execution
from tests import factories
from workflows.engine import CodeExecutionError, SandboxCodePort, SubprocessCodePort

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")


@pytest.fixture(scope="module")
def sandbox() -> SandboxCodePort:
    """The platform's own configuration (packages, egress broker, limits), with a short timeout."""
    port = code_execution._build()
    assert isinstance(port, SandboxCodePort)
    port.timeout = 3.0
    assert port.status().available, port.status().detail
    return port


@pytest.fixture(scope="module")
def unsandboxed() -> SubprocessCodePort:
    return SubprocessCodePort(timeout=3.0)


def run(code_port, code: str, **inputs):
    """The result dict, or the CodeExecutionError message as {"error": ...}."""

    async def go():
        try:
            return await code_port.execute(language="python3", code=code, inputs=inputs)
        except CodeExecutionError as error:
            return {"error": str(error)}

    return asyncio.run(go())


class Listener:
    """A TCP server on the host's loopback that counts the connections it accepts."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


READ_FILE = "def main(path):\n    with open(path, 'rb') as f:\n        return {'data': f.read(200).decode('latin-1')}\n"


def host_files() -> list[str]:
    files = ["/etc/passwd", str(Path(settings.BASE_DIR) / "dify_project" / "settings.py")]
    key = Path(settings.VAR_DIR) / "secret_key"
    if key.exists():
        files.append(str(key))
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3") and Path(str(db["NAME"])).exists():
        files.append(str(db["NAME"]))
    files.append(str(Path(sys.executable).resolve()))  # the platform's own venv interpreter
    return files


@pytest.mark.parametrize("path", host_files())
def test_host_files_are_not_there(sandbox, unsandboxed, path):
    assert "data" in run(unsandboxed, READ_FILE, path=path), "control: the old runner reads it"
    outcome = run(sandbox, READ_FILE, path=path)
    assert "data" not in outcome
    assert "FileNotFoundError" in outcome["error"] or "PermissionError" in outcome["error"]


def test_the_root_holds_only_what_the_interpreter_needs(sandbox):
    outcome = run(sandbox, "import os\ndef main():\n    return {'top': sorted(os.listdir('/'))}\n")
    assert set(outcome["top"]) <= {"usr", "lib", "lib64", "tmp", "dev", "etc", "sandbox", "bin"}
    assert "proc" not in outcome["top"] and "home" not in outcome["top"] and "root" not in outcome["top"]


def test_no_process_of_the_host_is_visible(sandbox):
    code = (
        "import os\n"
        "def main():\n"
        "    out = {}\n"
        "    for path in ('/proc/%d/environ' % os.getppid(), '/proc/1/environ', '/proc/self/environ'):\n"
        "        try:\n"
        "            out[path] = open(path, 'rb').read().decode('latin-1')\n"
        "        except OSError as e:\n"
        "            out[path] = 'ERR ' + type(e).__name__\n"
        "    out['env'] = dict(os.environ)\n"
        "    try:\n"
        "        os.kill(1, 0)\n"
        "        out['kill'] = 'pid 1 is ours'\n"
        "    except OSError as e:\n"
        "        out['kill'] = 'ERR ' + type(e).__name__\n"
        "    return out\n"
    )
    outcome = run(sandbox, code)
    for path in ("/proc/1/environ", "/proc/self/environ"):
        assert outcome[path].startswith("ERR"), outcome
    assert all(value.startswith("ERR") for key, value in outcome.items() if key.startswith("/proc"))
    # Nothing of the server's environment made it in (DJANGO_SETTINGS_MODULE is set in every test run).
    assert "DJANGO_SETTINGS_MODULE" not in outcome["env"]
    assert not any("SECRET" in key or "DATABASE" in key for key in outcome["env"])


def test_writes_stay_in_scratch_and_vanish(sandbox, tmp_path):
    token = secrets.token_hex(6)
    host_target = tmp_path / f"escape-{token}"
    code = (
        "def main(host_target, token):\n"
        "    out = {}\n"
        "    for path in (host_target, '/usr/escape-' + token, '/escape-' + token):\n"
        "        try:\n"
        "            open(path, 'w').write('x')\n"
        "            out[path] = 'written'\n"
        "        except OSError as e:\n"
        "            out[path] = type(e).__name__\n"
        "    open('/tmp/scratch-' + token, 'w').write('x')\n"
        "    return out\n"
    )
    outcome = run(sandbox, code, host_target=str(host_target), token=token)
    assert "written" not in outcome.values(), outcome
    assert not host_target.exists()
    assert not Path(f"/tmp/scratch-{token}").exists()  # the sandbox's /tmp is its own tmpfs
    assert not Path(f"/escape-{token}").exists()


def test_scratch_is_size_capped(sandbox):
    code = (
        "def main():\n"
        "    block = b'x' * (1 << 20)\n"
        "    written = 0\n"
        "    try:\n"
        "        with open('/tmp/fill', 'wb') as f:\n"
        "            for _ in range(2048):\n"
        "                f.write(block)\n"
        "                written += 1\n"
        "    except OSError as e:\n"
        "        return {'mb': written, 'error': type(e).__name__}\n"
        "    return {'mb': written}\n"
    )
    outcome = run(sandbox, code)
    assert "killed" in outcome.get("error", "") or outcome["mb"] < 100, outcome


@pytest.mark.parametrize("target", ["loopback", "redis", "postgres", "public"])
def test_no_direct_connection_anywhere(sandbox, unsandboxed, listener, target):
    host, port = {
        "loopback": ("127.0.0.1", listener.port),
        "redis": ("127.0.0.1", 6379),
        "postgres": ("127.0.0.1", 5432),
        "public": ("1.1.1.1", 53),
    }[target]
    code = (
        "import socket\n"
        "def main(host, port):\n"
        "    s = socket.create_connection((host, port), timeout=2)\n"
        "    return {'connected': True}\n"
    )
    if target == "loopback":
        assert run(unsandboxed, code, host=host, port=port) == {"connected": True}, "control"
        listener.accepted = 0
    outcome = run(sandbox, code, host=host, port=port)
    assert "connected" not in outcome
    assert "Error" in outcome["error"]
    if target == "loopback":
        assert listener.accepted == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://2130706433:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
    ],
)
def test_egress_refuses_private_destinations(sandbox, listener, ssrf_strict, url):
    code = (
        "import requests\n"
        "def main(url):\n"
        "    try:\n"
        "        r = requests.get(url, timeout=3)\n"
        "        return {'status': r.status_code, 'body': r.text[:200]}\n"
        "    except requests.RequestException as e:\n"
        "        return {'status': 0, 'body': type(e).__name__ + ': ' + str(e)[:200]}\n"
    )
    outcome = run(sandbox, code, url=url.format(port=listener.port))
    assert outcome["status"] != 200, outcome
    assert "secret" not in outcome["body"]
    assert listener.accepted == 0


def test_egress_reaches_an_allowed_host_through_the_broker(sandbox, listener, settings, monkeypatch):
    """The positive case: with the name allowed and resolving (at the resolver boundary) to the listener,
    plain HTTP and a CONNECT tunnel both get through. Without this, the refusals above prove nothing."""
    settings.SSRF_ALLOWED_HOSTS = ["public.example"]
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        return real("127.0.0.1" if host == "public.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    code = "import requests\ndef main(url):\n    return {'body': requests.get(url, timeout=5).text}\n"
    outcome = run(sandbox, code, url=f"http://public.example:{listener.port}/")
    assert outcome == {"body": "secret"}
    assert listener.accepted == 1


def test_egress_off_means_no_network(listener, settings, monkeypatch):
    settings.CODE_SANDBOX_EGRESS = False
    port = code_execution._build()
    code = "import os\ndef main():\n    return {'proxy': os.environ.get('HTTP_PROXY', '')}\n"
    assert run(port, code) == {"proxy": ""}


def test_fork_bomb_is_refused(sandbox):
    code = "import os\ndef main():\n    while True:\n        os.fork()\n"
    outcome = run(sandbox, code)
    assert "PermissionError" in outcome["error"]


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess\ndef main():\n    return {'out': subprocess.run(['id'], capture_output=True).stdout.decode()}\n",
        "import os\ndef main():\n    return {'status': os.system('id')}\n",
        "import ctypes\ndef main():\n    return {'status': ctypes.CDLL(None).system(b'id')}\n",
        "import ctypes, os\n"
        "def main():\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    # unshare(CLONE_NEWUSER) and mount(): the way out of a namespace, denied by seccomp\n"
        "    return {'unshare': libc.unshare(0x10000000), 'mount': libc.mount(b'none', b'/tmp', b'tmpfs', 0, None),"
        " 'errno': ctypes.get_errno()}\n",
    ],
    ids=["subprocess", "os.system", "ctypes-system", "ctypes-unshare-mount"],
)
def test_no_new_programs_and_no_kernel_escape_hatches(sandbox, code):
    outcome = run(sandbox, code)
    if "error" in outcome:
        assert "PermissionError" in outcome["error"] or "FileNotFoundError" in outcome["error"]
    else:
        assert "out" not in outcome
        assert outcome.get("status", -1) != 0
        assert outcome.get("unshare", -1) == -1 and outcome.get("mount", -1) == -1


def test_huge_allocation_fails_inside(sandbox):
    outcome = run(sandbox, "def main():\n    data = bytearray(10 * 1024 ** 3)\n    return {'n': len(data)}\n")
    assert "MemoryError" in outcome["error"]


def test_busy_loop_is_stopped_at_the_timeout(sandbox):
    started = time.monotonic()
    outcome = run(sandbox, "def main():\n    while True:\n        pass\n")
    assert "timed out" in outcome["error"] or "SIGXCPU" in outcome["error"]
    assert time.monotonic() - started < sandbox.timeout + 3


def test_printing_a_gigabyte_neither_breaks_the_result_nor_the_server(sandbox):
    code = "def main():\n    line = 'x' * (1 << 20)\n    for _ in range(1024):\n        print(line)\n    return {'ok': 1}\n"
    assert run(sandbox, code) == {"ok": 1}
    flood = (
        "import os\ndef main():\n    block = b'x' * (1 << 20)\n    while True:\n        os.write(1, block)\n"
    )
    outcome = run(sandbox, flood)
    assert "larger than" in outcome["error"]


def test_site_packages_of_the_platform_are_not_importable(sandbox):
    import django

    venv_site = str(Path(django.__file__).resolve().parent.parent)
    code = "import sys\ndef main(site):\n    sys.path.insert(0, site)\n    import django\n    return {'v': django.VERSION}\n"
    outcome = run(sandbox, code, site=venv_site)
    assert "ModuleNotFoundError" in outcome["error"]
    assert "not available in the code sandbox" in outcome["error"]


def test_difys_default_packages_are_importable(sandbox):
    code = (
        "import requests, httpx, jinja2, socks, numpy, pydantic\n"
        "def main():\n"
        "    return {'sum': int(numpy.arange(5).sum()), 't': jinja2.Template('{{ a }}!').render(a='hi')}\n"
    )
    assert run(sandbox, code) == {"sum": 10, "t": "hi!"}


def test_each_call_gets_a_fresh_interpreter(sandbox):
    """A worker runs one job: what one run leaves behind never reaches the next (another workspace's)."""
    run(
        sandbox,
        "import json\ndef main():\n    json.dumps = lambda *a, **k: 'spied'\n    open('/tmp/left', 'w').write('x')\n    return {}\n",
    )
    code = "import json, os\ndef main():\n    return {'d': json.dumps([1]), 'left': os.path.exists('/tmp/left')}\n"
    assert run(sandbox, code) == {"d": "[1]", "left": False}


def test_hostile_code_does_not_block_other_runs(sandbox):
    """While one snippet busy-loops to its timeout and another forks, other code runs keep answering fast."""

    async def go():
        hog = asyncio.ensure_future(
            sandbox.execute(
                language="python3", code="def main():\n    while True:\n        pass\n", inputs={}
            )
        )
        await asyncio.sleep(0.2)
        latencies = []
        for _ in range(5):
            started = time.monotonic()
            result = await sandbox.execute(
                language="python3", code="def main():\n    return {'ok': 1}\n", inputs={}
            )
            latencies.append(time.monotonic() - started)
            assert result == {"ok": 1}
        with pytest.raises(CodeExecutionError):
            await hog
        return latencies

    latencies = asyncio.run(go())
    assert max(latencies) < 1.0, latencies


@pytest.mark.django_db(transaction=True)
def test_a_workflow_cannot_read_the_servers_secret_key(live_asgi):
    """End to end: a workflow editor's code node tries to read the secret key and the settings, and to
    reach the server itself; the run fails in the node and nothing secret comes back."""
    code = (
        "import os\n"
        "def main(key_path: str, port: int) -> dict:\n"
        "    found = []\n"
        "    for path in (key_path, '/proc/self/environ'):\n"
        "        try:\n"
        "            found.append(open(path).read())\n"
        "        except OSError:\n"
        "            pass\n"
        "    import socket\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=2)\n"
        "        found.append('connected')\n"
        "    except OSError:\n"
        "        pass\n"
        "    return {'result': '|'.join(found)}\n"
    )
    graph = {
        "nodes": [
            {
                "id": "start",
                "data": {
                    "type": "start",
                    "title": "Start",
                    "variables": [
                        {"variable": "key_path", "label": "k", "type": "text-input", "required": True},
                        {"variable": "port", "label": "p", "type": "number", "required": True},
                    ],
                },
            },
            {
                "id": "code",
                "data": {
                    "type": "code",
                    "title": "Code",
                    "code_language": "python3",
                    "code": code,
                    "variables": [
                        {"variable": "key_path", "value_selector": ["start", "key_path"]},
                        {"variable": "port", "value_selector": ["start", "port"]},
                    ],
                    "outputs": {"result": {"type": "string", "children": None}},
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [
                        {"variable": "result", "value_selector": ["code", "result"]},
                    ],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "code", "sourceHandle": "source"},
            {"id": "e2", "source": "code", "target": "end", "sourceHandle": "source"},
        ],
    }
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    app = factories.app_factory(tenant=tenant, mode="workflow", graph=graph)
    key = factories.api_key_factory(app=app)
    port = int(live_asgi.url.rsplit(":", 1)[1].split("/")[0])
    secret_path = str(Path(settings.VAR_DIR) / "secret_key")
    response = httpx.post(
        f"{live_asgi.url}/v1/workflows/run",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "inputs": {"key_path": secret_path, "port": port},
            "user": "attacker",
            "response_mode": "blocking",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"result": ""}
    assert settings.SECRET_KEY not in response.text
    assert os.environ.get("DJANGO_SETTINGS_MODULE", "dify_project.settings") not in response.text
