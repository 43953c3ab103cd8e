from django.urls import path

from apps.consumers import RunEventsConsumer

websocket_urlpatterns = [
    path("ws/runs/<uuid:run_id>/events", RunEventsConsumer.as_asgi()),
]
