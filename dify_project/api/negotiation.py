"""Content negotiation as Dify does it: the ``Accept`` header never refuses a request.

Dify's Flask endpoints ignore ``Accept``: a blocking call answers JSON and a streaming call answers
``text/event-stream`` whatever the client asked for. DRF's default negotiation answers 406
``not_acceptable`` when no renderer matches, which is what curl examples, ``fetch`` SSE helpers and SSE
client libraries hit with ``Accept: text/event-stream``. Here an Accept header no renderer matches falls
back to the view's first renderer (JSON for every API view), so views with several renderers (the OpenAPI
schema's JSON and YAML, Swagger UI's HTML) still choose by ``Accept`` when it matches one of them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation


class LenientContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with the view's first renderer instead of 406 when nothing matches.

    An explicit ``?format=`` or format suffix naming no renderer keeps DRF's 404.
    """

    def select_renderer(self, request: Any, renderers: list[Any], format_suffix: str | None = None) -> tuple:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            format_ = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
            candidates = self.filter_renderers(renderers, format_) if format_ else renderers
            renderer = candidates[0]
            return renderer, renderer.media_type
