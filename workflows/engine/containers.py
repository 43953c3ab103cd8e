"""Container execution: iteration items and loop rounds, each run as a child frame.

Iteration items run on overlays of the parent pool (cheap isolation instead of Dify's deep copy per
item); loop rounds share the parent pool and clear their body's outputs at the start of each round.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .conditions import ConditionError, evaluate_all
from .events import (
    IterationFailed,
    IterationNext,
    IterationStarted,
    IterationSucceeded,
    LoopFailed,
    LoopNext,
    LoopStarted,
    LoopSucceeded,
)
from .nodes.base import NodeResult
from .nodes.containers import IterationNode, LoopNode

if TYPE_CHECKING:
    from .executor import Frame

_MISSING = object()


class LoopControl:
    __slots__ = ("reached_end",)

    def __init__(self) -> None:
        self.reached_end = False


def _flatten(outputs: list[Any]) -> list[Any]:
    present = [item for item in outputs if item is not None]
    if not present or not all(isinstance(item, list) for item in present):
        return outputs
    flattened: list[Any] = []
    for item in outputs:
        if isinstance(item, list):
            flattened.extend(item)
        elif item is not None:
            flattened.append(item)
    return flattened


async def run_iteration(frame: Frame, node: IterationNode, exec_id: str) -> NodeResult:
    run = frame.run
    common = frame._common(node, exec_id)
    found, value = frame.pool.lookup(node.iterator)
    if not found:
        return NodeResult.failed(
            f"iterator variable {list(node.iterator)} not found", "IteratorVariableNotFoundError"
        )
    if value is None or (isinstance(value, list) and not value):
        frame.emit(IterationStarted(inputs={"iterator_selector": []}, length=0, **common))
        frame.emit(IterationSucceeded(outputs={"output": []}, steps=0, **common))
        return NodeResult(outputs={"output": []}, inputs={"iterator_selector": []})
    if not isinstance(value, list):
        return NodeResult.failed(
            f"invalid iterator value: {value}, please provide a list.", "InvalidIteratorValueError"
        )
    items = value
    count = len(items)
    frame.emit(IterationStarted(inputs={"iterator_selector": items}, length=count, **common))
    scope = run.graph.scopes[node.id]
    results: list[Any] = [_MISSING] * count
    errors: dict[int, str] = {}
    output_selector = node.output_selector
    mode = node.error_mode

    async def run_item(index: int) -> None:
        frame.emit(IterationNext(index=index, **common))
        pool = frame.pool.overlay()  # cheap isolation instead of Dify's deep copy per item
        pool.set(node.id, "item", items[index])
        pool.set(node.id, "index", index)
        child = type(frame)(run, scope, pool, parent=frame, iteration=(node.id, index))
        await child.execute()
        if child.failure is not None:
            errors[index] = child.failure[1]
            return
        if run.stop_reason is not None:
            return
        results[index] = pool.get(output_selector) if output_selector else None
        if index == count - 1:
            frame._merge_response(child.response_outputs)  # only the last item's answers reach the run

    parallel = node.is_parallel and node.parallel_nums > 1 and count > 1 and frame.needs_tasks(scope)
    if not parallel:
        for index in range(count):
            await run_item(index)
            if run.stop_reason is not None or (errors and mode == "terminated"):
                break
    else:
        next_index = 0
        active: set[asyncio.Task[None]] = set()
        try:
            while next_index < count or active:
                while (
                    next_index < count
                    and len(active) < node.parallel_nums
                    and run.stop_reason is None
                    and not (errors and mode == "terminated")
                ):
                    active.add(asyncio.get_running_loop().create_task(run_item(next_index)))
                    next_index += 1
                if not active:
                    break
                finished, active = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()
        finally:
            for task in active:
                task.cancel()
    if run.stop_reason is not None and not errors:
        return NodeResult.failed("stopped", "Stopped")
    if errors and mode == "terminated":
        first = errors[min(errors)]
        outputs = {
            "output": _flatten([r for r in results if r is not _MISSING])
            if node.flatten_output
            else [r for r in results if r is not _MISSING]
        }
        frame.emit(IterationFailed(outputs=outputs, steps=count, error=first, **common))
        return NodeResult.failed(first, "IterationNodeError", inputs={"iterator_selector": items})
    ordered: list[Any] = []
    for index in range(count):
        if index in errors:
            if mode == "continue-on-error":
                ordered.append(None)
            continue  # remove-abnormal-output drops the item
        item = results[index]
        ordered.append(None if item is _MISSING else item)
    output = _flatten(ordered) if node.flatten_output else ordered
    frame.emit(IterationSucceeded(outputs={"output": output}, steps=count, **common))
    return NodeResult(outputs={"output": output}, inputs={"iterator_selector": items})


def _break_reached(frame: Frame, node: LoopNode, suppress_errors: bool) -> bool:
    if not node.break_conditions:
        return False
    try:
        result, _, _ = evaluate_all(frame.pool, node.break_conditions, node.logical_operator)
    except ConditionError:
        if suppress_errors:
            return False
        raise
    return result


async def run_loop(frame: Frame, node: LoopNode, exec_id: str) -> NodeResult:
    run = frame.run
    common = frame._common(node, exec_id)
    pool = frame.pool
    inputs: dict[str, Any] = {"loop_count": node.loop_count}
    for variable in node.variables:
        if variable.value_type == "variable":
            found, value = pool.lookup(variable.value)
            if not found:
                return NodeResult.failed(f"Invalid value for loop variable {variable.label}", "LoopNodeError")
        else:
            value = variable.value
        pool.set(node.id, variable.label, value, variable.type)
        inputs[variable.label] = value
    frame.emit(LoopStarted(inputs=inputs, loop_count=node.loop_count, **common))
    scope = run.graph.scopes[node.id]
    outputs: dict[str, Any] = {}
    if _break_reached(frame, node, suppress_errors=True):
        frame.emit(LoopSucceeded(outputs=outputs, steps=0, **common))
        return NodeResult(outputs=outputs, inputs=inputs, metadata={"completed_reason": "loop_break"})
    reason = "loop_completed"
    for index in range(node.loop_count):
        if index > 0:
            frame.emit(LoopNext(index=index, pre_loop_output=dict(outputs), **common))
        for body_id in scope.descendants:
            pool.remove_node(body_id)  # outputs of the previous round must not leak into this one
        control = LoopControl()
        child = type(frame)(run, scope, pool, parent=frame, loop=(node.id, index), loop_control=control)
        await child.execute()
        for variable in node.variables:
            outputs[variable.label] = pool.get((node.id, variable.label))
        outputs["loop_round"] = index + 1
        if child.failure is not None:
            frame.emit(LoopFailed(outputs=dict(outputs), steps=index + 1, error=child.failure[1], **common))
            return NodeResult.failed(child.failure[1], "LoopNodeError", inputs=inputs)
        if run.stop_reason is not None:
            return NodeResult.failed("stopped", "Stopped")
        frame._merge_response(child.response_outputs)
        try:
            reached = control.reached_end or _break_reached(frame, node, suppress_errors=False)
        except ConditionError as error:
            frame.emit(LoopFailed(outputs=dict(outputs), steps=index + 1, error=str(error), **common))
            return NodeResult.failed(str(error), error.error_type, inputs=inputs)
        if reached:
            reason = "loop_break"
            break
    frame.emit(LoopSucceeded(outputs=dict(outputs), steps=node.loop_count, **common))
    return NodeResult(outputs=dict(outputs), inputs=inputs, metadata={"completed_reason": reason})
