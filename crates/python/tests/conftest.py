"""The Python API is checked against the command line: the same run through the
`gradsheet` binary built from this workspace, read from its --json output
(docs/trace-format.md). GRADSHEET_BIN names the binary; otherwise the workspace's
target/debug or target/release one (whichever is newer) is used."""

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _binary():
    given = os.environ.get("GRADSHEET_BIN")
    if given:
        return given
    found = [p for p in (ROOT / "target/debug/gradsheet", ROOT / "target/release/gradsheet") if p.exists()]
    if not found:
        pytest.fail("no gradsheet binary: build it (cargo build) or set GRADSHEET_BIN")
    return str(max(found, key=lambda p: p.stat().st_mtime))


def number(v):
    """A number of the trace's JSON: NaN and infinities are written as strings."""
    if isinstance(v, str):
        return {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}.get(v, v)
    return v


class Cli:
    def __init__(self, path, tmp):
        self.path = path
        self.tmp = tmp

    def run(self, *args, check=True):
        p = subprocess.run([self.path, *args], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"gradsheet {' '.join(args)} failed:\n{p.stderr}")
        return p

    def json(self, *args, flag="--json"):
        """Runs a command that writes JSON: to a file for `train` (--json FILE), or to
        stdout for the commands whose --json is a switch."""
        if flag == "--json FILE":
            out = self.tmp / "out.json"
            self.run(*args, "--json", str(out))
            return json.loads(out.read_text())
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def cli(tmp_path):
    return Cli(_binary(), tmp_path)
