"""The console's roles, as groups with permissions (least privilege).

- counsellor: sees the queue, claims, edits, approves, rejects, escalates, annotates.
- supervisor: all of that, plus audits approved replies, reads audit trails, picks up
  escalations, sees clients' contact details and erases a question on a client's
  request.
- admin: all of that, plus the admin site (users and groups), model versions and
  exports of annotated pairs for retraining (`exports.export_annotations`).
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

COUNSELLOR = "counsellor"
SUPERVISOR = "supervisor"
ADMIN = "admin"

_COUNSELLOR_PERMS = [
    "questions.view_question", "questions.claim_question", "questions.approve_reply",
    "questions.view_draft", "questions.view_review", "questions.add_annotation",
    "questions.view_annotation", "retrieval.view_article", "retrieval.view_chunk",
]
_SUPERVISOR_PERMS = [*_COUNSELLOR_PERMS, "questions.audit_reply", "questions.view_contact",
                     "questions.view_auditevent", "inference.view_modelversion",
                     "questions.erase_question"]
_ADMIN_APPS = ("questions", "retrieval", "inference", "exports", "auth")

ROLE_PERMISSIONS = {COUNSELLOR: _COUNSELLOR_PERMS, SUPERVISOR: _SUPERVISOR_PERMS}


def _perms(codes: list[str]) -> list[Permission]:
    found = []
    for code in codes:
        app_label, codename = code.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label,
                                            codename=codename))
    return found


def ensure_roles(**_: object) -> None:
    """Creates or refreshes the role groups; safe to run after every migrate."""
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for name, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_perms(codes))
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=_ADMIN_APPS))
