"""Caches of the transfer-learning pages: parameter tables, the notes' Keras tables, uploaded zips and saved
comparisons, and the session key of a running comparison."""

from __future__ import annotations

import streamlit as st

from cnnviz.i18n import N_
from dashboard.layout import spinner
from dashboard.session import client_address, training_runs_folder, training_session_id
from dashboard.training import keep_session_job, session_job, work_queue

TRANSFER_JOB_KEY = "cnnviz.transfer.job"  # the session's cnnviz.transfer.ComparisonJob (running or last one)


def transfer_job():
    """This browser's latest cnnviz.transfer.ComparisonJob (a reload or another tab finds a running one), or None."""
    return session_job(TRANSFER_JOB_KEY)


def start_transfer_job(config, *, user_data=None, download: bool = False):
    """Start a comparison for this browser (it waits for its turn in the server's one queue), in a folder of its own
    under the session's runs folder; raises QueueFull / QuotaFull / ValueError."""
    from cnnviz import transfer

    from cnnviz import runs

    runs.check_quota(training_runs_folder(), quota=runs.runs_quota())  # its results are saved there
    job = transfer.ComparisonJob(config, user_data=user_data, root=training_runs_folder(), download=download)
    job.enqueue(work_queue(), training_session_id(), client_address()).start()
    keep_session_job(TRANSFER_JOB_KEY, job)
    return job


def session_comparisons(folder) -> list:
    """(path, ComparisonResult) of every comparison in a runs folder, newest first; unreadable ones are skipped."""
    from cnnviz import transfer

    out = []
    for path in transfer.list_comparisons(root=folder):
        try:
            out.append((path, transfer_comparison(str(path), path.stat().st_mtime)))
        except (ValueError, OSError):
            continue
    return out


@spinner(N_("Building the model to count its parameters …"))
@st.cache_data(max_entries=16, show_spinner=False)
def transfer_strategy_table(arch: str, num_classes: int, input_shape: tuple[int, int, int], head: tuple[int, ...]):
    """{strategy: TransferSummary} of ``arch`` + a new head; raises ValueError for a shape the base cannot take."""
    from cnnviz import transfer

    return transfer.strategy_table(arch, num_classes=num_classes, input_shape=input_shape, head=head)


@st.cache_resource(max_entries=2, show_spinner=False)
def transfer_notes_keras_table(name: str):
    """``cnnviz.models.notes_keras_table`` (built on the meta device: no weights allocated); shared, read-only."""
    from cnnviz import models

    return models.notes_keras_table(name)


@spinner(N_("Reading your images …"))
@st.cache_data(max_entries=4, show_spinner=False)
def transfer_zip(data: bytes, size: tuple[int, int], channels: int):
    """A labelled ImageData from an uploaded zip (one folder per class); raises ValueError with a plain reason."""
    from cnnviz import transfer

    return transfer.load_image_zip(data, size=size, channels=channels)


@st.cache_data(max_entries=32, show_spinner=False)
def transfer_comparison(path: str, mtime: float):
    """A saved comparison (reloaded when the file changes); raises ValueError."""
    from cnnviz import transfer

    return transfer.load_comparison(path)
