from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "psyconsole.screening"
    label = "screening"
    verbose_name = "Risk screening"
