"""No traceback ever reaches a user of the `cnnviz` command: every command with hostile arguments answers in one line
and exits with status 2."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cnnviz.cli import main

ROOT = Path(__file__).resolve().parents[1]
CAT = str(ROOT / "assets" / "samples" / "cat.png")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from test_server_files import many_tensors_file, stack_checkpoint

    folder = tmp_path_factory.mktemp("hostile-cli")
    (folder / "notes.png").write_text("not a picture\n" * 20)
    (folder / "empty.pt").write_bytes(b"")
    (folder / "garbage.pt").write_bytes(b"PK\x03\x04" + b"\xff" * 300)
    (folder / "a_folder.pt").mkdir()
    (folder / "ds" / "only").mkdir(parents=True)
    return {"dir": folder, "stack": stack_checkpoint(folder / "stack.pt", 100_000),
            "many": many_tensors_file(folder / "many.pt", 70_000),  # past 65,535: the zip64 count
            "webp": webp_12500(folder / "big.webp")}


def webp_12500(path: Path) -> Path:
    """A valid 12500×12500 lossless WebP (6 kB: one colour)."""
    from PIL import Image

    Image.new("L", (12500, 12500), 0).save(path, format="WEBP", lossless=True)
    return path


HOSTILE = [
    (["train", "mnist_cnn", "--epochs", "1e9"], "the number of epochs must be a whole number from 1 to 1,000, got 1e9"),
    (["train", "mnist_cnn", "--epochs", "0"], "from 1 to 1,000"),
    (["train", "mnist_cnn", "--epochs", "nan"], "from 1 to 1,000"),
    (["train", "mnist_cnn", "--epochs", "1", "--out", "/proc/self"], "cannot write checkpoints into /proc/self"),
    (["train", "mnist_cnn", "--epochs", "1", "--out", "{dir}/notes.png"], "cannot write checkpoints into"),
    (["train", "nope"], "unknown model 'nope'"),
    (["train", "mnist_cnn", "--epochs", "1", "--out", "{dir}/o1", "--dataset", "/nonexistent"], "unknown dataset"),
    (["train", "mnist_cnn", "--epochs", "1", "--out", "{dir}/o2", "--dataset", "{dir}/ds"], "at least two classes"),
    (["train", "mnist_cnn", "--epochs", "1", "--out", "{dir}/o3", "--train-size", "64", "--test-size", "32",
      "--batch-size", "0"], "batch size must be at least 1"),
    (["train", "mnist_cnn", "--epochs", "1", "--out", "{dir}/o4", "--train-size", "64", "--test-size", "32",
      "--lr", "nan"], "learning rate must be a positive number"),
    (["predict", CAT, "--top", "100000000"], "--top must be from 1 to 1,000, got 100,000,000"),
    (["predict", CAT, "--top", "0"], "--top must be from 1 to 1,000"),
    (["predict", "cat.jpg"], "there is no file cat.jpg"),
    (["predict", "{dir}"], "there is no file"),
    (["predict", "{dir}/notes.png"], "not an image that can be read"),
    (["predict", "{webp}"], "12500×12500 = 156 megapixels: too large"),
    (["predict", CAT, "--model", "nope"], "unknown model 'nope'"),
    (["predict", CAT, "--model", "mnist_cnn"], "has no trained weights of its own"),
    (["predict", CAT, "--checkpoint", "{many}"], "or more parts (tensors)"),
    (["predict", CAT, "--checkpoint", "{dir}/garbage.pt"], "not a readable PyTorch checkpoint"),
    (["summary", "--checkpoint", "{stack}"], "100,003 layers, more than the 100"),
    (["summary", "--checkpoint", "{many}"], "or more parts (tensors)"),
    (["summary", "--checkpoint", "{dir}/empty.pt"], "is empty (0 bytes)"),
    (["summary", "--checkpoint", "{dir}/a_folder.pt"], "no checkpoint file"),
    (["summary", "mnist_cnn", "--input", "1", "100000", "100000"], "cannot take a 1×100000×100000 input"),
    (["summary", "mnist_cnn", "--input", "0", "-5", "28"], "error"),
    (["summary"], "name a model"),
    (["outsize", "5", "--kernel", "7"], "does not fit"),
    (["outsize", str(10**30), "--kernel", "3", "--stride", "0"], "stride must be at least 1"),
    (["outsize", "-5", "--kernel", "3"], "error"),
    (["data", "--download", "imagenet"], "invalid choice"),
    (["nope"], "invalid choice"),
    (["--lang", "xx", "models"], "invalid choice"),
]


@pytest.mark.parametrize("argv, words", HOSTILE, ids=[" ".join(a)[:60] for a, _w in HOSTILE])
def test_every_command_answers_hostile_arguments_in_one_line(files, capsys, argv, words):
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]
    start = time.process_time()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert code == 2, (code, out.err, out.out[-300:])
    assert len(lines) == 1 and words in lines[0], out.err
    assert "Traceback" not in out.err + out.out and "Error:" not in out.err
    assert time.process_time() - start < 10  # refused before any long work (the data or a model)


def test_a_bug_is_still_one_line_unless_debugging(capsys, monkeypatch):
    from cnnviz import cli

    def broken(args):
        raise KeyError("somewhere deep")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["models"].set_defaults(func=broken)
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("cnnviz models: error: unexpected KeyError: 'somewhere deep' (set CNNVIZ_DEBUG=1 to see "
                           "where)")
    monkeypatch.setenv("CNNVIZ_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["models"])
