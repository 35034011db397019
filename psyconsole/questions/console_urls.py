from django.urls import path

from psyconsole.questions import views

app_name = "console"

urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("queue/rows/", views.queue_rows, name="queue_rows"),
    path("take-next/", views.take_next, name="take_next"),
    path("questions/<int:question_id>/", views.question_page, name="question"),
    path("questions/<int:question_id>/<str:action>/", views.question_action, name="action"),
    path("reviews/<int:review_id>/annotate/", views.annotate, name="annotate"),
    path("audit/", views.audit_page, name="audit"),
    path("reviews/<int:review_id>/audit/", views.audit_review, name="audit_review"),
]
