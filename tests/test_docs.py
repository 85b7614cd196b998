"""The documentation stays navigable and true to the code it describes.

Links between README.md and docs/*.md must resolve (files and #anchors), the command-line
reference in docs/running.md must name every subcommand and option the parser defines, and the
example suites shown to users must validate, so a newcomer copying them gets a working suite.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from rlsens.cli import build_parser
from rlsens.plan import build_plan
from rlsens.suite import load_suite

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "results" / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def prose(path: Path) -> str:
    """A page without its fenced code blocks (links and headings there are not Markdown)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(prose(path)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def relative_links(path: Path) -> list[str]:
    return [t for t in LINK.findall(prose(path)) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_slug_follows_github() -> None:
    assert slug("What a run does") == "what-a-run-does"
    assert slug("`make` targets") == "make-targets"
    assert slug("Aggregates and confidence intervals") == "aggregates-and-confidence-intervals"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


def test_every_page_is_linked_from_the_index() -> None:
    index = ROOT / "docs" / "README.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in relative_links(index)}
    pages = {p.resolve() for p in (ROOT / "docs").glob("*.md")} - {index.resolve()}
    assert pages <= linked, f"not in docs/README.md: {sorted(p.name for p in pages - linked)}"


def test_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make bench SUITE=" in text
    assert "make test" in text


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return dict(actions[0].choices)


def test_every_cli_subcommand_and_option_is_documented() -> None:
    running = (ROOT / "docs" / "running.md").read_text(encoding="utf-8")
    commands = subcommands()
    assert {"run", "report"} <= set(commands)
    missing = []
    for name, sub in commands.items():
        if f"`rlsens {name}" not in running:
            missing.append(f"rlsens {name}")
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and option not in running:
                    missing.append(f"rlsens {name} {option}")
    assert not missing, "docs/running.md does not document: " + ", ".join(missing)


def yaml_examples(page: Path) -> list[str]:
    return YAML_BLOCK.findall(page.read_text(encoding="utf-8"))


def test_readme_first_suite_validates_with_the_runs_it_promises(tmp_path: Path) -> None:
    (example,) = yaml_examples(ROOT / "README.md")
    path = tmp_path / "first.yaml"
    path.write_text(example, encoding="utf-8")
    plan = build_plan(load_suite(path))
    assert len(plan.runs) == 10  # the README says 5 configurations x 2 seeds = 10 runs


def test_suite_reference_example_validates_at_every_scale(tmp_path: Path) -> None:
    (example,) = yaml_examples(ROOT / "docs" / "suites.md")
    path = tmp_path / "demo.yaml"
    path.write_text(example, encoding="utf-8")
    suite = load_suite(path)
    assert suite.scale == "quick"  # its default_scale
    for scale in suite.scales:
        assert build_plan(load_suite(path, scale=scale)).runs
