"""The README's settings table names every variable settings.py reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_environment_variable_is_in_the_readme():
    code = (ROOT / "psyconsole" / "settings.py").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", code))
    assert len(names) > 20
    # Names built in a loop (PSY_SLA_<LEVEL>_MINUTES) are documented as a range.
    missing = sorted(n for n in names if f"`{n}`" not in readme and "{" not in n)
    assert not missing, f"settings.py reads these, the README does not name them: {missing}"
