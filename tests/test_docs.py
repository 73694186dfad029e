from pathlib import Path

from huizhili.base.kinds import FACILITY_KINDS, OSM_TAG_KINDS
from huizhili.config import Settings

DOCS = Path(__file__).parents[1] / "docs"


def test_every_setting_is_documented():
    text = (DOCS / "settings.md").read_text()
    missing = [name for name in Settings.model_fields if f"`HUIZHILI_{name.upper()}`" not in text]
    assert missing == []


def test_osm_tag_table_is_documented_row_for_row():
    text = (DOCS / "osm-kinds.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `") and "=" in line]
    assert rows == [f"| `{key}={value}` | `{kind}` |" for key, value, kind in OSM_TAG_KINDS]
    assert all(f"| `{kind}` |" in text for kind in FACILITY_KINDS)


def test_readme_gives_the_two_commands():
    readme = (DOCS.parent / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_no_text_file_holds_a_merge_conflict_left_unresolved():
    root = DOCS.parent
    texts = [p for folder in ("src", "tests", "docs", "bench") for p in (root / folder).rglob("*")
             if p.suffix in {".py", ".md", ".html", ".css", ".js", ".toml", ".cfg"} and "vendor" not in p.parts]
    texts += [root / "README.md", root / "BENCHMARKS.md", root / "Makefile"]
    markers = ("<" * 7 + " ", "=" * 7 + "\n", ">" * 7 + " ")
    conflicted = [str(p.relative_to(root)) for p in texts if p.is_file()
                  if any(line.startswith(markers) for line in p.read_text(encoding="utf-8").splitlines(keepends=True))]
    assert conflicted == []
