"""Plotly figures of runs against their settings: a parallel-coordinates view from settings to the test accuracy."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from ..runs.compare import SETTINGS, RunRow

__all__ = ["settings_parcoords"]

_NAMES = dict(SETTINGS)
_SCALE = [[0.0, "#d62728"], [0.5, "#ff7f0e"], [1.0, "#1f4e99"]]  # worst red to best dark blue: all show on white


def _axis(name: str, values: list, *, log: bool = False) -> dict:
    """One parcoords axis: numbers as they are (``log``: on a log10 scale, labelled with the values), anything
    else (text, yes/no, a missing value) as categories named on the axis's ticks."""
    numeric = values and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                             for v in values)
    if numeric:
        shown = [math.log10(v) if log and v > 0 else float(v) for v in values]
        unique = sorted(set(values))
        axis = {"label": name, "values": shown}
        if len(unique) <= 8:
            axis["tickvals"] = [math.log10(v) if log and v > 0 else float(v) for v in unique]
            axis["ticktext"] = [f"{v:g}" for v in unique]
        lo, hi = min(shown), max(shown)
        axis["range"] = [lo - 0.5, hi + 0.5] if hi == lo else [lo, hi]
        return axis
    text = [_("all") if v is None else (_("yes") if v is True else _("no") if v is False else str(v)) for v in values]
    categories = sorted(set(text))
    return {"label": name, "values": [categories.index(t) for t in text], "tickvals": list(range(len(categories))),
            "ticktext": categories, "range": [-0.5, len(categories) - 0.5] if len(categories) == 1
            else [0, len(categories) - 1]}


def settings_parcoords(rows: Sequence[RunRow], settings: Sequence[str], *, height: int = 440) -> go.Figure:
    """Parallel coordinates from each setting in ``settings`` (RunConfig fields) to the best and the final test
    accuracy, one line per run coloured by its best test accuracy; categorical settings are named on their axis."""
    dims = [_axis(_(_NAMES[f]), [r.settings.get(f) for r in rows], log=f in ("lr", "weight_decay"))
            for f in settings]
    best = [r.best if r.best is not None else float("nan") for r in rows]
    final = [r.final if r.final is not None else float("nan") for r in rows]
    known = [v for v in best + final if not math.isnan(v)]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    pad = max(0.005, (hi - lo) * 0.05)
    ticks = list(np.linspace(lo, hi, 5)) if hi > lo else [lo]
    for name, values in ((_("best test accuracy"), best), (_("final test accuracy"), final)):
        dims.append({"label": name, "values": values, "range": [lo - pad, hi + pad], "tickvals": ticks,
                     "ticktext": [f"{v:.1%}" for v in ticks]})
    fig = go.Figure(go.Parcoords(
        dimensions=dims,
        line={"color": [v if not math.isnan(v) else lo for v in best], "colorscale": _SCALE, "showscale": True,
              "cmin": lo, "cmax": hi if hi > lo else lo + 0.01,
              "colorbar": {"title": {"text": _("best test accuracy")}, "tickformat": ".0%"}}))
    first = dims[0].get("ticktext", []) if dims else []
    left = max(70, 8 + 7 * max((len(t) for t in first), default=0))  # the first axis's names sit left of it, uncut
    fig.update_layout(height=height, margin={"l": left, "r": 60, "t": 110, "b": 30},
                      title={"text": _("Settings → test accuracy (one line per run)"), "y": 0.98, "yanchor": "top"})
    return fig
