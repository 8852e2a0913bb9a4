"""JavaScript's JSON and number formatting, so the Python `advantages` command writes the bytes the TypeScript
CLI writes (`1` not `1.0`, `1e-7` not `1e-07`, `0.00001` not `1e-05`, `-0` as `0`) and its messages quote
values the way the TypeScript messages do."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_ARRAY_INDEX_LIMIT = 2**32 - 1


def js_number(x: float | int) -> str:
    """ECMAScript Number::toString(x): the shortest round-trip digits (as Python's repr), laid out by JS rules."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    sign, digits_t, exponent = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digits_t)).rstrip("0") or "0"
    # repr's mantissa may carry trailing zeros ("100.0" -> 1000 × 10^-1): fold them into the exponent.
    exponent = int(exponent) + (len(digits_t) - len(digits))
    k = len(digits)
    n = k + exponent  # value = 0.digits × 10^n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _is_array_index(key: str) -> bool:
    return key.isdigit() and (key == "0" or not key.startswith("0")) and int(key) < _ARRAY_INDEX_LIMIT and key.isascii()


def js_keys(obj: dict[str, Any]) -> list[str]:
    """`Object.keys(obj)` order: integer-like keys ascending first, then the others in insertion order."""
    keys = list(obj.keys())
    index = sorted((k for k in keys if _is_array_index(k)), key=int)
    return index + [k for k in keys if not _is_array_index(k)]


def js_string(s: str) -> str:
    """JSON.stringify of a string."""
    return json.dumps(s, ensure_ascii=False)


def js_json(value: Any, indent: int | None = None) -> str:
    """JSON.stringify(value, null, indent): compact separators, numbers as JS writes them, NaN/±Infinity as null.
    Tensors and numpy arrays are written as arrays."""
    return _dump(value, indent, 0)


def _dump(v: Any, indent: int | None, depth: int) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return js_number(v) if math.isfinite(v) else "null"
    if isinstance(v, str):
        return js_string(v)
    if hasattr(v, "tolist") and not isinstance(v, (list, tuple, dict)):
        return _dump(v.tolist(), indent, depth)
    if isinstance(v, dict):
        items = [(k, v[k]) for k in js_keys(v)]
        if not items:
            return "{}"
        if indent is None:
            return "{" + ",".join(f"{js_string(str(k))}:{_dump(x, None, 0)}" for k, x in items) + "}"
        pad, inner = " " * (indent * depth), " " * (indent * (depth + 1))
        body = ",\n".join(f"{inner}{js_string(str(k))}: {_dump(x, indent, depth + 1)}" for k, x in items)
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(v, (list, tuple)):
        if not v:
            return "[]"
        if indent is None:
            return "[" + ",".join(_dump(x, None, 0) for x in v) + "]"
        pad, inner = " " * (indent * depth), " " * (indent * (depth + 1))
        return "[\n" + ",\n".join(inner + _dump(x, indent, depth + 1) for x in v) + "\n" + pad + "]"
    raise TypeError(f"js_json: cannot write a {type(v).__name__}")


def _reject_constant(name: str) -> float:
    raise ValueError(f"Unexpected token '{name[0]}', \"{name}\" is not valid JSON")


def js_parse(text: str) -> Any:
    """JSON.parse: strict JSON (no NaN/Infinity literals), every number a float as in JavaScript. A document
    nested deeper than Python's recursive decoder goes (JavaScript's is not recursive) is a ValueError too."""
    try:
        return json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
