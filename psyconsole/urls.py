from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from psyconsole.questions import views
from psyconsole.questions.api import api

urlpatterns = [
    path("", views.ask, name="ask"),
    path("track/<str:tracking_code>/", views.track, name="track"),
    path("track/<str:tracking_code>/withdraw/", views.withdraw, name="withdraw"),
    path("track/<str:tracking_code>/erase/", views.erase, name="erase"),
    path("corpus/<slug:slug>/", views.article, name="article"),
    path("console/", include("psyconsole.questions.console_urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", views.healthz, name="healthz"),
]
