"""The ReAct agent loop (Dify's `CotAgentRunner`), for models without tool calling.

The tools are described in the system prompt (Dify's ReAct template); the model answers in text,
`Thought: ...` then `Action:` with a JSON blob `{"action": name, "action_input": {...}}`, and stops at
`Observation` (a stop word). We run the action, append `Observation: <result>` to the scratchpad and ask
again, until the action is `Final Answer` or the rounds run out.

Parsing is forgiving, as models are: the blob may be fenced (```json) or bare, wrapped in prose, use
`"Action"`/`"Action Input"` keys, or come as LangChain's `Action: name` / `Action Input: {...}` lines;
`Final Answer: text` ends the loop too. Text with no action at all is the final answer. An action that
cannot be read, or names no tool, answers the model an observation saying so, and the loop goes on.

A `Final Answer:` line is streamed as the model writes it (`FinalAnswerStream`); a final answer in a
JSON blob, or plain text with no marker, goes out whole once the reply is complete, since until then
the reply may still turn into an action.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps.runners.agent_chat import AgentModel, AgentOutcome, AgentTool, FilesCallback, Thought, _answer_of

FINAL = "final answer"

REACT_PROMPT = """Respond to the human as helpfully and accurately as possible.

{instruction}

You have access to the following tools:

{tools}

Use a json blob to specify a tool by providing an action key (tool name) and an action_input key (tool input).
Valid "action" values: "Final Answer" or {tool_names}

Provide only ONE action per $JSON_BLOB, as shown:

```
{{
  "action": $TOOL_NAME,
  "action_input": $ACTION_INPUT
}}
```

Follow this format:

Question: input question to answer
Thought: consider previous and subsequent steps
Action:
```
$JSON_BLOB
```
Observation: action result
... (repeat Thought/Action/Observation N times)
Thought: I know what to respond
Action:
```
{{
  "action": "Final Answer",
  "action_input": "Final response to human"
}}
```

Begin! Reminder to ALWAYS respond with a valid json blob of a single action. Use tools if necessary. Respond directly if appropriate. Format is Action:```$JSON_BLOB```then Observation:.
"""

_FENCED = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_THOUGHT = re.compile(r"^\s*Thought:\s*", re.IGNORECASE)
_LINE_ACTION = re.compile(r"Action:\s*([^\n`{]+?)\s*\n\s*Action Input:\s*(.*)", re.IGNORECASE | re.DOTALL)
_HEAD_END = re.compile(r"Action:|Final Answer:", re.IGNORECASE)  # what the thought stops at
_FINAL_LINE = re.compile(r"Final Answer:\s*(.*)", re.IGNORECASE | re.DOTALL)


class FinalAnswerStream:
    """What of a reply still being written can go out as the final answer already: the text after a
    `Final Answer:` marker that no JSON blob or `Action` precedes, in whole words. It stops at a `{`, a
    fence or the word `Action` after the marker (the reply may yet be read as an action) and holds
    back trailing whitespace (the parsed answer is stripped), so what it let out is a prefix of the parsed answer in
    every reply `parse` reads as a `Final Answer:` line."""

    def __init__(self) -> None:
        self.sent = ""
        self._held = False

    def feed(self, text: str) -> str:
        """The whole reply so far in; the new part of the answer to publish out ("" for none)."""
        if self._held:
            return ""
        marker = _FINAL_MARKER.search(text)
        if marker is None:
            return ""
        before, after = text[: marker.start()], text[marker.end() :].lstrip()
        if "{" in before or _ACTION_WORD.search(before):
            self._held = True
            return ""
        stop = _STREAM_STOP.search(after)
        if stop is not None:
            self._held = True
            ready = after[: stop.start()].rstrip()
        else:
            # whole words only: the last one may yet grow into `Action` or a fence
            ready = after[: max(after.rfind(" "), after.rfind("\n"))].rstrip()
        if len(ready) <= len(self.sent):
            return ""
        new, self.sent = ready[len(self.sent) :], ready
        return new


_FINAL_MARKER = re.compile(r"Final Answer:", re.IGNORECASE)
_ACTION_WORD = re.compile(r"\bAction\b", re.IGNORECASE)
_STREAM_STOP = re.compile(r"\{|```|\bAction\b", re.IGNORECASE)


@dataclass
class Step:
    thought: str
    action: str | None = None  # a tool name, or None for a final answer
    action_input: Any = None
    answer: str | None = None
    error: str | None = None


def _objects(text: str) -> list[str]:
    """Candidate JSON objects: fenced blocks first, then every balanced {...} in the text."""
    found = [block.strip() for block in _FENCED.findall(text)]
    depth, start = 0, -1
    for index, char in enumerate(text):
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                found.append(text[start : index + 1])
    return found


def _load(blob: str) -> Any:
    try:
        return json.loads(blob)
    except ValueError:
        pass
    # common slips: trailing commas, single quotes
    repaired = re.sub(r",\s*([}\]])", r"\1", blob)
    try:
        return json.loads(repaired)
    except ValueError:
        return json.loads(repaired.replace("'", '"'))


def _action_of(data: Any) -> tuple[str, Any] | None:
    if not isinstance(data, dict):
        return None
    keys = {str(k).lower().replace(" ", "_"): v for k, v in data.items()}
    if "action" not in keys:
        return None
    return str(keys["action"]).strip(), keys.get("action_input", {})


def parse(text: str) -> Step:
    """One model answer as a step; never raises."""
    head = _HEAD_END.split(text, 1)[0]
    thought = _THOUGHT.sub("", head).strip()
    for blob in _objects(text):
        try:
            found = _action_of(_load(blob))
        except ValueError:
            continue
        if found is None:
            continue
        action, action_input = found
        if action.lower() == FINAL:
            answer = (
                action_input
                if isinstance(action_input, str)
                else json.dumps(action_input, ensure_ascii=False)
            )
            return Step(thought=thought, answer=answer)
        return Step(thought=thought, action=action, action_input=action_input)
    line = _LINE_ACTION.search(text)
    if line is not None:
        action, raw = line.group(1).strip(), line.group(2).strip()
        if action.lower() == FINAL:
            return Step(thought=thought, answer=raw)
        try:
            action_input: Any = _load(raw)
        except ValueError:
            action_input = raw
        return Step(thought=thought, action=action, action_input=action_input)
    final = _FINAL_LINE.search(text)
    if final is not None:
        return Step(thought=thought, answer=final.group(1).strip())
    if re.search(r"\bAction\s*:", text):
        return Step(thought=thought, error="could not read the action: reply with one valid JSON blob")
    return Step(thought=thought, answer=_THOUGHT.sub("", text).strip())


def _tools_text(tools: dict[str, AgentTool]) -> str:
    return "\n".join(
        json.dumps(
            {
                "name": tool.function["name"],
                "description": tool.function.get("description", ""),
                "parameters": tool.function.get("parameters", {}),
            },
            ensure_ascii=False,
        )
        for tool in tools.values()
    )


def system_prompt(instruction: str, tools: dict[str, AgentTool]) -> str:
    return REACT_PROMPT.format(
        instruction=instruction,
        tools=_tools_text(tools),
        tool_names=", ".join(json.dumps(name) for name in tools),
    )


@dataclass
class _Call:
    """What `_answer_of` reads: a model's tool call, rebuilt from the parsed action."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> Any:
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError("action_input must be a JSON object")
        return value


def _arguments(tool: AgentTool | None, value: Any) -> Any:
    """A bare value for a tool of one parameter is that parameter (models often answer `"2+2"`)."""
    if isinstance(value, str):
        try:
            value = _load(value)
        except ValueError:
            pass
    if isinstance(value, dict) or value is None:
        return value or {}
    properties = list(((tool.function.get("parameters") or {}).get("properties") or {}) if tool else [])
    return {properties[0]: value} if len(properties) == 1 else value


async def run_react(
    *,
    model: AgentModel,
    port: Any,
    tools: dict[str, AgentTool],
    instruction: str,
    query: str,
    rounds: int,
    user: str | None,
    publish_text: Callable[[str], None],
    publish_thought: Callable[[Thought], None],
    stopped: asyncio.Event,
    history: list[dict[str, Any]] | None = None,
    publish_files: FilesCallback | None = None,
    ask_to_continue: bool = False,
) -> AgentOutcome:
    """Dify's chat ReAct loop: system prompt, the conversation so far, the question, then (from the second
    round) the scratchpad as an assistant message (and, in agent apps, ``ask_to_continue``: a ``continue``
    from the user, as Dify's app runner asks; the agent node's strategy does not). Each round is one
    thought (``thought``, ``tool``, ``tool_input``, ``observation``); the final answer goes out through
    ``publish_text``, files the tools returned through ``publish_files``."""
    system = system_prompt(instruction, tools)
    scratchpad = ""
    thoughts: list[Thought] = []
    usage = None
    stop = sorted({*(model.stop or []), "Observation"})
    react_model = AgentModel(**{**model.__dict__, "stop": stop})
    answer = ""
    for round_number in range(1, rounds + 1):
        thought = Thought(id=str(uuid.uuid4()), position=round_number)
        thoughts.append(thought)
        publish_thought(thought)
        # The last round describes no tools, so the model has to answer (as Dify's last iteration does).
        last = round_number == rounds and rounds > 1
        messages = [
            {"role": "system", "content": system_prompt(instruction, {}) if last else system},
            *(history or []),
            {"role": "user", "content": f"Question: {query}"},
        ]
        if scratchpad:
            messages.append({"role": "assistant", "content": scratchpad})
            if ask_to_continue:
                messages.append({"role": "user", "content": "continue"})
        started = time.perf_counter()
        stream = await react_model.stream(messages=messages, tools=None)
        chunks: list[str] = []
        streamed = FinalAnswerStream()
        async with stream:
            async for chunk in stream:
                if stopped.is_set():
                    break
                if chunk.text:
                    chunks.append(chunk.text)
                    if piece := streamed.feed("".join(chunks)):
                        publish_text(piece)
        text = "".join(chunks)
        result = stream.result
        usage = result.usage if usage is None else usage.plus(result.usage)
        thought.usage, thought.latency = result.usage, time.perf_counter() - started
        if stopped.is_set():
            return AgentOutcome(answer=streamed.sent, usage=usage, thoughts=thoughts, stopped=True)
        step = parse(text)
        thought.thought = step.thought
        if step.answer is not None and step.action is None and step.error is None:
            answer = step.answer
            # the part not streamed yet (all of it for a JSON blob or plain text)
            rest = answer[len(streamed.sent) :] if answer.startswith(streamed.sent) else answer
            if rest:
                publish_text(rest)
            publish_thought(thought)
            break
        if step.error is not None:
            observation = step.error
            thought.observation = observation
        else:
            name = str(step.action)
            thought.tool = name
            thought.tool_input = json.dumps({name: step.action_input}, ensure_ascii=False)
            arguments = _arguments(tools.get(name), step.action_input)
            call = _Call(id=thought.id, name=name, arguments=json.dumps(arguments, ensure_ascii=False))
            produced: list[Any] = []
            began = time.perf_counter()
            observation, error = await _answer_of(port, tools.get(name), call, user, produced)
            found = tools.get(name)
            thought.tool_meta[name] = {
                "time_cost": round(time.perf_counter() - began, 6),
                "error": error,
                "tool_config": {"tool_provider_type": found.provider_type} if found else {},
            }
            if found is not None and found.label:
                thought.tool_labels = {name: {"en_US": found.label, "zh_Hans": found.label}}
            if produced and publish_files is not None:
                publish_files(thought, produced)
            thought.observation = json.dumps({name: observation}, ensure_ascii=False)
        publish_thought(thought)
        scratchpad += f"{text.rstrip()}\nObservation: {observation}\n"
    else:
        # The rounds ran out on an action: what the model last thought is the best answer there is.
        answer = thoughts[-1].thought if thoughts else ""
        if answer:
            publish_text(answer)
    return AgentOutcome(answer=answer, usage=usage, thoughts=thoughts)
