from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from psyconsole.questions import roles
from psyconsole.questions.models import Question
from psyconsole.questions.services import intake

DEMO_USERS = [
    ("counsellor", "Casey", "Counsellor", roles.COUNSELLOR),
    ("supervisor", "Sam", "Supervisor", roles.SUPERVISOR),
    ("admin", "Ada", "Admin", roles.ADMIN),
]


class Command(BaseCommand):
    help = ("Creates demo users of each role (printing their passwords once), fills the "
            "corpus and index (by crawling --corpus-url, or straight from fixtures/articles), "
            "seeds reviewed and annotated replies (fixtures/demo_reviews.jsonl) and submits "
            "the sample questions. Safe to run again.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--questions", type=Path,
                            default=settings.BASE_DIR / "fixtures" / "demo_questions.json")
        parser.add_argument("--reviews", type=Path,
                            default=settings.BASE_DIR / "fixtures" / "demo_reviews.jsonl",
                            help="reviewed replies to seed (an empty file seeds none)")
        parser.add_argument("--no-index", action="store_true")
        parser.add_argument("--corpus-url", default="",
                            help="Crawl the corpus site at this URL instead of loading files.")

    def handle(self, *args: Any, **options: Any) -> None:
        from psyconsole.screening import classifier

        roles.ensure_roles()
        if classifier.get_model() is None:  # the shipped screener was configured away
            self.stdout.write("Screening uses the rules alone: no screener is configured "
                              "(see PSY_SCREENER_SHIPPED_PATH and train_screener).")
        if options["corpus_url"]:
            call_command("crawl", seed=[options["corpus_url"]], delay=0.02, no_progress=True,
                         stdout=self.stdout)
        elif not options["no_index"]:
            call_command("load_corpus", stdout=self.stdout)
            call_command("build_index", no_progress=True, stdout=self.stdout)
        User = get_user_model()
        self.stdout.write("Demo logins (shown once; rerun seed_demo to reset them):")
        for username, first, last, role in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            password = secrets.token_urlsafe(12)
            user.first_name, user.last_name = first, last
            user.is_staff = role == roles.ADMIN
            user.is_superuser = False
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            self.stdout.write(f"  {role:<11} username: {username:<11} password: {password}")

        if Question.objects.exists():
            self.stdout.write("Sample questions already present; not adding more.")
            return
        if not options["no_index"]:
            # Approved, annotated replies first, so an export can be tried at once.
            from psyconsole.exports.demo import seed_reviewed_replies

            seeded = seed_reviewed_replies(User.objects.get(username="counsellor"),
                                           User.objects.get(username="supervisor"),
                                           options["reviews"])
            self.stdout.write(f"Seeded {seeded} reviewed and annotated replies (try "
                              "Exports, signed in as admin).")
        samples = json.loads(options["questions"].read_text(encoding="utf-8"))
        for sample in samples:
            intake.do_submit_question(sample["text"], sample.get("contact"), background=True)
        self.stdout.write(f"Submitted {len(samples)} sample questions.")
