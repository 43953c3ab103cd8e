"""The published site's pages: one per app mode (Dify's ``/chat/{code}``, ``/completion/{code}``,
``/workflow/{code}``). The page is a Django template plus static files; it signs in with ``/api/passport``
and talks to the web-app API from the browser. Chatflow and agent apps use the chat page."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt

from apps.models import AppMode
from apps.services.web_app import site_for_code
from dify_project.api.errors import ApiError

PAGE_OF_MODE = {
    AppMode.CHAT: "chat",
    AppMode.AGENT_CHAT: "chat",
    AppMode.ADVANCED_CHAT: "chat",
    AppMode.COMPLETION: "completion",
    AppMode.WORKFLOW: "workflow",
}


def site_page(request: HttpRequest, code: str, page: str, *, embeddable: bool = False) -> HttpResponse:
    try:
        site = site_for_code(code=code)
    except ApiError:
        raise Http404("Site not found.") from None
    app = site.app
    wanted = PAGE_OF_MODE.get(app.mode)
    if wanted is None:
        raise Http404("Site not found.")
    if wanted != page:
        return redirect(f"/{wanted}/{code}")
    context = {
        "site": site,
        "app": app,
        "code": code,
        "page": page,
        "mode": app.mode,
        "icon_is_emoji": site.icon_type in ("", "emoji") and bool(site.icon),
    }
    response = render(request, f"webapp/{page}.html", context)
    # The page renders model output; a strict policy keeps any markup that slipped through inert.
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; "
        + ("frame-ancestors *" if embeddable else "frame-ancestors 'self'")
    )
    response["Referrer-Policy"] = "same-origin"
    return response


def chat_page(request: HttpRequest, code: str) -> HttpResponse:
    return site_page(request, code, "chat")


@xframe_options_exempt
def chatbot_page(request: HttpRequest, code: str) -> HttpResponse:
    """The chat page for embedding in other sites' iframes (Dify's embed snippet points here)."""
    return site_page(request, code, "chat", embeddable=True)


def completion_page(request: HttpRequest, code: str) -> HttpResponse:
    return site_page(request, code, "completion")


def workflow_page(request: HttpRequest, code: str) -> HttpResponse:
    return site_page(request, code, "workflow")
