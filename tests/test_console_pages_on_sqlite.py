"""`make demo` runs on SQLite, the tests on PostgreSQL: a query only PostgreSQL can run
(JSONField's `contains`, say) passes every other test and fails the demo's pages. This
one opens every console page with a day's work in a SQLite database, in a child process,
because the test process's own database is PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.factories import ROOT
from tests.live import child_env


def test_every_console_page_answers_on_sqlite(tmp_path: Path) -> None:
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
                    PSY_VAR_DIR=str(tmp_path / "var"), PSY_SCREENER_SHIPPED_PATH="",
                    DJANGO_SETTINGS_MODULE="psyconsole.settings")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                   check=True, timeout=300)
    walked = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "import tests.sqlite_page_walk"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert walked.returncode == 0, walked.stderr[-3000:]
    statuses = json.loads(walked.stdout.strip().splitlines()[-1])
    failed = {page: status for page, status in statuses.items()
              if status >= 500 or status == 404}
    assert not failed, failed
    # Supervisors' pages are open to them; a counsellor is refused, not broken.
    assert statuses["sam:audit"] == statuses["sam:audit_review"] == 200
    assert statuses["sam:dashboard"] == 200
    assert statuses["casey:queue"] == statuses["casey:question"] == 200
    assert statuses["client:track"] == 200
