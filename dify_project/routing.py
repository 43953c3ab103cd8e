"""WebSocket routes. Each domain app contributes its own list."""

from apps.routing import websocket_urlpatterns as app_routes

websocket_urlpatterns: list = [*app_routes]
