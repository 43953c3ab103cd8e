"""Custom models on OpenAI-compatible servers, the models lists, enable/disable, parameter rules, defaults."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Tenant
from dify_project.crypto import mask
from providers.models import ProviderModel, ProviderModelCredential, TenantDefaultModel
from tests.providers_django import given
from tests.support.fake_llm import FakeLLMServer, Reply

WS = "/console/api/workspaces/current"
BASE = f"{WS}/model-providers"
COMPAT = f"{BASE}/openai_api_compatible"


def _add_model(client: APIClient, server: FakeLLMServer, model: str = "echo", **extra: Any) -> Any:
    return client.post(
        f"{COMPAT}/models/credentials",
        {"model": model, "model_type": "llm", "credentials": given.compatible_values(server, **extra)},
        format="json",
    )


def _models_of_type(client: APIClient, model_type: str) -> dict[str, list[str]]:
    data = client.get(f"{WS}/models/model-types/{model_type}").json()["data"]
    return {group["provider"]: [m["model"] for m in group["models"]] for group in data}


def test_a_custom_model_on_an_openai_compatible_server_is_checked_saved_and_listed(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given a vLLM-like server requiring our key
    fake_llm.api_keys = {given.COMPATIBLE_KEY}
    # when a model of it is added
    response = _add_model(owner_client, fake_llm, context_size="8192", max_tokens_to_sample="1024")
    # then the model was called once for real, with the key
    assert response.status_code == 201, response.content
    [call] = fake_llm.requests_on("chat")
    assert call.json["model"] == "echo"
    assert call.headers["authorization"] == f"Bearer {given.COMPATIBLE_KEY}"
    # and it is registered with its (encrypted) credential as the active one
    model = ProviderModel.objects.for_tenant(tenant).get(provider="openai_api_compatible")
    assert (model.model_name, model.model_type) == ("echo", "llm")
    assert model.credential.config["api_key"] == given.COMPATIBLE_KEY
    # and it is listed, active, with what its form said
    [listed] = owner_client.get(f"{COMPAT}/models").json()["data"]
    assert listed["model"] == "echo"
    assert listed["status"] == "active"
    assert listed["fetch_from"] == "customizable-model"
    assert listed["model_properties"]["context_size"] == 8192
    assert listed["provider"]["provider"] == "openai_api_compatible"
    assert _models_of_type(owner_client, "llm") == {"openai_api_compatible": ["echo"]}
    # and its credentials read back masked
    shown = owner_client.get(f"{COMPAT}/models/credentials", {"model": "echo", "model_type": "llm"}).json()
    assert shown["credentials"]["api_key"] == mask(given.COMPATIBLE_KEY)
    assert shown["credentials"]["endpoint_url"] == fake_llm.openai_base_url
    assert shown["current_credential_name"] == "API KEY 1"
    assert [c["credential_name"] for c in shown["available_credentials"]] == ["API KEY 1"]
    assert shown["load_balancing"]["enabled"] is False
    # and the provider counts as configured
    [compat] = [p for p in owner_client.get(BASE).json()["data"] if p["provider"] == "openai_api_compatible"]
    assert compat["custom_configuration"]["status"] == "active"
    assert compat["custom_configuration"]["custom_models"][0]["model"] == "echo"


@pytest.mark.parametrize(
    "reply",
    [Reply.error(401, "Invalid API key"), Reply.html(route="chat"), Reply.garbage(route="chat")],
    ids=["wrong-key", "html", "garbage"],
)
def test_a_custom_model_that_fails_its_check_is_not_stored(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer, reply: Reply
) -> None:
    fake_llm.push(reply)
    response = _add_model(owner_client, fake_llm)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param"
    assert not ProviderModel.objects.for_tenant(tenant).exists()
    assert not ProviderModelCredential.objects.for_tenant(tenant).exists()


def test_a_custom_model_on_an_unreachable_server_is_a_400(
    owner_client: APIClient, tenant: Tenant, closed_port: int
) -> None:
    response = owner_client.post(
        f"{COMPAT}/models/credentials",
        {
            "model": "m",
            "model_type": "llm",
            "credentials": {"endpoint_url": f"http://127.0.0.1:{closed_port}/v1"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "reach" in response.json()["message"].lower()
    assert not ProviderModel.objects.for_tenant(tenant).exists()


def test_the_older_dify_way_of_adding_a_custom_model_works_too(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    response = owner_client.post(
        f"{COMPAT}/models",
        {"model": "echo", "model_type": "text-generation", "credentials": given.compatible_values(fake_llm)},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert ProviderModel.objects.for_tenant(tenant).filter(model_name="echo", model_type="llm").exists()


def test_embedding_and_ollama_custom_models(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # when an embedding model of a compatible server and an Ollama model are added
    embedding = owner_client.post(
        f"{COMPAT}/models/credentials",
        {
            "model": "fake-embedding",
            "model_type": "text-embedding",
            "credentials": given.compatible_values(fake_llm),
        },
        format="json",
    )
    ollama = owner_client.post(
        f"{BASE}/ollama/models/credentials",
        {"model": "llama3", "model_type": "llm", "credentials": {"base_url": fake_llm.url}},
        format="json",
    )
    # then each was checked by its own protocol's call and is listed under its type
    assert embedding.status_code == 201, embedding.content
    assert ollama.status_code == 201, ollama.content
    assert fake_llm.requests_on("embeddings")
    assert fake_llm.requests_on("ollama.chat")
    embeddings = _models_of_type(owner_client, "text-embedding")
    embeddings.pop("local", None)  # the optional offline model, when its extra is installed
    assert embeddings == {"openai_api_compatible": ["fake-embedding"]}
    assert _models_of_type(owner_client, "llm") == {"ollama": ["llama3"]}


def test_a_second_credential_for_a_custom_model_and_switching(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given a custom model with one credential
    first = given.custom_model(
        tenant=tenant,
        provider="openai_api_compatible",
        model="echo",
        values=given.compatible_values(fake_llm),
    )
    # when a second is added, then made active
    response = owner_client.post(
        f"{COMPAT}/models/credentials",
        {
            "model": "echo",
            "model_type": "llm",
            "name": "spare",
            "credentials": given.compatible_values(fake_llm, key="sk-spare-key-00000"),
        },
        format="json",
    )
    assert response.status_code == 201
    second = ProviderModelCredential.objects.for_tenant(tenant).get(name="spare")
    assert ProviderModel.objects.for_tenant(tenant).get().credential == first
    switched = owner_client.post(
        f"{COMPAT}/models/credentials/switch",
        {"model": "echo", "model_type": "llm", "credential_id": str(second.id)},
        format="json",
    )
    # then the model uses it
    assert switched.status_code == 200
    assert ProviderModel.objects.for_tenant(tenant).get().credential == second
    shown = owner_client.get(f"{COMPAT}/models/credentials", {"model": "echo", "model_type": "llm"}).json()
    assert shown["current_credential_id"] == str(second.id)
    assert shown["credentials"]["api_key"] == mask("sk-spare-key-00000")


def test_updating_a_custom_model_credential_keeps_a_hidden_secret(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    credential = given.custom_model(
        tenant=tenant,
        provider="openai_api_compatible",
        model="echo",
        values=given.compatible_values(fake_llm),
    )
    fake_llm.api_keys = {given.COMPATIBLE_KEY}
    response = owner_client.put(
        f"{COMPAT}/models/credentials",
        {
            "model": "echo",
            "model_type": "llm",
            "credential_id": str(credential.id),
            "credentials": {
                **given.compatible_values(fake_llm),
                "api_key": "[__HIDDEN__]",
                "context_size": "2048",
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    credential.refresh_from_db()
    assert credential.config["api_key"] == given.COMPATIBLE_KEY
    assert credential.config["context_size"] == "2048"


def test_deleting_a_custom_model(owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer) -> None:
    given.custom_model(
        tenant=tenant,
        provider="openai_api_compatible",
        model="echo",
        values=given.compatible_values(fake_llm),
    )
    response = owner_client.delete(f"{COMPAT}/models", {"model": "echo", "model_type": "llm"}, format="json")
    assert response.status_code == 204
    assert not ProviderModel.objects.for_tenant(tenant).exists()
    assert not ProviderModelCredential.objects.for_tenant(tenant).exists()
    assert owner_client.get(f"{COMPAT}/models").json()["data"] == []
    again = owner_client.delete(f"{COMPAT}/models", {"model": "echo", "model_type": "llm"}, format="json")
    assert again.status_code == 404


def test_custom_model_validate_endpoint(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    ok = owner_client.post(
        f"{COMPAT}/models/credentials/validate",
        {"model": "echo", "model_type": "llm", "credentials": given.compatible_values(fake_llm)},
        format="json",
    )
    fake_llm.push(Reply.error(401, "Invalid API key"))
    bad = owner_client.post(
        f"{COMPAT}/models/credentials/validate",
        {"model": "echo", "model_type": "llm", "credentials": given.compatible_values(fake_llm)},
        format="json",
    )
    assert ok.json() == {"result": "success"}
    assert bad.json()["result"] == "error"
    assert not ProviderModel.objects.for_tenant(tenant).exists()


def test_predefined_models_follow_the_provider_credential(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given no credential: openai's models are listed but not usable
    models = owner_client.get(f"{BASE}/openai/models").json()["data"]
    assert {m["status"] for m in models} == {"no-configure"}
    assert "openai" not in _models_of_type(owner_client, "llm")
    # when a credential exists
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    # then they are active and offered by type
    models = owner_client.get(f"{BASE}/openai/models").json()["data"]
    assert {m["status"] for m in models} == {"active"}
    assert "gpt-4o-mini" in _models_of_type(owner_client, "llm")["openai"]
    assert "text-embedding-3-small" in _models_of_type(owner_client, "text-embedding")["openai"]


def test_disabling_and_enabling_a_model(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    body = {"model": "gpt-4o-mini", "model_type": "llm"}
    # when disabled
    assert owner_client.patch(f"{BASE}/openai/models/disable", body, format="json").status_code == 200
    # then it is listed as disabled and not offered
    [listed] = [
        m for m in owner_client.get(f"{BASE}/openai/models").json()["data"] if m["model"] == "gpt-4o-mini"
    ]
    assert listed["status"] == "disabled"
    assert "gpt-4o-mini" not in _models_of_type(owner_client, "llm")["openai"]
    # when enabled again it comes back
    assert owner_client.patch(f"{BASE}/openai/models/enable", body, format="json").status_code == 200
    assert "gpt-4o-mini" in _models_of_type(owner_client, "llm")["openai"]
    # and an unknown model cannot be toggled
    unknown = owner_client.patch(
        f"{BASE}/openai/models/disable", {"model": "nope", "model_type": "llm"}, format="json"
    )
    assert unknown.status_code == 404


def test_parameter_rules_of_predefined_and_custom_models(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    rules = owner_client.get(f"{BASE}/openai/models/parameter-rules", {"model": "gpt-4o-mini"}).json()["data"]
    by_name = {rule["name"]: rule for rule in rules}
    assert by_name["temperature"]["max"] == 2
    assert by_name["max_tokens"]["default"] == 512
    assert by_name["response_format"]["options"] == ["text", "json_object", "json_schema"]
    # a custom model's rules follow its form (upper bound of max tokens)
    given.custom_model(
        tenant=tenant,
        provider="openai_api_compatible",
        model="echo",
        values=given.compatible_values(fake_llm, max_tokens_to_sample="1024"),
    )
    custom = owner_client.get(f"{COMPAT}/models/parameter-rules", {"model": "echo"}).json()["data"]
    assert {r["name"]: r for r in custom}["max_tokens"]["max"] == 1024
    # an unconfigured custom model has none; the model name is required
    assert owner_client.get(f"{COMPAT}/models/parameter-rules", {"model": "other"}).json()["data"] == []
    assert owner_client.get(f"{BASE}/openai/models/parameter-rules").status_code == 400


def test_default_models(owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer) -> None:
    # given nothing configured: no default
    assert owner_client.get(f"{WS}/default-model", {"model_type": "llm"}).json() == {"data": None}
    # given openai configured: the first of its models stands in, as in Dify
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    fallback = owner_client.get(f"{WS}/default-model", {"model_type": "llm"}).json()["data"]
    assert fallback["provider"]["provider"] == "openai"
    # when defaults are chosen (Dify's body; a setting without provider is left alone)
    response = owner_client.post(
        f"{WS}/default-model",
        {
            "model_settings": [
                {"model_type": "llm", "provider": "langgenius/openai/openai", "model": "gpt-4o-mini"},
                {"model_type": "text-embedding", "provider": "openai", "model": "text-embedding-3-small"},
                {"model_type": "rerank", "model": ""},
            ]
        },
        format="json",
    )
    # then they are saved (short provider id) and read back
    assert response.status_code == 200, response.content
    llm = owner_client.get(f"{WS}/default-model", {"model_type": "llm"}).json()["data"]
    assert (llm["model"], llm["model_type"], llm["provider"]["provider"]) == ("gpt-4o-mini", "llm", "openai")
    embedding = owner_client.get(f"{WS}/default-model", {"model_type": "text-embedding"}).json()["data"]
    assert embedding["model"] == "text-embedding-3-small"
    assert owner_client.get(f"{WS}/default-model", {"model_type": "rerank"}).json() == {"data": None}
    assert TenantDefaultModel.objects.for_tenant(tenant).count() == 2


def test_a_default_model_must_exist_and_the_change_is_all_or_nothing(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    response = owner_client.post(
        f"{WS}/default-model",
        {
            "model_settings": [
                {"model_type": "llm", "provider": "openai", "model": "gpt-4o-mini"},
                {"model_type": "llm", "provider": "openai", "model": "gpt-99"},
            ]
        },
        format="json",
    )
    assert response.status_code == 404
    assert "gpt-99" in response.json()["message"]
    assert not TenantDefaultModel.objects.for_tenant(tenant).exists()
    bad_type = owner_client.get(f"{WS}/default-model", {"model_type": "images"})
    assert bad_type.status_code == 400


def test_only_owners_and_admins_change_models_and_defaults(
    member_client: Any, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    editor = member_client("editor")
    body = {"model": "gpt-4o-mini", "model_type": "llm"}
    attempts = [
        editor.patch(f"{BASE}/openai/models/disable", body, format="json"),
        editor.post(
            f"{WS}/default-model", {"model_settings": [{**body, "provider": "openai"}]}, format="json"
        ),
        editor.post(f"{COMPAT}/models/credentials", {**body, "credentials": {}}, format="json"),
        editor.delete(f"{COMPAT}/models", body, format="json"),
    ]
    assert [r.status_code for r in attempts] == [403] * 4
    assert editor.get(f"{WS}/models/model-types/llm").status_code == 200
    assert editor.get(f"{WS}/default-model", {"model_type": "llm"}).status_code == 200


def test_another_workspaces_custom_models_are_not_visible(
    owner_client: APIClient, other_tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    theirs = given.custom_model(
        tenant=other_tenant,
        provider="openai_api_compatible",
        model="echo",
        values=given.compatible_values(fake_llm),
    )
    assert owner_client.get(f"{COMPAT}/models").json()["data"] == []
    assert _models_of_type(owner_client, "llm") == {}
    shown = owner_client.get(f"{COMPAT}/models/credentials", {"model": "echo", "model_type": "llm"}).json()
    assert shown["credentials"] == {} and shown["current_credential_id"] is None
    by_id = owner_client.get(
        f"{COMPAT}/models/credentials",
        {"model": "echo", "model_type": "llm", "credential_id": str(theirs.id)},
    )
    assert by_id.status_code == 404
