"""The Django admin cannot change a client's text or any workflow field, cannot add or
delete questions or their workflow records, and whatever it can still change writes an
audit event like every other action."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from psyconsole.questions import roles
from psyconsole.questions.models import AuditEvent
from psyconsole.questions.services import review
from tests.factories import make_drafted_question, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for_role() -> Client:
    user = make_user("ada", roles.ADMIN)
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_cannot_rewrite_a_question(admin_client_for_role, counsellor):
    question = review.do_claim(make_drafted_question("My own words."), counsellor)
    url = f"/admin/questions/question/{question.pk}/change/"
    page = admin_client_for_role.get(url)
    assert page.status_code == 200
    assert "My own words." in page.content.decode()  # shown, read-only
    assert question.tracking_code not in page.content.decode()  # the client's secret
    response = admin_client_for_role.post(url, {
        "text": "Rewritten by an admin", "contact": "admin@example.org", "status": "approved",
        "risk_level": "none", "claimed_by": "", "priority": "0", "_save": "Save"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.text, question.contact, question.status, question.claimed_by) == (
        "My own words.", "", "in_review", counsellor)
    event = AuditEvent.objects.filter(action="admin_change").get()
    assert (event.question, event.actor_label) == (question, "ada")
    assert event.data["model"] == "questions.question"


def test_the_admin_cannot_add_or_delete_questions(admin_client_for_role, drafted_question):
    assert admin_client_for_role.get("/admin/questions/question/add/").status_code == 403
    assert admin_client_for_role.get(
        f"/admin/questions/question/{drafted_question.pk}/delete/").status_code == 403


def test_the_admin_cannot_rewrite_a_working_reply(admin_client_for_role, counsellor):
    question = review.do_claim(make_drafted_question(), counsellor)
    edit = review.do_save_edit(question, counsellor, "The counsellor's reply.")
    response = admin_client_for_role.post(
        f"/admin/questions/replyedit/{edit.pk}/change/",
        {"question": question.pk, "author": counsellor.pk, "text": "Swapped", "_save": "Save"})
    assert response.status_code == 403
    edit.refresh_from_db()
    assert edit.text == "The counsellor's reply."
    assert admin_client_for_role.get(
        f"/admin/questions/replyedit/{edit.pk}/delete/").status_code == 403


def test_what_the_admin_can_change_is_audited(admin_client_for_role):
    response = admin_client_for_role.post("/admin/auth/group/add/",
                                          {"name": "night-shift", "_save": "Save"})
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action="admin_add").get()
    assert (event.actor_label, event.data["model"]) == ("ada", "auth.group")


def test_bulk_deletion_which_would_escape_the_audit_is_off():
    assert "delete_selected" not in dict(admin.site.actions)

