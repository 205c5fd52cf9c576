"""Command-line behaviour: user errors are one clear line and exit status 2; libraries are no commands."""

import os
import subprocess
import sys

import pytest

from plumbing import PROJECT_DIR


def run(*args, **environment):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **environment}
    env = {key: value for key, value in env.items() if value is not None}
    return subprocess.run([sys.executable, *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, env=env, timeout=120)


def assert_one_line_error(result, *phrases):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


def test_prepare_data_user_errors_are_one_line_and_exit_2(tmp_path):
    assert_one_line_error(
        run("prepare_data.py", "digits", "--source", str(tmp_path / "nowhere"), "--out",
            str(tmp_path / "out"), FSDD_DIR=None),
        "prepare_data.py digits: error: FSDD folder not found", "nowhere")
    assert_one_line_error(run("prepare_data.py", "fsdd", FSDD_DIR=str(tmp_path / "missing")),
                          "missing", "came from the environment variable FSDD_DIR")
    (tmp_path / "src").mkdir()
    assert_one_line_error(
        run("prepare_data.py", "librispeech", "--source", str(tmp_path / "src"), "--out",
            str(tmp_path / "out")),
        "none of dev-clean, test-clean found")


@pytest.mark.parametrize("module", ["utils", "train_utils", "decoding", "digit_experiments",
                                    "fsdd", "plumbing"])
def test_library_modules_refuse_to_run_as_commands(module, tmp_path):
    result = run("-m", module, str(tmp_path / "x.wav"))
    assert result.returncode == 2
    assert f"{module} is a library module, not a command" in result.stderr
