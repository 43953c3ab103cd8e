"""Documents imported from a URL (Dify's ``website_crawl`` source): fetched by the indexing run through the
guarded client from a loopback web server, HTML reduced to text."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from knowledge.models import Document, DocumentSegment

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = b"<html><head><title>Tides</title><script>var x = 1;</script></head><body><h1>Tides</h1><p>Tides follow the moon.</p></body></html>"


@pytest.fixture
def site() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = (200, PAGE) if self.path == "/tides" else (404, b"missing")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def import_urls(owner_client, dataset, urls):
    return owner_client.post(
        f"/console/api/datasets/{dataset.id}/documents",
        {
            "indexing_technique": "high_quality",
            "data_source": {
                "type": "website_crawl",
                "info_list": {
                    "data_source_type": "website_crawl",
                    "website_info_list": {"provider": "jinareader", "job_id": "", "urls": urls},
                },
            },
            "process_rule": {"mode": "automatic"},
        },
        format="json",
    )


def test_a_page_is_fetched_split_and_indexed(workspace, owner_client, make_dataset, eager_indexing, site):
    dataset = make_dataset(workspace, name="Sea")
    response = import_urls(owner_client, dataset, [f"{site}/tides", f"{site}/gone"])
    assert response.status_code == 200, response.content
    docs = {d["name"]: d for d in response.json()["documents"]}
    assert docs[f"{site}/tides"]["data_source_type"] == "website_crawl"
    page = Document.objects.get(name=f"{site}/tides")
    assert page.indexing_status == "completed", page.error
    content = " ".join(DocumentSegment.objects.filter(document=page).values_list("content", flat=True))
    assert "Tides follow the moon." in content and "var x" not in content
    missing = Document.objects.get(name=f"{site}/gone")
    assert missing.indexing_status == "error" and "404" in missing.error


def test_the_guard_refuses_a_private_address(
    workspace, owner_client, make_dataset, eager_indexing, site, settings
):
    settings.SSRF_ALLOWED_NETWORKS = []
    dataset = make_dataset(workspace, name="Sea")
    assert import_urls(owner_client, dataset, [f"{site}/tides"]).status_code == 200
    document = Document.objects.get(dataset=dataset)
    assert document.indexing_status == "error" and "cannot be fetched" in document.error
    assert not DocumentSegment.objects.filter(document=document).exists()


def test_a_url_that_is_not_http_is_refused(workspace, owner_client, make_dataset):
    dataset = make_dataset(workspace, name="Sea")
    response = import_urls(owner_client, dataset, ["file:///etc/passwd"])
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"
    assert not Document.objects.filter(dataset=dataset).exists()
