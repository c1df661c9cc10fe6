"""A layer stack as the rows of an editable table, and back."""

from __future__ import annotations

from typing import Any

__all__ = ["TABLE_COLUMNS", "from_table", "to_table"]


TABLE_COLUMNS = ("type", "out", "kernel", "stride", "padding", "dilation", "mode", "activation", "p")


def to_table(spec: list[dict]) -> list[dict]:
    """Spec -> rows for an editable table (one row per layer, the columns of ``TABLE_COLUMNS``)."""
    rows = []
    for layer in spec:
        t = layer.get("type")
        rows.append({
            "type": t,
            "out": layer.get("out_channels") if t == "conv" else layer.get("out_features") if t == "linear" else None,
            "kernel": layer.get("kernel"),
            "stride": layer.get("stride", layer.get("kernel") if t == "pool" else 1) if t in ("conv", "pool") else None,
            "padding": layer.get("padding", 0) if t in ("conv", "pool") else None,
            "dilation": layer.get("dilation", 1) if t == "conv" else None,
            "mode": layer.get("mode", "max") if t == "pool" else None,
            "activation": layer.get("activation") if t in ("conv", "linear") else None,
            "p": layer.get("p", 0.5) if t == "dropout" else None,
        })
    return rows


def _blank(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)  # NaN from a table


def from_table(rows: list[dict]) -> list[dict]:
    """Rows of an edited table -> spec; blank cells take the defaults, rows without a type are skipped."""
    spec = []
    for row in rows:
        t = row.get("type")
        if _blank(t):
            continue
        get = {k: (None if _blank(row.get(k)) else row.get(k)) for k in TABLE_COLUMNS}
        get = {k: int(v) if isinstance(v, float) and v.is_integer() and k != "p" else v for k, v in get.items()}
        if t == "conv":
            layer = {"type": "conv", "out_channels": get["out"], "kernel": get["kernel"], "stride": get["stride"] or 1,
                     "padding": 0 if get["padding"] is None else get["padding"], "dilation": get["dilation"] or 1,
                     "activation": get["activation"]}
        elif t == "pool":
            layer = {"type": "pool", "mode": get["mode"] or "max", "kernel": get["kernel"],
                     "stride": get["stride"] or get["kernel"], "padding": get["padding"] or 0}
        elif t == "linear":
            layer = {"type": "linear", "out_features": get["out"], "activation": get["activation"]}
        elif t == "dropout":
            layer = {"type": "dropout", "p": 0.5 if get["p"] is None else get["p"]}
        else:
            layer = {"type": t}
        spec.append(layer)
    return spec
