"""What the training pages share to read runs: how to draw the curves (smoothing, log scale, x axis), a run's history
as a CSV download, and every run's settings against its results (a sortable table, a parallel-coordinates view)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cnnviz.i18n import _
from cnnviz.plots.curves import X_AXES, CurveView
from dashboard import layout
from dashboard.training import dataset_title

SMOOTHING_DEFAULT = 0.6  # TensorBoard's


def curve_view(key: str, *, where=None, x_axes: tuple[str, ...] = tuple(X_AXES), log: bool = True) -> CurveView:
    """Three controls in a row (smoothing, log scale for the loss, the x axis) and the ``CurveView`` they choose.
    Widget keys start with ``key``; ``log=False`` leaves the log switch out (a chart that is always logarithmic)."""
    box = where if where is not None else st
    cols = box.columns([3, 2, 3]) if log else box.columns([3, 3])
    smoothing = cols[0].slider(
        _("Smoothing"), 0.0, 0.99, SMOOTHING_DEFAULT, 0.01, key=f"{key}.smoothing",
        help=_("An exponential moving average, as TensorBoard draws it (with its correction for the first points): "
               "0 shows the raw curve; the raw curve stays faint behind the smoothed one."))
    log_loss = cols[1].toggle(_("Log scale (loss)"), key=f"{key}.log",
                              help=_("A logarithmic loss axis: late, small improvements become visible.")) if log \
        else False
    if st.session_state.get(f"{key}.x") not in x_axes:
        st.session_state[f"{key}.x"] = x_axes[0]
    x = cols[-1].radio(_("x axis"), x_axes, key=f"{key}.x", horizontal=True, format_func=lambda a: _(X_AXES[a]))
    return CurveView(smoothing=float(smoothing), log_loss=bool(log_loss), x=str(x))


def csv_name(text: str) -> str:
    """A file name for ``text`` (letters, digits, - and _ only)."""
    return (re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "run") + ".csv"


def history_download(runs, *, key: str, file_name: str, where=None) -> None:
    """A download button for the histories of ``runs`` (label, History) as one CSV table."""
    from cnnviz.runs.compare import histories_csv

    (where if where is not None else st).download_button(
        _("Download the history (CSV)"), histories_csv(runs), file_name=csv_name(file_name), mime="text/csv",
        key=key, icon=":material/download:", on_click="ignore",
        help=_("Every step record and every epoch of the run, for a spreadsheet."))


def settings_and_results(labelled) -> list:
    """The sortable table of every run's settings (the ones that differ between the runs first) against its best and
    final test accuracy; ``labelled`` is (label, RunInfo) pairs. Returns the rows (cnnviz.runs.compare.RunRow)."""
    from cnnviz import training
    from cnnviz.runs.compare import SETTINGS, settings_rows, varying_settings

    rows = settings_rows(labelled)
    names = dict(SETTINGS)
    differ = varying_settings(rows)
    order = differ + [f for f, _n in SETTINGS if f not in differ]
    run, best, final = _("run"), _("best test accuracy"), _("final test accuracy")
    status, done, seconds = _("status"), _("epochs done"), _("time (s)")

    def cell(field, value):  # one type per column: numbers stay numbers (sortable), yes/no and names are text
        if field == "dataset" and value:
            return dataset_title(str(value))  # Fashion-MNIST, a folder by its name (translated)
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        return value if value is None or isinstance(value, (int, float)) else str(value)

    table = [{run: r.label, best: r.best, final: r.final,
              **{_(names[f]): cell(f, r.settings.get(f)) for f in order},
              status: training.status_label(r.status), done: r.epochs_done, seconds: round(r.elapsed_s)}
             for r in rows]
    layout.table(table, percents=[best, final],  # HTML on a projector, percent columns in both modes
                 column_config={_(names["lr"]): st.column_config.NumberColumn(format="%g")})
    st.caption(_("Click a column's name to sort by it. The settings that differ between your runs come first; an "
                 "empty number of training images means all of them."))
    return rows


# ---- which run a page reads: this session's runs (or a read-only link's) and the shipped network
SHIPPED = "shipped"


@dataclass(frozen=True)
class RunSource:
    """A run a page can read: its title, folder (None: the shipped network's, read-only), epoch checkpoints, data,
    and its status (``cnnviz.runs.RunInfo.status``: "running", "finished", "interrupted", ...)."""

    key: str
    title: str
    folder: Path | None
    checkpoints: tuple[str, ...]
    dataset: str
    input_shape: tuple[int, int, int]
    seed: int
    steps_per_epoch: int
    model: str = ""
    status: str = "finished"

    @property
    def under_way(self) -> bool:
        """Whether the run is still training (or about to): what it records is yet to come."""
        return self.status in ("new", "queued", "running")


def run_sources() -> dict[str, RunSource]:
    """This session's runs (a shared link's when the address has one), newest first, then the shipped network."""
    from cnnviz import runs, training

    from dashboard import session

    folder = session.shared_runs_folder() or session.training_runs_folder()
    out: dict[str, RunSource] = {}
    try:
        found = list(reversed(runs.list_runs(folder)))
    except OSError:
        found = []
    for r in found:
        c, h = r.config, r.history
        shape = c.model_input_shape if c is not None else (1, 28, 28)
        out[f"run:{r.name}"] = RunSource(
            f"run:{r.name}", _("Your run: {title} ({name})").format(title=r.title, name=r.name), r.path,
            tuple(str(p) for p in r.checkpoints), c.dataset if c is not None else "fashion_mnist", tuple(shape),
            c.seed if c is not None else 0, h.steps_per_epoch if h is not None else 0, c.model if c else "", r.status)
    shipped = training.pretrained_checkpoints()
    if shipped:
        spe = 0
        try:
            spe = training.History.load(training.PRETRAINED_DIR / training.HISTORY_FILE).steps_per_epoch
        except ValueError:
            pass
        out[SHIPPED] = RunSource(SHIPPED, _("Shipped Fashion-MNIST CNN"), None, tuple(str(p) for p in shipped),
                                 "fashion_mnist", (1, 28, 28), 0, spe, "mnist_cnn")
    return out


def pick_run(sources: dict[str, RunSource], *, key: str, where=None, label: str | None = None) -> RunSource:
    """A run chooser (the newest run first); returns the chosen source."""
    box = where if where is not None else st
    keys = list(sources)
    if st.session_state.get(key) not in keys:
        st.session_state.pop(key, None)
    chosen = box.selectbox(label or _("Run"), keys, key=key, format_func=lambda k: sources[k].title)
    return sources[chosen]
