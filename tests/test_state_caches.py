"""Memory stays bounded on a shared server: every cache of the dashboard that takes arguments has a size limit."""

from __future__ import annotations

import ast
from pathlib import Path

STATE = Path(__file__).resolve().parents[1] / "dashboard" / "state.py"


def _cache_decorator(node: ast.expr) -> ast.Call | ast.Attribute | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
        return node
    return None


def test_every_cache_with_arguments_is_bounded():
    unbounded = []
    for fn in ast.walk(ast.parse(STATE.read_text(encoding="utf-8"))):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for deco in fn.decorator_list:
            if _cache_decorator(deco) is None:
                continue
            keywords = {k.arg for k in deco.keywords} if isinstance(deco, ast.Call) else set()
            args = [a for a in fn.args.args if not (a.annotation is not None and ast.unparse(a.annotation) == "bool")]
            if args and "max_entries" not in keywords:
                unbounded.append(fn.name)
    assert not unbounded, f"caches that grow with every new argument: {unbounded}"


def test_caches_live_only_in_state():
    """Caching lives in one place: no page or other dashboard module caches on its own."""
    root = STATE.parents[1]
    offenders = [str(p.relative_to(root)) for p in [*root.glob("pages/*.py"), *root.glob("dashboard/*.py")]
                 if p != STATE and ("st.cache_data" in p.read_text(encoding="utf-8")
                                    or "st.cache_resource" in p.read_text(encoding="utf-8"))]
    assert not offenders
