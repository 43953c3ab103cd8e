"""A workspace with one object of each kind that has an id in a URL path, built for the security tests.

The accounts sign in through the real console flows (set-up, login) on the live server; the objects are
made through the public API where that is cheap (runs, chat messages, files) and through the services
otherwise, so every id below belongs to the workspace that made it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from accounts.models import Account, Tenant, TenantAccountJoin, TenantRole
from accounts.tokens import hash_token
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.configs import CHAT_CONFIG
from tests.support.fake_llm import FakeLLMServer

PASSWORD = "Passw0rd-long"


@pytest.fixture(autouse=True)
def enqueued_tasks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Autouse where imported: knowledge tasks are recorded instead of reaching a broker: a world indexes its one document
    itself, and what a probed or fuzzed request enqueues is not the subject of these tests."""
    from knowledge.tasks import index_document, rebuild_document_nodes

    sent: list[tuple[str, ...]] = []
    for task in (index_document, rebuild_document_nodes):
        monkeypatch.setattr(
            task, "delay", lambda *args, _name=task.name, **kwargs: sent.append((_name, *args))
        )
    return sent


@dataclass
class World:
    """One workspace: its console token, its app and dataset keys, and the ids of its objects by the
    name of the path parameter they fill (``app_id`` is the chat app; the per-mode apps are in ``apps``)."""

    tenant: Tenant
    owner: Account
    console_token: str
    app_keys: dict[str, str]
    dataset_key: str
    apps: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    # Every path parameter a world has an object for.
    ID_PARAMS = (
        "annotation_id",
        "annotation_setting_id",
        "api_id",
        "api_key_id",
        "app_id",
        "batch",
        "child_chunk_id",
        "config_id",
        "conversation_id",
        "dataset_id",
        "document_id",
        "end_user_id",
        "file_id",
        "form_token",
        "import_id",
        "job_id",
        "member_id",
        "message_id",
        "metadata_id",
        "provider_id",
        "run_id",
        "segment_id",
        "server_id",
        "tag_id",
        "variable_id",
        "workflow_id",
    )

    def path_ids(self, path: str) -> dict[str, str]:
        """The ids for a path: the app of the mode the route serves, the job of the kind it reports."""
        ids = dict(self.ids)
        if "workflow" in path:
            ids["app_id"] = self.apps["workflow"]
        if "advanced-chat" in path or "conversation-variables" in path:
            ids["app_id"] = self.apps["advanced-chat"]
        if "completion" in path:
            ids["app_id"] = self.apps["completion"]
        if path.startswith("/console/api/datasets/api-keys"):
            ids["api_key_id"] = ids["dataset_api_key_id"]
        if "completion-conversations" in path:
            ids["conversation_id"] = ids["completion_conversation_id"]
        if "batch-import-status" in path:
            ids["job_id"] = ids["import_job_id"]
        return ids

    def auth_for(self, path: str) -> dict[str, str]:
        """The credential a path takes: the console token, the dataset key, or the key of the app whose
        mode the route serves."""
        if path.startswith("/console/"):
            key = self.console_token
        elif path.startswith(("/v1/datasets", "/v1/workspaces")):
            key = self.dataset_key
        elif path.startswith(("/v1/workflows", "/v1/workflow/", "/v1/form/")):
            key = self.app_keys["workflow"]
        elif path.startswith("/v1/completion-messages"):
            key = self.app_keys["completion"]
        else:
            key = self.app_keys["chat"]
        return {"Authorization": f"Bearer {key}"}

    def restore(self) -> None:
        """Turn the apps' Service API and site back on (a fuzzed console request may have switched them off)."""
        from apps.models import App

        for app in App.objects.filter(tenant=self.tenant).exclude(enable_api=True, enable_site=True):
            app.enable_api = app.enable_site = True
            app.save(update_fields=["enable_api", "enable_site", "updated_at"])

    def console(self, base_url: str) -> httpx.Client:
        return httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {self.console_token}"}, timeout=30
        )


def first_owner(base_url: str) -> tuple[Account, str]:
    """The installation's first account through the real set-up and login endpoints."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        email = "owner-a@example.com"
        response = client.post(
            "/console/api/setup", json={"email": email, "name": "Owner A", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        return Account.objects.get(email=email), login(base_url, email)


def another_owner(base_url: str, name: str) -> tuple[Account, str]:
    """A second account owning its own workspace, signed in through the real login endpoint."""
    tenant = factories.tenant_factory(name=f"{name}'s Workspace")
    account = factories.member_factory(
        tenant=tenant, role=TenantRole.OWNER, email=f"{name.lower()}@example.com", password=PASSWORD
    )
    return account, login(base_url, account.email)


def login(base_url: str, email: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/console/api/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()["data"]["access_token"]


def build_world(*, base_url: str, account: Account, token: str, fake_llm: FakeLLMServer) -> World:
    from apps.models import ApiToken, AppAnnotationSetting, Conversation, Message
    from apps.services.annotations import annotation_create, annotation_reply_enable, annotations_import_csv
    from apps.services.api_keys import api_key_create
    from apps.services.mcp_server import app_mcp_server_create
    from apps.services.tags import tag_create
    from knowledge.models import ChildChunk, DocumentSegment, ExternalKnowledgeApi
    from knowledge.services.datasets import dataset_create
    from knowledge.services.documents import document_create
    from knowledge.services.indexing import document_index
    from knowledge.services.metadata import metadata_create
    from providers.models import LoadBalancingModelConfig
    from providers.tools.models import MCPToolProvider
    from workflows.dsl.pending import pending_import_save
    from workflows.models import ConversationVariable, HumanInputForm, WorkflowPause, WorkflowRun
    from workflows.services.drafts import workflow_draft_create_default

    tenant = TenantAccountJoin.objects.get(account=account).tenant
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    apps = {
        mode: factories.app_factory(tenant=tenant, mode=mode, name=f"{mode} app", config=config)
        for mode, config in (
            ("chat", CHAT_CONFIG),
            ("completion", None),
            ("agent-chat", None),
            ("workflow", None),
            ("advanced-chat", None),
        )
    }
    keys = {mode: factories.api_key_factory(app=app) for mode, app in apps.items()}
    chat = apps["chat"]
    ids: dict[str, str] = {"app_id": str(chat.id), "member_id": str(account.id)}

    with httpx.Client(base_url=f"{base_url}/v1", timeout=30) as client:
        auth = {"Authorization": f"Bearer {keys['chat']}"}
        answer = client.post(
            "/chat-messages",
            headers=auth,
            json={"inputs": {"company": "Acme"}, "query": "hi", "user": "u1", "response_mode": "blocking"},
        )
        assert answer.status_code == 200, answer.text
        ids["conversation_id"] = answer.json()["conversation_id"]
        ids["message_id"] = answer.json()["message_id"]
        run = client.post(
            "/workflows/run",
            headers={"Authorization": f"Bearer {keys['workflow']}"},
            json={"inputs": {"query": "hi"}, "user": "u1", "response_mode": "blocking"},
        )
        assert run.status_code == 200, run.text
        ids["run_id"] = run.json()["workflow_run_id"]
        completion = client.post(
            "/completion-messages",
            headers={"Authorization": f"Bearer {keys['completion']}"},
            json={"inputs": {"name": "A"}, "user": "u1", "response_mode": "blocking"},
        )
        assert completion.status_code == 200, completion.text
        completion_message_id = completion.json()["message_id"]
        upload = client.post(
            "/files/upload",
            headers=auth,
            data={"user": "u1"},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert upload.status_code == 201, upload.text
        ids["file_id"] = upload.json()["id"]

    ids["completion_conversation_id"] = str(Message.objects.get(id=completion_message_id).conversation_id)
    conversation = Conversation.objects.get(id=ids["conversation_id"])
    ids["end_user_id"] = str(conversation.from_end_user_id)
    message = Message.objects.get(id=ids["message_id"])
    ids["annotation_id"] = str(
        annotation_create(app=chat, account=account, question="q?", answer="a.", message_id=message.id).id
    )
    setting, _ = AppAnnotationSetting.objects.get_or_create(
        tenant=tenant, app=chat, defaults={"score_threshold": 0.8, "created_user_id": account.id}
    )
    ids["annotation_setting_id"] = str(setting.id)
    ids["api_key_id"] = str(ApiToken.objects.filter(app=chat).first().id)
    ids["job_id"] = annotation_reply_enable(
        app=chat, account=account, score_threshold=0.8, embedding_provider_name="", embedding_model_name=""
    )["job_id"]
    ids["import_job_id"] = annotations_import_csv(
        app=chat, account=account, content=b"question,answer\nq,a\n"
    )["job_id"]
    ids["import_id"] = str(uuid.uuid4())
    pending_import_save(
        import_id=ids["import_id"],
        tenant_id=str(tenant.id),
        account_id=str(account.id),
        payload={"content": "", "overrides": {}, "app_id": None},
    )
    ids["tag_id"] = str(tag_create(tenant=tenant, account=account, name="tagged", type="app").id)
    ids["workflow_id"] = str(apps["workflow"].workflow_id)
    for mode in ("workflow", "advanced-chat"):
        workflow_draft_create_default(
            tenant_id=tenant.id, app_id=apps[mode].id, mode=mode, account_id=account.id
        )
    ids["variable_id"] = str(
        ConversationVariable.objects.create(
            tenant=tenant,
            app_id=chat.id,
            conversation_id=conversation.id,
            variable_id=str(uuid.uuid4()),
            name="memory",
            value_type="string",
            value="x",
        ).variable_id
    )
    run_row = WorkflowRun.objects.get(id=ids["run_id"])
    pause = WorkflowPause.objects.create(tenant=tenant, workflow_run=run_row, state={})
    form_token = uuid.uuid4().hex
    HumanInputForm.objects.create(
        tenant=tenant,
        pause=pause,
        node_id="start",
        token_hash=hash_token(form_token),
        expires_at=timezone.now() + timedelta(days=1),
    )
    ids["form_token"] = form_token

    dataset = dataset_create(tenant=tenant, account_id=account.id, name="Docs", indexing_technique="economy")
    document, batch = document_create(
        dataset=dataset, account_id=account.id, name="doc.txt", text="Alpha beta gamma.\n\nDelta epsilon."
    )
    document_index(document_id=str(document.id))
    segment = DocumentSegment.objects.filter(document=document).first()
    child = ChildChunk.objects.create(
        tenant=tenant,
        dataset=dataset,
        document=document,
        segment=segment,
        position=1,
        content="Alpha",
        index_node_id=str(uuid.uuid4()),
    )
    ids |= {
        "dataset_id": str(dataset.id),
        "document_id": str(document.id),
        "batch": batch,
        "segment_id": str(segment.id),
        "child_chunk_id": str(child.id),
        "metadata_id": str(
            metadata_create(dataset=dataset, name="author", type="string", account_id=account.id).id
        ),
    }
    # An external knowledge API (made directly: creating one through the service checks its endpoint).
    ids["api_id"] = str(
        ExternalKnowledgeApi.objects.create(
            tenant=tenant,
            name="external",
            endpoint="http://127.0.0.1:9/knowledge",
            api_key="ek-secret",
            created_by=account.id,
            updated_by=account.id,
        ).id
    )
    dataset_token, dataset_key = api_key_create(tenant=tenant, type="dataset")
    ids["dataset_api_key_id"] = str(dataset_token.id)
    ids["config_id"] = str(_load_balancing_config(tenant, LoadBalancingModelConfig).id)
    # An MCP server the workspace added (its URL refuses connections: refreshing it is a clear 400) and
    # the chat app published as an MCP server.
    ids["provider_id"] = str(
        MCPToolProvider.objects.create(
            tenant=tenant,
            user=account,
            name="remote tools",
            server_identifier=f"mcp-{uuid.uuid4().hex[:8]}",
            server_url="http://127.0.0.1:9/mcp",
            server_url_hash=hashlib.sha256(b"http://127.0.0.1:9/mcp").hexdigest(),
        ).id
    )
    ids["server_id"] = str(app_mcp_server_create(app=chat, description="chat", parameters={}).id)
    return World(
        tenant=tenant,
        owner=account,
        console_token=token,
        app_keys=keys,
        dataset_key=dataset_key,
        apps={mode: str(app.id) for mode, app in apps.items()},
        ids=ids,
    )


def _load_balancing_config(tenant: Tenant, model: Any) -> Any:
    row = model(
        tenant=tenant, provider="openai", model_name="gpt-4o-mini", model_type="llm", name="second key"
    )
    row.config = {"openai_api_key": "sk-second"}
    row.save()
    return row
