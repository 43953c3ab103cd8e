"""Agent-chat apps through the Service API against the loopback model: the Service API's fixtures (a
workspace whose OpenAI provider is the loopback model, an app and its key), plus a model of that server
registered as an OpenAI-compatible custom model without tool calling."""

from __future__ import annotations

import pytest

from tests.knowledge.conftest import (  # noqa: F401 - fixtures, used by name
    enqueued,
    index_text,
    make_dataset,
    other_workspace,
    workspace,
)
from tests.providers_django.given import compatible_values, custom_model
from tests.service_api.conftest import setup  # noqa: F401 - a fixture, used by name
from tests.tools.conftest import allow_private, http_server  # noqa: F401 - fixtures, used by name

PLAIN_MODEL = "plain-chat"  # an OpenAI-compatible model whose features lack tool calling


@pytest.fixture
def plain_model(fake_llm):
    """Register the plain model in a workspace: ``plain_model(tenant)``."""

    def make(tenant) -> str:
        custom_model(
            tenant=tenant,
            provider="openai_api_compatible",
            model=PLAIN_MODEL,
            values={**compatible_values(fake_llm), "mode": "chat", "context_size": "4096"},
        )
        return PLAIN_MODEL

    return make
