"""Model factories: small functions that build valid rows with overridable fields."""

from __future__ import annotations

import itertools

from accounts.models import Account, AccountStatus, DifySetup, Tenant, TenantAccountJoin, TenantRole

_seq = itertools.count(1)
PASSWORD = "s3cret-Passw0rd"


def account_factory(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    name: str | None = None,
    status: str = AccountStatus.ACTIVE,
) -> Account:
    n = next(_seq)
    return Account.objects.create_user(
        email=email or f"user{n}@example.com", password=password, name=name or f"User {n}", status=status
    )


def tenant_factory(*, name: str | None = None) -> Tenant:
    return Tenant.objects.create(name=name or f"Workspace {next(_seq)}")


def membership_factory(
    *, account: Account, tenant: Tenant, role: str = TenantRole.NORMAL, current: bool = True
) -> TenantAccountJoin:
    return TenantAccountJoin.objects.create(account=account, tenant=tenant, role=role, current=current)


def member_factory(*, tenant: Tenant, role: str = TenantRole.NORMAL, **account_fields: object) -> Account:
    account = account_factory(**account_fields)
    membership_factory(account=account, tenant=tenant, role=role)
    return account


def setup_done() -> None:
    DifySetup.objects.get_or_create(version="test")


# --- Apps ----------------------------------------------------------------------------------------

WORKFLOW_GRAPH = {
    "nodes": [
        {
            "id": "start",
            "data": {
                "type": "start",
                "title": "Start",
                "variables": [
                    {
                        "variable": "query",
                        "label": "Query",
                        "type": "text-input",
                        "required": True,
                        "max_length": 256,
                    },
                ],
            },
        },
        {
            "id": "end",
            "data": {
                "type": "end",
                "title": "End",
                "outputs": [
                    {"variable": "query", "value_selector": ["start", "query"]},
                ],
            },
        },
    ],
    "edges": [{"id": "e1", "source": "start", "target": "end", "sourceHandle": "source"}],
}


def app_factory(
    *,
    tenant: Tenant,
    mode: str = "chat",
    name: str | None = None,
    config: dict | None = None,
    graph: dict | None = None,
    features: dict | None = None,
    conversation_variables: list | None = None,
    site: bool = True,
):
    """An app with something published: a model config (chat, agent-chat, completion) or a workflow version."""
    from apps.models import App, AppModelConfig, Site
    from workflows.models import Workflow

    app = App.objects.create(tenant=tenant, name=name or f"App {next(_seq)}", mode=mode)
    if mode in ("workflow", "advanced-chat"):
        workflow = Workflow.objects.create(
            tenant=tenant,
            app_id=app.id,
            type="workflow" if mode == "workflow" else "chat",
            version="2026-01-01 00:00:00.000000",
            number=1,
            graph=graph or WORKFLOW_GRAPH,
            features=features or {},
            conversation_variables=conversation_variables or [],
        )
        app.workflow = workflow
    else:
        model_config = AppModelConfig.objects.create(
            app=app,
            provider="openai",
            model_id="gpt-4o-mini",
            config=config
            or {
                "model": {
                    "provider": "openai",
                    "name": "gpt-4o-mini",
                    "mode": "chat",
                    "completion_params": {},
                },
                "pre_prompt": "You are helpful.",
                "user_input_form": [
                    {"text-input": {"label": "Name", "variable": "name", "required": False, "default": ""}}
                ],
                "opening_statement": "Hello!",
            },
        )
        app.app_model_config = model_config
    app.save()
    if site:
        Site.objects.create(tenant=tenant, app=app, title=app.name, code=f"code{next(_seq)}")
    return app


def api_key_factory(*, app) -> str:
    from apps.services.api_keys import api_key_create

    _, plain = api_key_create(tenant=app.tenant, type="app", app=app)
    return plain


def conversation_factory(*, app, end_user, name: str = "", **fields):
    from apps.models import Conversation

    return Conversation.objects.create(
        tenant_id=app.tenant_id,
        app=app,
        mode=app.mode,
        name=name,
        invoke_from="service-api",
        from_source="api",
        from_end_user=end_user,
        **fields,
    )


def message_factory(*, conversation, query: str = "hi", answer: str = "hello", **fields):
    from apps.models import Message

    return Message.objects.create(
        tenant_id=conversation.tenant_id,
        app_id=conversation.app_id,
        conversation=conversation,
        query=query,
        answer=answer,
        invoke_from="service-api",
        from_source="api",
        from_end_user=conversation.from_end_user,
        app_mode=conversation.mode,
        **fields,
    )
