"""Dify's `maths` provider: `eval_expression`.

Dify evaluates with numexpr; here a small evaluator walks Python's own parse tree and allows only
numbers, arithmetic, comparisons and a fixed set of functions and constants (numexpr's names), so no
name, attribute or call outside that set can run. Powers and factorial-sized results are bounded so
one expression cannot occupy the worker.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from providers.tools.builtin.base import BuiltinProvider, BuiltinTool, ToolContext, text_message
from providers.tools.entities import I18n, ToolParameter, ToolSpec
from workflows.engine.ports import ToolMessage

MAX_EXPRESSION_LENGTH = 1000
MAX_EXPONENT = 10_000
MAX_INT_BITS = 10_000  # results beyond ~3000 decimal digits are refused rather than computed

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "arctan2": math.atan2,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "arcsinh": math.asinh,
    "arccosh": math.acosh,
    "arctanh": math.atanh,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "log1p": math.log1p,
    "exp": math.exp,
    "expm1": math.expm1,
    "sqrt": math.sqrt,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
    "min": min,
    "max": max,
    "where": lambda condition, a, b: a if condition else b,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}


class ExpressionError(ValueError):
    pass


def _bounded_power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, int | float) and abs(exponent) > MAX_EXPONENT:
        raise ExpressionError("exponent too large")
    # An integer power's size is known before computing it: refuse instead of spending seconds on it.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and base.bit_length() * exponent > MAX_INT_BITS
    ):
        raise ExpressionError("the result is too large")
    result = operator.pow(base, exponent)
    if isinstance(result, complex):
        raise ExpressionError("the result is not a real number")
    return result


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in ("True", "False"):
            return node.id == "True"
        raise ExpressionError(f"unknown name {node.id!r}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        result = (
            _bounded_power(left, right)
            if isinstance(node.op, ast.Pow)
            else _BINARY[type(node.op)](left, right)
        )
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise ExpressionError("the result is too large")
        return result
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(value) for value in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _evaluate(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _evaluate(node.body) if _evaluate(node.test) else _evaluate(node.orelse)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and not node.keywords
    ):
        return FUNCTIONS[node.func.id](*[_evaluate(arg) for arg in node.args])
    raise ExpressionError(f"unsupported syntax: {ast.dump(node)[:60]}")


def evaluate(expression: str) -> Any:
    """The value of an arithmetic expression; ExpressionError (a ValueError) for anything else."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError("the expression is too long")
    try:
        # People (and models) write `^` for a power; numexpr would read it as xor.
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"invalid syntax: {getattr(exc, 'msg', exc)}") from None
    try:
        return _evaluate(tree)
    except ExpressionError:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        raise ExpressionError(str(exc) or type(exc).__name__) from None


class EvalExpressionTool(BuiltinTool):
    spec = ToolSpec(
        name="eval_expression",
        author="Bowen Liang",
        label=I18n(en_US="Eval Math Expression", zh_Hans="计算数学表达式", pt_BR="Eval Math Expression"),
        description=I18n(
            en_US="A tool for evaluating an math expression.",
            zh_Hans="一个用于计算数学表达式的工具。",
            pt_BR="A tool for evaluating an math expression.",
        ),
        llm_description="A tool for evaluating an math expression.",
        parameters=(
            ToolParameter(
                name="expression",
                label=I18n(en_US="Math Expression", zh_Hans="数学计算表达式", pt_BR="Math Expression"),
                required=True,
                human_description=I18n(
                    en_US="Math Expression", zh_Hans="数学计算表达式", pt_BR="Math Expression"
                ),
            ),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        expression = str(parameters.get("expression") or "").strip()
        if not expression:
            yield text_message("Invalid expression")
            return
        try:
            result = evaluate(expression)
        except ExpressionError as exc:
            yield text_message(f"Invalid expression: {expression}, error: {exc}")
            return
        yield text_message(f'The result of the expression "{expression}" is {result}')


PROVIDER = BuiltinProvider(
    name="maths",
    author="Bowen Liang",
    label=I18n(en_US="Maths", zh_Hans="数学工具", pt_BR="Maths"),
    description=I18n(
        en_US="A tool for maths.", zh_Hans="一个用于计算数学表达式的工具。", pt_BR="A tool for maths."
    ),
    icon="maths.svg",
    tags=("utilities",),
    tools=(EvalExpressionTool(),),
)
