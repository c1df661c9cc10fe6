"""Plotly figures of the learned feature space: test images as points of a 2-D projection, coloured by class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from ..projection import METHODS, Projection

__all__ = ["projection_figure", "projection_point"]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf")


def projection_figure(proj: Projection, class_names: Sequence[str], *, title: str = "", height: int = 520,
                      highlight: int | None = None) -> go.Figure:
    """One trace per true class (its legend entry names the class); a wrongly predicted image is drawn as an open
    circle. Hover names the test image's number and its true and predicted class; trace k's point j is test image
    ``projection_point(proj, k, j)``. ``highlight``: a test image number to ring."""
    fig = go.Figure()
    names = list(class_names)
    for k in range(len(names)):
        mask = _class_points(proj, k)
        if not len(mask):
            fig.add_trace(go.Scatter(x=[], y=[], mode="markers", name=names[k]))
            continue
        wrong = proj.predicted[mask] != k
        custom = np.stack([proj.indices[mask], proj.predicted[mask]], axis=1)
        fig.add_trace(go.Scatter(
            x=proj.points[mask, 0], y=proj.points[mask, 1], mode="markers", name=names[k],
            marker={"color": _PALETTE[k % len(_PALETTE)], "size": 6, "opacity": 0.8,
                    "symbol": np.where(wrong, "circle-open", "circle"), "line": {"width": 1}},
            customdata=custom, text=[names[int(p)] if 0 <= int(p) < len(names) else str(p) for p in custom[:, 1]],
            hovertemplate=_("test image #%{customdata[0]}") + "<br>" + _("true class: {name}").format(name=names[k])
            + "<br>" + _("predicted: %{text}") + "<extra></extra>"))
    if highlight is not None and (hit := np.flatnonzero(proj.indices == highlight)).size:
        i = int(hit[0])
        fig.add_trace(go.Scatter(x=[proj.points[i, 0]], y=[proj.points[i, 1]], mode="markers", showlegend=False,
                                 hoverinfo="skip", marker={"size": 18, "color": "rgba(0,0,0,0)",
                                                           "line": {"color": "#000", "width": 2.5}}))
    if proj.method == "pca" and len(proj.explained) >= 2:
        x_title = _("principal axis 1 ({share:.0%} of the variance)").format(share=proj.explained[0])
        y_title = _("principal axis 2 ({share:.0%} of the variance)").format(share=proj.explained[1])
    else:
        x_title, y_title = _("t-SNE 1"), _("t-SNE 2")
    fig.update_layout(
        height=height, title=title or _("{method} of the features of {n:,} test images").format(
            method=_(METHODS[proj.method]), n=len(proj.points)),
        xaxis={"title": x_title, "zeroline": False, "showticklabels": proj.method == "pca"},
        yaxis={"title": y_title, "zeroline": False, "showticklabels": proj.method == "pca"},
        margin={"l": 50, "r": 20, "t": 60, "b": 50}, hovermode="closest",
        legend={"itemsizing": "constant", "orientation": "h", "y": -0.16, "yanchor": "top", "x": 0},
        clickmode="event+select")
    return fig


def _class_points(proj: Projection, k: int) -> np.ndarray:
    """Positions of class ``k``'s points, the right answers first (a legend shows a trace's first marker: filled)."""
    where = np.flatnonzero(proj.labels == k)
    return where[np.argsort(proj.predicted[where] != k, kind="stable")]


def projection_point(proj: Projection, trace: int, point: int) -> int | None:
    """The test image number of point ``point`` of trace ``trace`` (a class) of ``projection_figure``."""
    where = _class_points(proj, trace)
    return int(proj.indices[where[point]]) if 0 <= point < len(where) else None
