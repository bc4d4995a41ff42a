"""The zoo CLI as a user runs it: help, composed config, and one-line errors with exit code 2."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml  # PyYAML comes with omegaconf


def zoo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=timeout)


def zoo_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """``zoo.cli.main`` in this process (a fresh interpreter costs seconds of imports per call; the
    subprocess tests below keep the real process's exit code and stderr covered)."""
    from zoo.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as done:  # argparse's --help
        code = int(done.code or 0)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["zoo", *args], code, out.out, out.err)


def test_help_lists_every_subcommand(capsys):
    out = zoo("--help")
    assert out.returncode == 0
    for sub in ("fit", "bench", "search", "report", "config", "list"):
        assert sub in out.stdout
    for sub in ("fit", "bench", "config"):
        here = zoo_here(capsys, sub, "--help")
        assert here.returncode == 0 and "usage: " in here.stdout and sub in here.stdout


def test_config_prints_the_composed_config():
    out = zoo("config", "strategy=2", "model.attention=infini")
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    assert cfg["strategy"] == "compressive_rl" and cfg["model"]["attention"]["name"] == "infini"
    assert cfg["model"]["attention"]["segment_len"] > 0 and "ppo" in cfg


@pytest.mark.parametrize(
    "args,needle",
    [
        (["fit", "strategy=3"], "unknown strategy '3'"),
        (["fit", "strategy=1", "model.atention=x"], "unknown config key 'model.atention'"),
        (["config", "env.suite=nope"], "unknown value for 'env.suite' 'nope'"),
        (["config", "env.tasks=[click-buton]"], "did you mean 'click-button'"),
        (["bench", "warp"], "unknown bench target 'warp'"),
        (["list", "atention"], "unknown family 'atention' (did you mean 'attention'?)"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needle, capsys):
    out = zoo(*args) if args == ["fit", "strategy=3"] else zoo_here(capsys, *args)  # one real process
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_list_shows_registered_components():
    out = zoo("list", "attention")
    assert out.returncode == 0
    for name in ("dense", "sliding", "xl", "infini", "ring"):
        assert name in out.stdout


def test_list_suite_shows_each_suite_s_size_and_source():
    """`zoo list suite`: each suite with its task count and its file's description (the published sets
    name their source there), then its tasks."""
    out = zoo("list", "suite")
    assert out.returncode == 0, out.stderr
    flat = " ".join(out.stdout.split())  # (rich wraps long cells: check words that fit one line)
    assert "58 tasks. The 59 MiniWoB++" in flat and "google-deepmind/pix2act" in flat
    assert "4 tasks. The small task set" in flat
