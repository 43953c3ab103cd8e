"""Fetching a DSL from a URL (``mode: yaml-url``), as Dify does: GitHub ``/blob/`` links become raw links,
10 s timeouts, redirects followed, 10 MB at most (the body is read in chunks and cut off past the limit)."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from dify_project.net import DestinationNotAllowed, ensure_public_destination
from workflows.dsl.document import DSL_MAX_SIZE, DslError

TIMEOUT = httpx.Timeout(10.0)
MAX_REDIRECTS = 10


def raw_github_url(url: str) -> str:
    parsed = urlparse(url)
    if (
        parsed.scheme == "https"
        and parsed.netloc == "github.com"
        and "/blob/" in parsed.path
        and parsed.path.endswith((".yml", ".yaml"))
    ):
        return url.replace("https://github.com", "https://raw.githubusercontent.com", 1).replace(
            "/blob/", "/", 1
        )
    return url


def fetch_dsl(url: str) -> str:
    """The text at ``url``; raises DslError naming what went wrong (scheme, HTTP status, size, encoding)."""
    url = raw_github_url((url or "").strip())
    if urlparse(url).scheme not in ("http", "https"):
        raise DslError("yaml_url must be an http(s) URL.")
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            body = _get(client, url)
    except httpx.HTTPError as error:
        raise DslError(f"Error fetching YAML from URL: {error}") from None
    if not body:
        raise DslError("Empty content from url.")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise DslError("Error fetching YAML from URL: the content is not UTF-8 text.") from None


def _get(client: httpx.Client, url: str) -> bytes:
    """GET with redirects followed by hand, so every hop passes the private-network guard."""
    for _hop in range(MAX_REDIRECTS):
        try:
            ensure_public_destination(url)
        except DestinationNotAllowed as error:
            raise DslError(f"Error fetching YAML from URL: {error}") from None
        with client.stream("GET", url) as response:
            if response.is_redirect and "location" in response.headers:
                url = str(response.url.join(response.headers["location"]))
                continue
            if response.status_code >= 400:
                raise DslError(f"Error fetching YAML from URL: HTTP {response.status_code}.")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > DSL_MAX_SIZE:
                    raise DslError("File size exceeds the limit of 10MB.", code="file_too_large", status=413)
                chunks.append(chunk)
            return b"".join(chunks)
    raise DslError("Error fetching YAML from URL: too many redirects.")
