from django.urls import path

from psyconsole.exports import retrain_views
from psyconsole.exports import views as export_views
from psyconsole.questions import dashboard_views, supervision_views, views

app_name = "console"

urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("queue/rows/", views.queue_rows, name="queue_rows"),
    path("take-next/", views.take_next, name="take_next"),
    path("questions/<int:question_id>/", views.question_page, name="question"),
    path("questions/<int:question_id>/<str:action>/", views.question_action, name="action"),
    path("reviews/<int:review_id>/annotate/", views.annotate, name="annotate"),
    path("annotations/assigned/", views.assignments_page, name="assignments"),
    path("agreement/", views.agreement_page, name="agreement"),
    path("agreement/sample/", views.sample_annotations, name="sample_annotations"),
    path("reviews/<int:review_id>/adjudicate/", views.adjudicate, name="adjudicate"),
    path("audit/", supervision_views.audit_list, name="audit"),
    path("reviews/<int:review_id>/audit/", supervision_views.audit_view, name="audit_review"),
    path("feedback/<int:feedback_id>/acknowledge/", supervision_views.acknowledge_feedback,
         name="acknowledge_feedback"),
    path("exports/", export_views.exports_page, name="exports"),
    path("exports/<int:export_id>/", export_views.export_page, name="export"),
    path("exports/<int:export_id>/files/<str:fmt>/<str:split>.jsonl",
         export_views.export_file, name="export_file"),
    path("retrain/", retrain_views.retrain_page, name="retrain"),
    path("retrain/<int:run_id>/", retrain_views.retrain_run_page, name="retrain_run"),
    path("dashboard/", dashboard_views.dashboard_page, name="dashboard"),
    path("dashboard/<slug:chart>.svg", dashboard_views.dashboard_chart, name="dashboard_chart"),
]
