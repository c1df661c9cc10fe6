"""The `cnnviz` command; and the backend never imports streamlit."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cnnviz
from cnnviz.cli import main


def test_backend_does_not_import_streamlit():
    out = subprocess.run([sys.executable, "-c", "import cnnviz, cnnviz.cli, sys; print('streamlit' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_models_lists_the_notes_networks_with_their_counts(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, count in [("mnist_cnn", "405,898"), ("keras_cifar10", "582,026"), ("simple_convnet", "433,890"),
                        ("tf_mnist", "3,274,634"), ("lenet5", "61,706")]:
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert count in line
    assert "resnet50" in out and "vgg16" in out


def test_summary_of_a_zoo_model_and_of_a_checkpoint(capsys, tmp_path):
    assert main(["summary", "keras_cifar10"]) == 0
    assert "Total params: 582,026" in capsys.readouterr().out
    path = cnnviz.save_checkpoint(tmp_path / "s.pt", cnnviz.build_model("simple_convnet"), model_name="simple_convnet",
                                  input_shape=(1, 28, 28), meta={"epoch": 4})
    assert main(["summary", "--checkpoint", str(path)]) == 0
    out = capsys.readouterr().out
    assert "433,890" in out and "epoch 4" in out


def test_outsize(capsys):
    assert main(["outsize", "28", "--kernel", "5", "--padding", "2"]) == 0
    assert capsys.readouterr().out.strip().endswith("= 28")
    assert main(["outsize", "7", "-k", "3", "-s", "3"]) == 0
    out = capsys.readouterr().out
    assert "= 2" in out and "warning" in out and "6" in out.splitlines()[-1]  # cell 6 is never read


@pytest.mark.parametrize("argv, message", [
    (["outsize", "5", "--kernel", "7"], "does not fit"),
    (["outsize", "5", "--kernel", "3", "--stride", "0"], "stride must be at least 1"),
    (["summary", "nope"], "unknown model"),
    (["summary", "--checkpoint", "/nonexistent.pt"], "no checkpoint file"),
])
def test_errors_are_clear_and_exit_non_zero(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_data_lists_availability(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert next(l for l in out.splitlines() if l.startswith("fashion_mnist")).split()[1] == "yes"
    assert "cifar10" in out and "folder" in out


def test_installed_console_script():
    out = subprocess.run([sys.executable, "-m", "cnnviz.cli", "outsize", "32", "-k", "3", "-p", "1"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("= 32")


@pytest.mark.parametrize("argv", [
    ["--lang", "ko", "predict", "CAT", "--top", "5"],
    ["predict", "CAT", "--top", "5", "--lang", "ko"],
])
def test_lang_goes_anywhere_on_the_command_line(capsys, argv):
    from cnnviz.i18n import has_hangul

    cat = str(cnnviz.sample_images()["cat"])
    assert main([cat if a == "CAT" else a for a in argv]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all(has_hangul(line) for line in lines), lines


def test_every_subcommand_takes_lang(capsys):
    assert main(["outsize", "7", "--lang=ko", "-k", "3", "-s", "3"]) == 0
    assert "경고" in capsys.readouterr().out
    assert main(["summary", "nope", "--lang", "ko"]) == 2
    assert "알 수 없는 모델" in capsys.readouterr().err
    assert main(["data", "--lang", "en"]) == 0
    with pytest.raises(SystemExit):
        main(["train", "--lang", "ko", "--help"])
    out = capsys.readouterr().out
    assert "--lang" in out and "사용법" in out
