"""The operators' admin: every changelist answers in a fixed number of queries whatever its row count;
history is read-only; API keys are revoked; documents re-indexed or retried; credentials never shown."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.models import (
    ApiToken,
    AppAnnotationSetting,
    AppDailyUsage,
    DailyUsageWatermark,
    MessageAnnotation,
    MessageFeedback,
    Tag,
    TagBinding,
)
from knowledge.models import Dataset, Document, DocumentSegment, IndexingStatus
from knowledge.tasks import index_document
from operations.models import DocumentRecovery
from providers.models import ModelUsage, Provider, ProviderCredential
from tests import factories
from workflows.models import WorkflowRun

from .conftest import History

pytestmark = pytest.mark.django_db

SECRET = "sk-live-DO-NOT-SHOW-1234567890"


def _world() -> None:
    """One of everything an operator lists, in a new workspace."""
    tenant = factories.tenant_factory()
    member = factories.member_factory(tenant=tenant, role="owner")
    history = History(tenant)
    run = history.run(days=1)
    conversation = history.conversation(days=1, messages=2)
    message = conversation.messages.first()
    MessageFeedback.objects.create(
        tenant=tenant,
        app=history.chat,
        conversation=conversation,
        message=message,
        rating="like",
        from_source="user",
    )
    MessageAnnotation.objects.create(tenant=tenant, app=history.chat, question="q", content="a")
    AppAnnotationSetting.objects.create(tenant=tenant, app=history.chat)
    tag = Tag.objects.create(tenant=tenant, type="app", name=f"t{tenant.id.hex[:6]}")
    TagBinding.objects.create(tenant=tenant, tag=tag, target_id=history.chat.id)
    factories.api_key_factory(app=history.chat)
    dataset = Dataset.objects.create(tenant=tenant, name="Docs")
    document = Document.objects.create(tenant=tenant, dataset=dataset, batch="b", name="d.txt")
    DocumentSegment.objects.create(tenant=tenant, dataset=dataset, document=document, position=1, content="x")
    DocumentRecovery.objects.create(document_id=document.id, attempts=1)
    credential = ProviderCredential(tenant=tenant, provider="openai", name="main")
    credential.config = {"openai_api_key": SECRET}
    credential.save()
    Provider.objects.create(tenant=tenant, provider="openai", credential=credential)
    ModelUsage.objects.create(
        tenant=tenant,
        provider="openai",
        model_name="gpt-4o-mini",
        model_type="llm",
        app_id=str(history.chat.id),
        workflow_run_id=str(run.id),
    )
    AppDailyUsage.objects.create(
        tenant=tenant, app=history.chat, timezone="UTC", day=date(2025, 3, 1), message_count=2
    )
    DailyUsageWatermark.objects.create(tenant=tenant, timezone="UTC", through_day=date(2025, 3, 1))
    del member


@pytest.fixture
def operator(client: Client) -> Client:
    staff = factories.account_factory(email="ops@example.com")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


def _changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries)


def test_each_changelist_is_a_fixed_number_of_queries_whatever_its_rows(operator: Client) -> None:
    # given one row of everything
    _world()
    urls = _changelists()
    once = {url: _queries(operator, url) for url in urls}
    # when there are four times as many
    for _ in range(3):
        _world()
    # then every list page makes the same queries (no query per row)
    growing = {url: (once[url], _queries(operator, url)) for url in urls}
    assert {url: counts for url, counts in growing.items() if counts[0] != counts[1]} == {}
    # and the pages that matter were really exercised with rows
    assert len(urls) >= 30


def test_run_and_message_pages_are_read_only_with_node_executions_inline(
    operator: Client, history: History
) -> None:
    run = history.run(days=1, nodes=3)
    conversation = history.conversation(days=1, messages=1)
    message = conversation.messages.first()
    page = operator.get(reverse("admin:workflows_workflowrun_change", args=[run.id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count('class="field-node_type"') >= 3 or text.count("llm") >= 3
    assert 'name="_save"' not in text  # nothing to save
    assert operator.get(reverse("admin:workflows_workflowrun_add")).status_code == 403
    message_page = operator.get(reverse("admin:llm_apps_message_change", args=[message.id]))
    assert message_page.status_code == 200 and 'name="_save"' not in message_page.content.decode()
    # a POST cannot change history either
    operator.post(reverse("admin:llm_apps_message_change", args=[message.id]), {"answer": "edited"})
    message.refresh_from_db()
    assert message.answer == "hello"
    # the changelist filters by status and date
    assert (
        operator.get(reverse("admin:workflows_workflowrun_changelist") + "?status__exact=failed").status_code
        == 200
    )


def test_revoking_an_api_key_refuses_it_at_once(operator: Client, tenant, owner) -> None:
    app = factories.app_factory(tenant=tenant, mode="chat")
    key = factories.api_key_factory(app=app)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/v1/parameters").status_code == 200  # its resolution is cached now
    token = ApiToken.objects.get(app=app)
    # when an operator revokes it
    response = operator.post(
        reverse("admin:llm_apps_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.id]}
    )
    # then it is gone and the next request with it fails, cache or not
    assert response.status_code == 302
    assert not ApiToken.objects.filter(id=token.id).exists()
    assert api.get("/v1/parameters").status_code == 401


def test_documents_are_retried_or_reindexed(
    operator: Client, tenant, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    queued: list[str] = []
    monkeypatch.setattr(index_document, "delay", lambda document_id: queued.append(document_id))
    dataset = Dataset.objects.create(tenant=tenant, name="Docs")
    failed = Document.objects.create(
        tenant=tenant,
        dataset=dataset,
        batch="b",
        name="f",
        indexing_status=IndexingStatus.ERROR,
        error="boom",
    )
    done = Document.objects.create(
        tenant=tenant, dataset=dataset, batch="b", name="c", indexing_status=IndexingStatus.COMPLETED
    )
    url = reverse("admin:knowledge_document_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(url, {"action": "retry_failed", "_selected_action": [failed.id, done.id]})
    assert queued == [str(failed.id)]
    failed.refresh_from_db()
    assert (failed.indexing_status, failed.error) == (IndexingStatus.WAITING, None)
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(url, {"action": "reindex", "_selected_action": [done.id]})
    assert queued[-1] == str(done.id)
    assert Document.objects.get(id=done.id).indexing_status == IndexingStatus.WAITING


def test_provider_credentials_are_never_shown(operator: Client) -> None:
    _world()
    credential = ProviderCredential.objects.get()
    for url in (
        reverse("admin:providers_providercredential_changelist"),
        reverse("admin:providers_providercredential_change", args=[credential.id]),
        reverse("admin:providers_provider_changelist"),
    ):
        page = operator.get(url)
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
        assert SECRET[:12] not in page.content.decode()
    # and the run list does not offer to add runs
    assert operator.get(reverse("admin:workflows_workflowrun_add")).status_code == 403
    assert WorkflowRun.objects.exists()
