from django.apps import AppConfig
from django.db.models.signals import post_migrate


class QuestionsConfig(AppConfig):
    name = "psyconsole.questions"
    label = "questions"
    verbose_name = "Questions and replies"

    def ready(self) -> None:
        from psyconsole.questions.roles import ensure_roles

        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="questions.ensure_roles")
