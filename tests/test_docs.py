"""The docs stay true: reference current, every code block executable, links resolve.

The code blocks themselves are executed by Sybil (see the root conftest.py),
as tests named ``README.md::line:N`` and ``docs/...md::line:N``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNABLE = {"python", "bash"}
FENCE = re.compile(r"^(```+)([^\n`]*)\n", re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def _build_api():
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fenced_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(line, language, skipped) of every fenced block; skipped = preceded by a Sybil skip directive."""
    out, pos = [], 0
    while (m := FENCE.search(text, pos)) is not None:
        fence, lang = m.group(1), m.group(2).strip()
        end = text.find("\n" + fence, m.end() - 1)
        before = text[: m.start()].rstrip().splitlines()[-1:] or [""]
        out.append((text.count("\n", 0, m.start()) + 1, lang, "skip: next" in before[0]))
        pos = len(text) if end < 0 else end + len(fence) + 1
    return out


def test_api_reference_is_current():
    stale = _build_api().stale()
    assert not stale, f"stale API reference pages {stale}; regenerate with `python docs/build_api.py`"


def test_fence_parser_sees_blocks_and_skips():
    text = "a\n```python\nx = 1\n```\n<!-- skip: next -->\n```text\nno\n```\n"
    assert fenced_blocks(text) == [(2, "python", False), (6, "text", True)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_block_is_executed(page):
    """Sybil runs python and bash blocks; anything else must be explicitly skipped (and is rare)."""
    blocks = fenced_blocks(page.read_text())
    bad = [(line, lang) for line, lang, skipped in blocks if lang not in RUNNABLE and not skipped]
    assert not bad, f"{page.name}: blocks not run by the tests (language, line): {bad}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    missing = []
    for target, _ in LINK.findall(page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (page.parent / target).exists():
            missing.append(target)
    assert not missing, f"{page.name}: broken links {missing}"


def test_docs_and_readme_are_collected_by_the_suite():
    tomllib = pytest.importorskip("tomllib")
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    assert {"docs", "README.md"} <= set(testpaths)
    assert "Sybil" in (ROOT / "conftest.py").read_text()
