"""A worker killed in the middle of an indexing task: the document is never left indexing for good; the
stuck-documents pass queues it again and it completes, or it fails with a reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from knowledge.models import Document, DocumentSegment, IndexingStatus
from knowledge.services.datasets import dataset_create
from knowledge.services.documents import document_create
from knowledge.services.indexing import document_index
from knowledge.tasks import index_document
from operations.services import stuck_documents_recover
from tests.knowledge.conftest import configure_models
from tests.providers_django.conftest import test_runtime  # noqa: F401 - autouse: the test runtime
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import sys
import django
django.setup()
from django.db import connections
connections["default"].settings_dict["NAME"] = sys.argv[1]  # the test database, not the default one
from knowledge.services.indexing import document_index
document_index(document_id=sys.argv[2])
"""


def _worker(document_id: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dify_project.settings",
        "SSRF_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",  # the loopback model
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(connection.settings_dict["NAME"]), document_id],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _status(document: Document) -> str:
    return Document.objects.values_list("indexing_status", flat=True).get(id=document.id)


def test_a_document_whose_worker_was_killed_mid_embedding_is_queued_again_and_completes(
    tenant, owner, fake_llm, monkeypatch
) -> None:
    # given a document being indexed by a worker process, stuck waiting on a slow embedding model
    queued: list[str] = []
    monkeypatch.setattr(index_document, "delay", lambda document_id, *a, **k: queued.append(document_id))
    configure_models(tenant, fake_llm)
    dataset = dataset_create(
        tenant=tenant, account_id=owner.id, name="Docs", indexing_technique="high_quality"
    )
    document, _ = document_create(
        dataset=dataset, account_id=owner.id, name="d.txt", text="Tea is brewed from leaves.\n\nCoffee too."
    )
    queued.clear()  # its task is the worker below
    fake_llm.push(Reply(delay=20, route="embeddings"))
    worker = _worker(str(document.id))
    try:
        deadline = time.monotonic() + 60
        while _status(document) != IndexingStatus.INDEXING and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.1)
        assert _status(document) == IndexingStatus.INDEXING
        # when the worker is killed (SIGKILL: no clean-up of any kind)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        if worker.stderr:
            worker.stderr.close()
    # then the document is left at the step it died in ...
    assert _status(document) == IndexingStatus.INDEXING
    # ... until the stuck-documents pass finds it without progress and queues it again
    counts = stuck_documents_recover(now=timezone.now() + timedelta(hours=1))
    assert counts == {"requeued": 1, "failed": 0}
    assert _status(document) == IndexingStatus.WAITING
    assert queued == [str(document.id)]
    # and the task, run again (the model answering now), completes it
    fake_llm.reset()
    document_index(document_id=queued[0])
    document.refresh_from_db()
    assert document.indexing_status == IndexingStatus.COMPLETED
    assert DocumentSegment.objects.filter(document_id=document.id).count() >= 1
