"""WebSocket routes. Each domain app contributes its own list."""

websocket_urlpatterns: list = []
