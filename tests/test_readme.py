"""Every ```python block of README.md runs, as written, in a fresh temporary directory.

Blocks run in order per ``##`` section, in one directory and one namespace per section, so a block may use
files and names made by the earlier blocks of its section. A block may be preceded by a marker comment:

* ``<!-- readme-test: needs PACKAGE -->``: skipped (with that reason) when PACKAGE cannot be imported;
* ``<!-- readme-test: skip REASON -->``: never run (only for what is truly unavailable; the reason is
  shown in the test report).

Every ```toml block must be a valid job file for ``tmvacompat train``.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme-test:\s*(needs|skip)\s+(.+?)\s*-->\s*$")


@dataclass
class Block:
    section: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: tuple[str, str] | None


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, with their section and marker."""
    out: list[Block] = []
    section = "(top)"
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        m = _FENCE.match(line)
        if m is None:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mk = _MARKER.match(prev)
        out.append(Block(section, start + 1, m.group(1), "\n".join(body) + "\n", mk.groups() if mk else None))
        i += 1
    return out


def test_the_extractor_finds_sections_markers_and_languages():
    text = (
        "## A\n```python\nx = 1\n```\n<!-- readme-test: needs nosuchpkg -->\n\n```python\ny = x\n```\n"
        "## B\n```sh\nls\n```\n```\nplain\n```\n"
    )
    got = [(b.section, b.line, b.lang, b.code, b.marker) for b in blocks(text)]
    assert got == [
        ("A", 2, "python", "x = 1\n", None),
        ("A", 7, "python", "y = x\n", ("needs", "nosuchpkg")),
        ("B", 11, "sh", "ls\n", None),
        ("B", 14, "", "plain\n", None),
    ]


ALL = blocks(README.read_text(encoding="utf-8"))
SECTIONS = list(dict.fromkeys(b.section for b in ALL if b.lang == "python"))


def test_the_readme_has_python_blocks():
    assert "Using it" in SECTIONS


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_python_blocks_run(section, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__readme__"}
    for block in (b for b in ALL if b.section == section and b.lang == "python"):
        if block.marker is not None:
            kind, what = block.marker
            if kind == "skip":
                pytest.skip(f"README.md:{block.line} marked: {what}")
            if importlib.util.find_spec(what) is None:
                pytest.skip(f"README.md:{block.line} needs {what}, which is not installed")
        code = compile(block.code, f"README.md:{block.line}", "exec")
        exec(code, namespace)  # noqa: S102 - running the documentation is the point


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "toml"], ids=lambda b: f"line{b.line}")
def test_readme_job_files_are_valid(block):
    from tmvacompat.jobfile import parse_job

    job = parse_job(block.code, where=f"README.md:{block.line}")
    assert job["method"] and job["tree"] and job["variable"]
