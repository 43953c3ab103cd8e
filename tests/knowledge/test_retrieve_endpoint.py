"""`POST /v1/datasets/{id}/retrieve` over a real socket, in a process whose search store is not chosen yet
(the first choice reads the database, which must happen off the event loop)."""

from __future__ import annotations

import httpx
import pytest

from apps.services.api_keys import api_key_create
from knowledge.index.chooser import reset_search_store

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_first_retrieval_of_a_process_answers(live_asgi, workspace, make_dataset, index_text):
    dataset = make_dataset(workspace, name="Animals")
    document = index_text(dataset, "Cats purr when they are happy.\n\nDogs bark at strangers.")
    assert document.indexing_status == "completed", document.error
    _, key = api_key_create(tenant=workspace, type="dataset")
    reset_search_store()  # as in a fresh server process
    for _ in range(2):
        response = httpx.post(
            f"{live_asgi.url}/v1/datasets/{dataset.id}/retrieve",
            headers={"Authorization": f"Bearer {key}"},
            json={"query": "Cats purr when they are happy."},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        records = response.json()["records"]
        assert records and "Cats purr" in records[0]["segment"]["content"]
