"""Memory stays bounded on a shared server: every cache of the dashboard that takes arguments has a size limit."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboard"
# the cache modules: one per section of pages, and the caches every section reads
CACHE_MODULES = {DASHBOARD / f"{name}.py" for name in
                 ("data", "lab", "inside", "lookfor", "training", "transfer", "classroom")}  # as docs/ARCHITECTURE.md


def _cache_decorator(node: ast.expr) -> ast.Call | ast.Attribute | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
        return node
    return None


def test_every_cache_with_arguments_is_bounded():
    unbounded = []
    functions = [fn for path in sorted(CACHE_MODULES)
                 for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8")))]
    assert functions, "no cache modules found"
    for fn in functions:
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


def test_caches_live_only_in_the_cache_modules():
    """Caching lives in dashboard/'s cache modules: no page, no backend module and no other dashboard module caches
    on its own (the server start's one-per-process warm-up thread is the exception)."""
    def caches(path: Path) -> bool:
        text = path.read_text(encoding="utf-8")
        return "st.cache_data" in text or "st.cache_resource" in text

    allowed = CACHE_MODULES | {DASHBOARD / "warmup.py"}
    files = [*ROOT.glob("pages/*.py"), *DASHBOARD.glob("*.py"), *ROOT.glob("cnnviz/**/*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in files if p not in allowed and caches(p)]
    assert not offenders
    assert all(caches(p) for p in CACHE_MODULES)
