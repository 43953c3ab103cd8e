"""Small real Dify plugins, written against the `dify_plugin` SDK and packaged as `.difypkg` zips.

- `model_plugin()`: a model provider `tester/loopback/loopback` whose LLM calls an OpenAI-style endpoint
  (the loopback fake model server) and streams its answer, tool calls included, plus a text-embedding
  model computed in the plugin.
- `tool_plugin()`: a tool provider `tester/texttools/texttools` with `shout` (upper-cases its text, and
  answers JSON too) and `ask` (a reverse call: asks the platform's model of the workspace).
- `trouble_plugin()`: tools that crash the process, hang, print garbage on stdout, and one that works.
"""

from __future__ import annotations

import io
import textwrap
import zipfile

SDK_REQUIREMENT = "dify_plugin==0.7.4\n"
ICON = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'
MAIN = """\
from dify_plugin import DifyPluginEnv, Plugin

plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=120))

if __name__ == "__main__":
    plugin.run()
"""


def manifest(name: str, *, version: str = "0.0.1", tools: list[str] = (), models: list[str] = ()) -> str:  # type: ignore[assignment]
    lines = [
        f"version: {version}",
        "type: plugin",
        "author: tester",
        f"name: {name}",
        f"label: {{en_US: {name}}}",
        f"description: {{en_US: test plugin {name}}}",
        "icon: icon.svg",
        "created_at: 2025-01-01T00:00:00Z",
        "resource:",
        "  memory: 268435456",
        "  permission:",
        "    model: {enabled: true, llm: true, text_embedding: true}",
        "    tool: {enabled: true}",
        "plugins:",
        f"  tools: {list(tools)}",
        f"  models: {list(models)}",
        "meta:",
        "  version: 0.0.1",
        "  arch: [amd64, arm64]",
        "  runner: {language: python, version: '3.12', entrypoint: main}",
    ]
    return "\n".join(lines) + "\n"


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            archive.writestr(path, textwrap.dedent(text) if path.endswith(".py") else text)
    return buffer.getvalue()


def _common(name: str, **manifest_args: list[str]) -> dict[str, str]:
    return {
        "manifest.yaml": manifest(name, **manifest_args),
        "main.py": MAIN,
        "requirements.txt": SDK_REQUIREMENT,
        "_assets/icon.svg": ICON,
    }


# --- the model plugin --------------------------------------------------------------------------------------

MODEL_PROVIDER_YAML = """\
provider: loopback
label: {en_US: Loopback}
description: {en_US: A model plugin for tests}
icon_small: {en_US: icon.svg}
supported_model_types: [llm, text-embedding]
configurate_methods: [predefined-model]
provider_credential_schema:
  credential_form_schemas:
    - variable: api_key
      label: {en_US: API Key}
      type: secret-input
      required: true
    - variable: base_url
      label: {en_US: Base URL}
      type: text-input
      required: true
models:
  llm:
    predefined: ["models/llm/*.yaml"]
  text_embedding:
    predefined: ["models/text_embedding/*.yaml"]
extra:
  python:
    provider_source: provider/loopback.py
    model_sources: [models/llm/llm.py, models/text_embedding/text_embedding.py]
"""

LLM_YAML = """\
model: loop-1
label: {en_US: Loop 1}
model_type: llm
features: [tool-call, multi-tool-call, stream-tool-call]
model_properties: {mode: chat, context_size: 8192}
parameter_rules:
  - name: temperature
    use_template: temperature
  - name: max_tokens
    use_template: max_tokens
    default: 256
    min: 1
    max: 4096
pricing: {input: '0.001', output: '0.002', unit: '0.001', currency: USD}
"""

EMBEDDING_YAML = """\
model: loop-embed
label: {en_US: Loop Embed}
model_type: text-embedding
model_properties: {context_size: 512, max_chunks: 8}
"""

PROVIDER_PY = """\
import requests
from dify_plugin import ModelProvider
from dify_plugin.errors.model import CredentialsValidateFailedError


class LoopbackProvider(ModelProvider):
    def validate_provider_credentials(self, credentials: dict) -> None:
        if credentials.get("api_key") == "wrong":
            raise CredentialsValidateFailedError("the key is wrong")
        response = requests.get(credentials["base_url"].rstrip("/") + "/models",
                                headers={"Authorization": "Bearer " + credentials["api_key"]}, timeout=10)
        if response.status_code != 200:
            raise CredentialsValidateFailedError(f"the server said {response.status_code}")
"""

LLM_PY = """\
import json
from collections.abc import Generator

import requests
from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model.llm import LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import AssistantPromptMessage, PromptMessage, PromptMessageTool
from dify_plugin.errors.model import InvokeError, InvokeServerUnavailableError


def _wire(message: PromptMessage) -> dict:
    data = {"role": message.role.value, "content": message.content if isinstance(message.content, str) else
            "".join(getattr(part, "data", "") for part in message.content or [])}
    if getattr(message, "tool_calls", None):
        data["tool_calls"] = [{"id": c.id, "type": "function",
                               "function": {"name": c.function.name, "arguments": c.function.arguments}}
                              for c in message.tool_calls]
    if getattr(message, "tool_call_id", None):
        data["tool_call_id"] = message.tool_call_id
    return data


class LoopbackLLM(LargeLanguageModel):
    def _invoke(self, model, credentials, prompt_messages, model_parameters, tools=None, stop=None,
                stream=True, user=None) -> Generator[LLMResultChunk, None, None]:
        body = {"model": model, "messages": [_wire(m) for m in prompt_messages], "stream": False}
        body.update(model_parameters)
        if tools:
            body["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                               "parameters": t.parameters}} for t in tools]
        response = requests.post(credentials["base_url"].rstrip("/") + "/chat/completions", json=body,
                                 headers={"Authorization": "Bearer " + credentials["api_key"]}, timeout=30)
        if response.status_code >= 500:
            raise InvokeServerUnavailableError(response.text)
        answer = response.json()["choices"][0]
        text = answer["message"].get("content") or ""
        calls = [AssistantPromptMessage.ToolCall(
                    id=c["id"], type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name=c["function"]["name"], arguments=c["function"]["arguments"]))
                 for c in answer["message"].get("tool_calls") or []]
        half = len(text) // 2
        for index, piece in enumerate([text[:half], text[half:]]):
            if piece:
                yield LLMResultChunk(model=model, prompt_messages=[], delta=LLMResultChunkDelta(
                    index=index, message=AssistantPromptMessage(content=piece)))
        usage = response.json().get("usage") or {}
        yield LLMResultChunk(model=model, prompt_messages=[], delta=LLMResultChunkDelta(
            index=2, message=AssistantPromptMessage(content="", tool_calls=calls),
            usage=self._calc_response_usage(model, credentials, usage.get("prompt_tokens", 1),
                                            usage.get("completion_tokens", 1)),
            finish_reason=answer.get("finish_reason") or "stop"))

    def get_num_tokens(self, model, credentials, prompt_messages, tools=None) -> int:
        return sum(len(str(m.content or "").split()) for m in prompt_messages)

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {InvokeServerUnavailableError: [requests.ConnectionError]}
"""

EMBEDDING_PY = """\
import hashlib

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import EmbeddingInputType
from decimal import Decimal

from dify_plugin.entities.model.text_embedding import EmbeddingUsage, TextEmbeddingResult
from dify_plugin.errors.model import InvokeError


def vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255, 4) for b in digest[:8]]


class LoopbackEmbedding(TextEmbeddingModel):
    def _invoke(self, model, credentials, texts, user=None, input_type=EmbeddingInputType.DOCUMENT):
        tokens = sum(len(t.split()) for t in texts)
        usage = EmbeddingUsage(tokens=tokens, total_tokens=tokens, unit_price=Decimal(0), price_unit=Decimal(0),
                               total_price=Decimal(0), currency="USD", latency=0.0)
        return TextEmbeddingResult(model=model, embeddings=[vector(t) for t in texts], usage=usage)

    def get_num_tokens(self, model, credentials, texts):
        return [len(t.split()) for t in texts]

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
"""


def model_plugin(version: str = "0.0.1") -> bytes:
    files = _common("loopback", version=version, models=["provider/loopback.yaml"])
    files.update(
        {
            "provider/loopback.yaml": MODEL_PROVIDER_YAML,
            "provider/loopback.py": PROVIDER_PY,
            "models/llm/loop-1.yaml": LLM_YAML,
            "models/llm/llm.py": LLM_PY,
            "models/text_embedding/loop-embed.yaml": EMBEDDING_YAML,
            "models/text_embedding/text_embedding.py": EMBEDDING_PY,
        }
    )
    return package(files)


# --- the tool plugin ---------------------------------------------------------------------------------------


def tool_provider_yaml(name: str, tools: list[str]) -> str:
    return textwrap.dedent(f"""\
        identity:
          author: tester
          name: {name}
          label: {{en_US: {name}}}
          description: {{en_US: tools for tests}}
          icon: icon.svg
        tools: {tools}
        extra:
          python:
            source: provider/{name}.py
        """)


def tool_yaml(name: str, description: str, parameter: str = "text") -> str:
    return textwrap.dedent(f"""\
        identity:
          name: {name}
          author: tester
          label: {{en_US: {name}}}
        description:
          human: {{en_US: {description}}}
          llm: {description}
        parameters:
          - name: {parameter}
            type: string
            required: true
            label: {{en_US: {parameter}}}
            human_description: {{en_US: the {parameter}}}
            llm_description: the {parameter}
            form: llm
        extra:
          python:
            source: tools/{name}.py
        """)


def tool_provider_py(cls: str) -> str:
    return f"""\
from dify_plugin import ToolProvider


class {cls}(ToolProvider):
    def _validate_credentials(self, credentials: dict) -> None:
        pass
"""


def tool_py(cls: str, body: str, imports: str = "") -> str:
    return (
        "from collections.abc import Generator\n\n"
        "from dify_plugin import Tool\n"
        "from dify_plugin.entities.tool import ToolInvokeMessage\n"
        f"{imports}\n\n"
        f"class {cls}(Tool):\n"
        "    def _invoke(self, tool_parameters: dict) -> Generator[ToolInvokeMessage, None, None]:\n"
        + textwrap.indent(textwrap.dedent(body), " " * 8)
    )


SHOUT = """\
text = tool_parameters["text"]
yield self.create_text_message(text.upper())
yield self.create_json_message({"length": len(text)})
"""

ASK = """\
config = LLMModelConfig(provider="openai", model="gpt-4o-mini", mode="chat", completion_params={})
answer = ""
for chunk in self.session.model.llm.invoke(model_config=config,
                                           prompt_messages=[UserPromptMessage(content=tool_parameters["question"])],
                                           stream=True):
    answer += chunk.delta.message.content or ""
yield self.create_text_message("platform says: " + answer)
"""
ASK_IMPORTS = (
    "from dify_plugin.entities.model.llm import LLMModelConfig\n"
    "from dify_plugin.entities.model.message import UserPromptMessage\n"
)


def tool_plugin(version: str = "0.0.1") -> bytes:
    files = _common("texttools", version=version, tools=["provider/texttools.yaml"])
    files.update(
        {
            "provider/texttools.yaml": tool_provider_yaml(
                "texttools", ["tools/shout.yaml", "tools/ask.yaml"]
            ),
            "provider/texttools.py": tool_provider_py("TextTools"),
            "tools/shout.yaml": tool_yaml("shout", "Upper-cases a text"),
            "tools/shout.py": tool_py("Shout", SHOUT),
            "tools/ask.yaml": tool_yaml("ask", "Asks the platform's model", parameter="question"),
            "tools/ask.py": tool_py("Ask", ASK, ASK_IMPORTS),
        }
    )
    return package(files)


TROUBLE = {
    "crash": ("import os", "os._exit(3)\nyield self.create_text_message('never')\n"),
    "hang": ("import time", "time.sleep(600)\nyield self.create_text_message('never')\n"),
    "garbage": (
        "import os",
        "print('garbage {{{ not json')\nos.write(1, b'more garbage\\n')\n"
        "yield self.create_text_message('still fine: ' + tool_parameters['text'])\n",
    ),
    "fine": ("", "yield self.create_text_message('fine: ' + tool_parameters['text'])\n"),
    "peek": (
        "import os",
        "seen = os.path.exists(tool_parameters['text'])\n"
        "yield self.create_text_message(f\"exists={seen} secret={os.environ.get('SECRET_KEY')}\")\n",
    ),
    # Tries each target ("tcp host:port": a direct connect; "http URL": a GET as plugins make them, through
    # whatever proxy the environment names) and reports each outcome as data, never raising.
    "reach": (
        "import json, socket\nimport requests",
        "outcomes = {}\n"
        "for target in json.loads(tool_parameters['text']):\n"
        "    kind, _, where = target.partition(' ')\n"
        "    try:\n"
        "        if kind == 'tcp':\n"
        "            host, port = where.rsplit(':', 1)\n"
        "            socket.create_connection((host, int(port)), timeout=3).close()\n"
        "            outcomes[target] = 'connected'\n"
        "        else:\n"
        "            response = requests.get(where, timeout=10)\n"
        "            outcomes[target] = f'http {response.status_code}: {response.text[:120]}'\n"
        "    except Exception as error:\n"
        "        outcomes[target] = 'failed: ' + type(error).__name__\n"
        "yield self.create_text_message(json.dumps(outcomes))\n",
    ),
}


def trouble_plugin() -> bytes:
    files = _common("trouble", tools=["provider/trouble.yaml"])
    files["provider/trouble.yaml"] = tool_provider_yaml("trouble", [f"tools/{n}.yaml" for n in TROUBLE])
    files["provider/trouble.py"] = tool_provider_py("Trouble")
    for name, (imports, body) in TROUBLE.items():
        files[f"tools/{name}.yaml"] = tool_yaml(name, f"{name} tool")
        files[f"tools/{name}.py"] = tool_py(name.title(), body, imports)
    return package(files)


PLUGINS = (model_plugin, tool_plugin, trouble_plugin)
