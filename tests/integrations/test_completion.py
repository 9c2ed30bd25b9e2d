"""Shell completion for the installed `cxe-gate` command (click's): the scripts docs/editor.md tells
people to eval, and real bash completing from them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # where the installed console script is
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def _script(shell: str) -> str:
    done = subprocess.run(
        ["cxe-gate"],
        env={**ENV, "_CXE_GATE_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stderr == ""
    return done.stdout


def test_the_bash_script_defines_a_completion_function_for_cxe_gate():
    script = _script("bash")
    assert "_cxe_gate_completion() {" in script
    assert "complete -o nosort -F _cxe_gate_completion cxe-gate" in script


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        # The commands cxe_gate/cli/__init__.py adds, starting with "sch".
        (["sch"], ["schema"]),
        # schema's own options, then click's --help.
        (["schema", "--"], ["--output", "--id", "--help"]),
        # --fail-on is a choice of fail and warn.
        (["evaluate", "--fail-on", ""], ["fail", "warn"]),
    ],
)
def test_bash_completes_commands_options_and_choices(words, expected):
    # What `eval "$(_CXE_GATE_COMPLETE=bash_source cxe-gate)"` in ~/.bashrc sets up, then one
    # press of Tab: bash calls the function with the words typed so far.
    program = (
        'eval "$(_CXE_GATE_COMPLETE=bash_source cxe-gate)"\n'
        'COMP_WORDS=(cxe-gate "$@"); COMP_CWORD=$#\n'
        "_cxe_gate_completion cxe-gate\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", program, "bash", *words],
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split() == expected, done.stderr


def test_zsh_and_fish_scripts_are_generated():
    assert _script("zsh").startswith("#compdef cxe-gate")
    fish = _script("fish")
    assert "complete --no-files --command cxe-gate" in fish
    assert "_CXE_GATE_COMPLETE=fish_complete" in fish
