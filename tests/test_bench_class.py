"""The class benchmark's short mode runs in CI: 5 browser sessions against a real server, 2 of them training, then
the server killed during training and started again (issue 12)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not shutil.which("chromium") and not Path("/usr/bin/chromium").exists(),
                                reason="needs Debian's Chromium")


def test_short_class_run_has_no_errors_finishes_every_run_and_survives_a_kill(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_class

    code = bench_class.main(["--short", "--timeout", "180"])
    out = capsys.readouterr().out
    assert "5 sessions at once (2 start training)" in out and ", 0 errors" in out, out
    assert "training runs: 2 on disk" in out and '"finished": 2' in out, out
    assert "0 checkpoints that do not load" in out and "0 stray .tmp files" in out, out
    assert code == 0, out
