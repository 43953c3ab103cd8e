"""Fetching a DSL from a URL (``mode: yaml-url``), as Dify does: GitHub ``/blob/`` links become raw links,
10 s timeouts, redirects followed, 10 MB at most (the body is read in chunks and cut off past the limit)."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from dify_project.outbound import DestinationBlocked, ResponseTooLarge, http_client
from netguard import read_capped
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
    """The text at ``url``; raises DslError naming what went wrong (scheme, destination, HTTP status, size,
    encoding). The request goes through the guarded client: every redirect hop's address is checked."""
    url = raw_github_url((url or "").strip())
    if urlparse(url).scheme not in ("http", "https"):
        raise DslError("yaml_url must be an http(s) URL.")
    try:
        with (
            http_client(timeout=TIMEOUT, max_redirects=MAX_REDIRECTS) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise DslError(f"Error fetching YAML from URL: HTTP {response.status_code}.")
            body = read_capped(response, DSL_MAX_SIZE)
    except ResponseTooLarge:
        raise DslError("File size exceeds the limit of 10MB.", code="file_too_large", status=413) from None
    except httpx.TooManyRedirects:
        raise DslError("Error fetching YAML from URL: too many redirects.") from None
    except (DestinationBlocked, httpx.HTTPError, httpx.InvalidURL) as error:
        raise DslError(f"Error fetching YAML from URL: {error}") from None
    if not body:
        raise DslError("Empty content from url.")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise DslError("Error fetching YAML from URL: the content is not UTF-8 text.") from None
