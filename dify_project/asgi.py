"""ASGI entry point: HTTP through Django, WebSocket through Channels' protocol router."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dify_project.settings")
# Django must be set up before the routing modules import models (as get_asgi_application does).
django.setup(set_prefix=False)

from dify_project.asgi_handler import PlatformASGIHandler  # noqa: E402

django_asgi_app = PlatformASGIHandler()

from django.core import signals  # noqa: E402
from django.db import close_old_connections, reset_queries  # noqa: E402

# Under ASGI, Django runs a request's sync work on a thread of that request's own (asgiref's
# ThreadSensitiveContext). At request start that thread is new and holds no connection, so Django's
# request_started receivers have nothing to do; running them would create the thread at once and keep it for
# the request's whole life: one idle thread per open stream. Database work from async code runs on
# dify_project.db's pool, which applies the connection lifetime rules before each call; request_finished
# still closes whatever a request's own thread opened.
signals.request_started.disconnect(close_old_connections)
signals.request_started.disconnect(reset_queries)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dify_project.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# What is loaded by now (modules, settings, URL patterns, ~300k objects) lives as long as the process.
# Frozen, it is left out of the collector's full passes, which walked all of it (~100 ms with every open
# stream waiting) every few hundred requests.
gc.collect()
gc.freeze()
