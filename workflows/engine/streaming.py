"""Answer streaming order (Dify's response coordinator / ResponseStreamFilter).

Each Answer/End node has a *session* walking its template segments. A session becomes eligible
once every blocking edge on some root->node path is taken (branch, container and response nodes
block; so does an assigner writing a variable the template reads). Eligible sessions stream one at
a time, FIFO; ties are taken in node-id order. The active session emits text segments at once,
forwards buffered chunks of a streamed selector (LLM text) until the stream is final, emits a
non-streamed value as one chunk (markdown rules) when it appears in the pool, and drops a segment
whose source node was skipped. Chunks on selectors no template references are dropped. The chunk of
the template's last segment carries `is_final`.

One coordinator per frame: the root run and every iteration item / loop round have their own.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .events import StreamChunk
from .graph import ResponsePlan, Scope, is_reachable
from .values import to_markdown

if TYPE_CHECKING:
    from .executor import Frame

Selector = tuple[str, ...]


class _Session:
    __slots__ = ("index", "node_id", "segments")

    def __init__(self, node_id: str, segments: tuple[Any, ...], index: int = 0) -> None:
        self.node_id = node_id
        self.segments = segments
        self.index = index


class ResponseCoordinator:
    __slots__ = (
        "_active",
        "_buffers",
        "_closed",
        "_frame",
        "_pending",
        "_positions",
        "_referenced",
        "_scope",
        "_taken",
        "_waiting",
    )

    def __init__(self, frame: Frame, scope: Scope) -> None:
        self._frame = frame
        self._scope = scope
        self._pending: dict[str, ResponsePlan] = dict(scope.response_plans)
        self._active: _Session | None = None
        self._waiting: deque[_Session] = deque()
        self._buffers: dict[Selector, list[StreamChunk]] = {}
        self._positions: dict[Selector, int] = {}
        self._closed: set[Selector] = set()
        self._taken: set[str] = set()
        self._referenced: set[Selector] = {
            segment
            for plan in scope.response_plans.values()
            for segment in plan.segments
            if isinstance(segment, tuple)
        }

    # -- triggers ------------------------------------------------------------------------------------
    def start(self) -> None:
        """The frame's root node started: open every session that needs no branch decision."""
        for node_id in sorted(self._pending):
            if self._pending[node_id].initially_eligible:
                self._activate(node_id)

    def edge_taken(self, edge_id: str) -> None:
        self._taken.add(edge_id)
        scope = self._scope
        for node_id in sorted(self._pending):
            plan = self._pending[node_id]
            if edge_id in plan.blocking_edges and is_reachable(
                scope.root_id, node_id, plan.ancestors, scope.out_edges, plan.blocking_edges, self._taken
            ):
                self._activate(node_id)

    def chunk(self, event: StreamChunk) -> None:
        selector = event.selector
        if selector not in self._referenced:
            return  # nobody renders this stream: Dify drops it
        if selector in self._closed:
            return
        buffer = self._buffers.get(selector)
        if buffer is None:
            buffer = self._buffers[selector] = []
            self._positions[selector] = 0
        buffer.append(event)
        if event.is_final:
            self._closed.add(selector)
        self.flush()

    # -- sessions --------------------------------------------------------------------------------------
    def _activate(self, node_id: str) -> None:
        plan = self._pending.pop(node_id, None)
        if plan is None:
            return
        session = _Session(node_id, plan.segments)
        if self._active is None:
            self._active = session
            self.flush()
        else:
            self._waiting.append(session)

    def flush(self) -> None:
        while self._active is not None:
            session = self._active
            segments = session.segments
            last = len(segments) - 1
            while session.index <= last:
                segment = segments[session.index]
                if isinstance(segment, str):
                    self._emit_text(session, segment, session.index == last)
                    session.index += 1
                    continue
                source = segment[0]
                if source in self._frame.skipped:
                    session.index += 1
                    continue
                if not self._variable(session, segment, session.index == last):
                    return  # waiting for data
                session.index += 1
            self._active = self._waiting.popleft() if self._waiting else None

    def _emit_text(self, session: _Session, text: str, is_final: bool) -> None:
        frame = self._frame
        node = frame.graph.nodes[session.node_id]
        frame.emit_chunk_event(
            node, frame.execution_id(session.node_id), (session.node_id, "answer"), text, is_final
        )

    def _variable(self, session: _Session, selector: Selector, is_last: bool) -> bool:
        frame = self._frame
        special = selector[0] not in self._scope.in_degree  # sys/env/conversation or outside this scope
        attributed = session.node_id if special else selector[0]
        buffer = self._buffers.get(selector)
        if buffer is not None:
            position = self._positions[selector]
            while position < len(buffer):
                event = buffer[position]
                position += 1
                if special:
                    node = frame.graph.nodes[attributed]
                    frame.emit_chunk_event(
                        node, frame.execution_id(attributed), selector, event.chunk, event.is_final
                    )
                else:
                    frame.emit(event)
            self._positions[selector] = position
        if selector in self._closed:
            return True
        found, value = frame.pool.lookup(selector)
        if not found:
            return False
        node = frame.graph.nodes[attributed]
        frame.emit_chunk_event(
            node,
            frame.execution_id(attributed),
            selector,
            to_markdown(value, frame.pool.declared_type(selector)),
            is_last,
        )
        return True

    # -- pause / resume ---------------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {
            "pending": sorted(self._pending),
            "active": [self._active.node_id, self._active.index] if self._active else None,
            "waiting": [[s.node_id, s.index] for s in self._waiting],
            "taken": sorted(self._taken),
            "closed": [list(sel) for sel in self._closed],
            "buffers": [
                [list(sel), self._positions[sel], [[e.id, e.node_id, e.chunk, e.is_final] for e in events]]
                for sel, events in self._buffers.items()
            ],
        }

    def load(self, state: dict[str, Any]) -> None:
        plans = self._scope.response_plans
        self._pending = {node_id: plans[node_id] for node_id in state.get("pending", []) if node_id in plans}
        active = state.get("active")
        self._active = _Session(active[0], plans[active[0]].segments, active[1]) if active else None
        self._waiting = deque(_Session(n, plans[n].segments, i) for n, i in state.get("waiting", []))
        self._taken = set(state.get("taken", []))
        self._closed = {tuple(sel) for sel in state.get("closed", [])}
        self._buffers = {}
        self._positions = {}
        for sel, position, events in state.get("buffers", []):
            key = tuple(sel)
            rebuilt = []
            for exec_id, node_id, chunk, is_final in events:
                node = self._frame.graph.nodes[node_id]
                rebuilt.append(
                    StreamChunk(
                        id=exec_id,
                        node_id=node_id,
                        node_type=node.type,
                        node_title=node.title,
                        selector=key,
                        chunk=chunk,
                        is_final=is_final,
                    )
                )
            self._buffers[key] = rebuilt
            self._positions[key] = position
