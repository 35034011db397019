from django.urls import path

from psyconsole.questions.consumers import ConsoleConsumer

websocket_urlpatterns = [
    path("ws/console/", ConsoleConsumer.as_asgi()),
    path("ws/console/questions/<int:question_id>/", ConsoleConsumer.as_asgi()),
]
