"""Knowledge tests: a workspace whose OpenAI provider points at the loopback fake model server (its
embeddings are deterministic vectors, its rerank scores by word overlap), with that provider's
embedding model as the workspace default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accounts.models import Account, Tenant, TenantRole
from knowledge.models import Dataset, Document
from knowledge.services.datasets import dataset_create
from knowledge.services.documents import document_create
from knowledge.services.indexing import document_index
from knowledge.tasks import index_document, rebuild_document_nodes
from tests import factories
from tests.providers_django.conftest import test_runtime  # noqa: F401 - autouse: the test runtime
from tests.providers_django.given import compatible_values, custom_model, openai_values, provider_credential
from tests.support.fake_llm import FakeLLMServer

EMBEDDING = ("openai", "text-embedding-3-small")
RERANK = ("openai_api_compatible", "fake-rerank")


def configure_models(tenant: Tenant, server: FakeLLMServer) -> None:
    from tests.providers_django.given import set_default

    provider_credential(tenant=tenant, provider="openai", values=openai_values(server))
    set_default(tenant=tenant, model_type="text-embedding", provider=EMBEDDING[0], model=EMBEDDING[1])
    custom_model(
        tenant=tenant,
        provider=RERANK[0],
        model=RERANK[1],
        model_type="rerank",
        values=compatible_values(server),
    )


@pytest.fixture
def workspace(tenant: Tenant, owner: Account, fake_llm: FakeLLMServer) -> Tenant:
    configure_models(tenant, fake_llm)
    return tenant


@pytest.fixture
def other_workspace(db: None, fake_llm: FakeLLMServer) -> Tenant:
    tenant = factories.tenant_factory(name="Elsewhere")
    factories.member_factory(tenant=tenant, role=TenantRole.OWNER)
    configure_models(tenant, fake_llm)
    return tenant


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Knowledge tasks are recorded here instead of reaching a broker: a test runs the service itself
    (``index_text``) or asks for ``eager_indexing``."""
    sent: list[tuple[str, str]] = []
    for task in (index_document, rebuild_document_nodes):
        monkeypatch.setattr(
            task, "delay", lambda *args, _name=task.name, **kwargs: sent.append((_name, *args))
        )
    return sent


@pytest.fixture
def eager_indexing(monkeypatch: pytest.MonkeyPatch, enqueued: list) -> Iterator[None]:
    """Knowledge tasks run inline when enqueued (on commit), for tests that say so by using this."""
    for task in (index_document, rebuild_document_nodes):
        monkeypatch.setattr(
            task, "delay", lambda *args, _task=task, **kwargs: _task.apply(args=args, kwargs=kwargs)
        )
    yield


@pytest.fixture
def make_dataset(owner: Account) -> Callable[..., Dataset]:
    def make(tenant: Tenant, name: str = "Docs", **fields: Any) -> Dataset:
        fields.setdefault("indexing_technique", "high_quality")
        return dataset_create(tenant=tenant, account_id=owner.id, name=name, **fields)

    return make


@pytest.fixture
def index_text(owner: Account) -> Callable[..., Document]:
    """Create a document from text and run the indexing task's service directly (no broker)."""

    def make(dataset: Dataset, text: str, name: str = "doc.txt", **fields: Any) -> Document:
        document, _ = document_create(dataset=dataset, account_id=owner.id, name=name, text=text, **fields)
        document_index(document_id=str(document.id))
        document.refresh_from_db()
        return document

    return make
