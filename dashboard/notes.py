"""The lecture notes' MNIST runs in the training studio: the table of what the notes reach against what this
computer measured ("the notes' run · here"), and the notes' own plot of a run started from one of their presets."""

from __future__ import annotations

import streamlit as st

from cnnviz import training
from cnnviz.i18n import _, ngettext
from cnnviz.plots import notes as notes_plots
from dashboard import layout
from dashboard.training import clock, notes_measured, notes_seeds


def _measured(preset: str):
    run = training.NOTES_RUNS[preset]
    mtime = run.history.stat().st_mtime if run.history.is_file() else 0.0
    return notes_measured(preset, mtime)


def notes_runs_table(selected: str) -> None:
    """The notes' two runs: the test accuracy the notes reach against the one measured here, with the time, speed,
    seed and CPU of that run; then the notes' plot of the ``selected`` preset's run made here."""
    cols = {"run": _("the notes' run"), "notes": _("test accuracy: the notes"), "here": _("test accuracy: here"),
            "time": _("time here"), "speed": _("images/s here"), "seed": _("seed"), "cpu": _("CPU here")}
    rows = []
    for name, run in training.NOTES_RUNS.items():
        h = _measured(name)
        if h is None or not h.epochs:
            continue
        speeds = [e.images_per_s for e in h.epochs if e.images_per_s == e.images_per_s]
        rows.append({cols["run"]: _(training.PRESETS[name].title),
                     cols["notes"]: _("at least {acc:.0%}").format(acc=run.notes_accuracy),
                     cols["here"]: f"{h.epochs[-1].test_acc:.2%}", cols["time"]: clock(h.elapsed_s),
                     cols["speed"]: f"{sum(speeds) / max(len(speeds), 1):,.0f}", cols["seed"]: run.seed,
                     cols["cpu"]: ngettext("{cpu}, {n} thread (a shared machine)", "{cpu}, {n} threads (a shared "
                                           "machine)", run.threads).format(cpu=run.cpu, n=run.threads)})
    if not rows:
        return
    import pandas as pd

    st.markdown("**" + _("The notes' run · here") + "**")
    layout.table(pd.DataFrame(rows))
    st.caption(_("Each run was made once on this project's 2-core computer while other work shared it, with "
                 "`cnnviz train` and the preset's settings; the time includes a test pass after every epoch. "
                 "`python benchmarks/bench_notes.py` runs them again."))
    if selected in training.NOTES_RUNS:
        seeds_caption(selected)
    h = _measured(selected) if selected in training.NOTES_RUNS else None
    if h is not None:
        layout.chart(notes_plots.notes_figure(h, training.NOTES_RUNS[selected].plot, height=300),
                     key="tr.notes_measured")
        st.caption(notes_caption(training.NOTES_RUNS[selected].plot))


def seeds_caption(preset: str) -> None:
    """Under the table, when the notes' run ``preset`` was also made here with other seeds: each seed's test accuracy
    after the last epoch (and its best), and their range and mean."""
    run = training.NOTES_RUNS[preset]
    paths = [run.history, *(path for _seed, path in run.other_seeds)]
    results = notes_seeds(preset, tuple(p.stat().st_mtime if p.is_file() else 0.0 for p in paths))
    if len(results) < 2:
        return
    each = ", ".join(_("seed {seed}: {final:.2%} (best {best:.2%})").format(seed=r.seed, final=r.final, best=r.best)
                     for r in results)
    finals = [r.final for r in results]
    st.caption(_("The same run here with {n} seeds, test accuracy after the last epoch: {each}. From {low:.2%} to "
                 "{high:.2%}, mean {mean:.2%}: SGD at a fixed learning rate wobbles by a few tenths of a point from "
                 "epoch to epoch and from seed to seed.").format(n=len(results), each=each, low=min(finals),
                                                                 high=max(finals), mean=sum(finals) / len(finals)))


def notes_caption(plot: str) -> str:
    """What the notes' plot of kind ``plot`` shows, in one or two sentences."""
    if plot == "epochs":
        return _("As the PyTorch notes plot it: the training loss (the mean over each epoch) and the test loss after "
                 "every epoch, and the test accuracy.")
    return _("As the TensorFlow notes print it: the training accuracy every 100 steps (here the mean over those 100 "
             "batches; the notes print the accuracy of the batch at hand), and the test accuracy at the end.")


def notes_live_plot(job) -> None:
    """Under the live curves of a run started from one of the notes' presets: the notes' own plot of it."""
    preset = (job.options.get("meta") or {}).get("preset", "")
    if preset not in training.NOTES_RUNS:
        return
    plot = training.NOTES_RUNS[preset].plot
    st.markdown("**" + _("The notes' plot of this run") + "**")
    layout.chart(notes_plots.notes_figure(job.history, plot, height=300), key="tr.notes_live")
    st.caption(notes_caption(plot))
