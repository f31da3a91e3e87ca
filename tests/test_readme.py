"""The README's main command works as printed (the part after installation)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main_command() -> list[str]:
    """The README's first set-up command, from the program after the install steps."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Install and run the main job.*?```sh\n(.+?)\n```", readme, re.S)
    assert block, "README.md has no 'Install and run the main job' command"
    steps = [step.strip() for step in block.group(1).split("&&")]
    assert "pip install" in steps[1], steps
    words = shlex.split(steps[-1])
    assert words[0].endswith("/cwbulk"), words
    return [sys.executable, "-m", "cwbulk", *words[1:]]


def test_readme_main_command_imports_the_sample_and_a_rerun_changes_nothing(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    command = main_command()

    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "Outcomes: 328 created" in first.stderr  # the human summary is on stderr
    assert "Sent 328 rows in" in first.stderr
    results = list((tmp_path / "samples").glob("legacy-timesheet.results.*"))
    assert results, first.stderr

    second = subprocess.run(
        [*command[:3], "--json", *command[3:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["counts"]["create"] == 0
    assert report["counts"]["update"] == 0
    assert report["counts"]["unchanged"] == 328
    assert report["outcomes"]["created"] == 0
