"""Fetching a DSL from a URL (``mode: yaml-url``), as Dify does: GitHub ``/blob/`` links become raw links,
10 s timeouts, redirects followed, 10 MB at most (the body is read in chunks and cut off past the limit)."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from workflows.dsl.document import DSL_MAX_SIZE, DslError

TIMEOUT = httpx.Timeout(10.0)


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
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise DslError(f"Error fetching YAML from URL: HTTP {response.status_code}.")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > DSL_MAX_SIZE:
                    raise DslError("File size exceeds the limit of 10MB.", code="file_too_large", status=413)
                chunks.append(chunk)
    except httpx.HTTPError as error:
        raise DslError(f"Error fetching YAML from URL: {error}") from None
    body = b"".join(chunks)
    if not body:
        raise DslError("Empty content from url.")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise DslError("Error fetching YAML from URL: the content is not UTF-8 text.") from None
