"""Class | Class | :material/groups:

The teacher's view: every student's training runs on this server, a leaderboard, chosen runs on one chart, and
stop/delete for any run. Open only with the teacher's password.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from cnnviz import classroom
from cnnviz.i18n import _, pgettext
from cnnviz.plots import classroom as plots
from cnnviz.signin import PASS_HOURS
from cnnviz.training import status_label
from dashboard import layout
from dashboard.classroom import (
    class_queue,
    class_runs,
    delete_class_run,
    keep_teacher_pass,
    sign_in_teacher,
    sign_out_teacher,
    stop_class_run,
    teacher_password,
    teacher_signed_in,
)
from dashboard.training import work_queue

st.title(pgettext("classroom", "Class"))
try:
    password = teacher_password()
except ValueError as err:
    st.error(str(err))
    st.stop()
if password is None:
    st.info(_("This page is for the teacher, and it is closed. To open it, start the server with a password, e.g. "
              "`CNNVIZ_TEACHER_PASSWORD=… streamlit run dashboard/app.py`, or put `teacher_password = \"…\"` into "
              "`.streamlit/secrets.toml`."))
    st.stop()
keep_teacher_pass()
if not teacher_signed_in(password):
    with st.form("class_login"):
        given = st.text_input(_("Teacher's password"), type="password")
        if st.form_submit_button(_("Open the class view")):
            ok, refusal = sign_in_teacher(given, password)
            if ok:
                st.rerun()
            st.error(refusal)
    st.caption(_("This browser stays signed in for {hours} hours (a reload, a new tab, presenter mode), until you "
                 "sign out.").format(hours=PASS_HOURS))
    st.stop()
if st.button(_("Sign out"), icon=":material/logout:", key="class_sign_out"):
    sign_out_teacher()
    st.rerun()

runs = class_runs()
statuses = [r.status for r in runs]
c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Students with runs"), len({r.session for r in runs}))
c2.metric(_("Runs"), len(runs))
c3.metric(_("Running now"), statuses.count("running"))
c4.metric(_("Finished"), statuses.count("finished"))
if not runs:
    st.info(_("No training runs yet. Students start runs in the Training studio; they appear here."))
    st.stop()


queue = class_queue()
with st.expander(_("Training queue: {running} training, {waiting} waiting (at most {slots} at once)").format(
        running=sum(1 for q in queue if q.where == "running"), waiting=sum(1 for q in queue if q.where == "waiting"),
        slots=work_queue().max_jobs), expanded=any(q.where == "waiting" for q in queue)):
    if queue:
        layout.table(pd.DataFrame([{pgettext("in the queue", "Place"): _("training") if q.where == "running" else q.place,
                                    _("Student"): f"#{q.student}", pgettext("a training run", "Run"): q.title}
                                   for q in queue]))
    st.caption(_("Set the number of runs that train at once with CNNVIZ_MAX_JOBS (default: the number of cores), the "
                 "runs per student with CNNVIZ_JOBS_PER_STUDENT (default 1), per computer with "
                 "CNNVIZ_JOBS_PER_ADDRESS (default 2) and the runs waiting in all with CNNVIZ_MAX_QUEUE (default "
                 "30)."))


def row(run: classroom.ClassRun) -> dict:
    # a damaged run may have lost the name its student gave it: its folder's name tells the teacher which it is
    return {
        _("Student"): f"#{run.student}", _("Run name"): run.label or (run.info.name if run.problem else ""),
        _("Model"): run.model,
        _("Settings"): run.settings or run.problem, _("Status"): status_label(run.status),
        _("Epochs"): run.epochs_done, _("Best test accuracy"): run.best_accuracy,
        _("Updated"): dt.datetime.fromtimestamp(run.updated).strftime("%H:%M:%S"),
    }


st.subheader(_("Leaderboard"))
best = classroom.leaderboard(runs)
if best:
    board = pd.DataFrame([{_("Rank"): i, **row(r)} for i, r in enumerate(best, start=1)])
    layout.table(board, percents=[_("Best test accuracy")])
else:
    st.caption(_("No run has finished an epoch yet."))

st.subheader(_("Runs on one chart"))
labels = {r.key: r for r in runs}  # a run's identity in the class: two students' runs never share one


def run_label(key: str) -> str:
    """A run as the pickers name it: the student's tag first (a name can be anything), the name, the folder."""
    r = labels[key]
    return " · ".join(t for t in (f"#{r.student}", r.label, r.info.name) if t)


drawable = [k for k in labels if labels[k].info.history is not None]
chosen = st.multiselect(_("Runs"), drawable, default=[k for k in drawable if labels[k] in best[:5]],
                        format_func=run_label, key="class_runs")
metric = st.segmented_control(_("Show"), list(plots.CLASS_METRICS), default="test_acc",
                              format_func=lambda m: _(plots.CLASS_METRICS[m]), key="class_metric") or "test_acc"
if chosen:
    layout.chart(plots.class_overlay_figure([labels[k] for k in chosen], metric), key="class_chart",
                 where=layout.main_figure())

st.subheader(_("Every run"))
table = pd.DataFrame([row(r) for r in runs])
layout.table(table, percents=[_("Best test accuracy")])

st.subheader(_("Stop or delete a run"))
target = labels[st.selectbox(pgettext("a training run", "Run"), list(labels), format_func=run_label,
                             key="class_target")]
if target.problem:
    st.warning(_("This run's folder is damaged ({reason}); it can only be deleted.").format(reason=target.problem))
b1, b2 = st.columns(2)
if b1.button(_("Stop it"), disabled=target.status not in ("running", "queued"), icon=":material/stop:"):
    st.toast(_("Asked the run to stop.") if stop_class_run(target) else _("That run is not running here."))
if b2.button(_("Delete it"), icon=":material/delete:", disabled=target.status in ("running", "queued"),
             help=_("Deletes the run's folder with its checkpoints. Stop a running run first.")):
    try:
        delete_class_run(target)
    except ValueError as err:
        st.error(str(err))
    else:
        st.rerun()
