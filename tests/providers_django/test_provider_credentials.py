"""Provider credentials through the console: validated by a real call, encrypted, masked, switched."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import Tenant, TenantRole
from dify_project.crypto import mask
from providers.models import Provider, ProviderCredential
from tests.providers_django import given
from tests.support.fake_llm import FakeLLMServer, Reply

BASE = "/console/api/workspaces/current/model-providers"
KEY = given.OPENAI_KEY


def _credentials(tenant: Tenant) -> list[ProviderCredential]:
    return list(ProviderCredential.objects.for_tenant(tenant).order_by("created_at"))


def _active(tenant: Tenant, provider: str = "openai") -> ProviderCredential | None:
    record = Provider.objects.for_tenant(tenant).filter(provider=provider).first()
    return record.credential if record else None


def test_a_good_key_is_checked_by_a_real_call_saved_and_shown_masked(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given a provider server that accepts only our key
    fake_llm.api_keys = {KEY}
    # when an owner adds it
    response = owner_client.post(
        f"{BASE}/openai/credentials", {"credentials": given.openai_values(fake_llm)}, format="json"
    )
    # then it was checked against the server with that key, and saved as the active credential
    assert response.status_code == 201, response.content
    assert response.json() == {"result": "success"}
    calls = fake_llm.requests_on("models")
    assert calls and calls[-1].headers["authorization"] == f"Bearer {KEY}"
    [saved] = _credentials(tenant)
    assert saved.name == "API KEY 1"
    assert saved.config["openai_api_key"] == KEY
    assert _active(tenant) == saved
    # and every read masks the key
    shown = owner_client.get(f"{BASE}/openai/credentials").json()
    assert shown["credentials"]["openai_api_key"] == mask(KEY) == "sk-tes************23"
    assert shown["credentials"]["openai_api_base"] == fake_llm.url
    assert KEY not in owner_client.get(BASE).content.decode()


def test_a_wrong_key_is_refused_with_the_reason_and_nothing_is_stored(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given a server that knows only another key
    fake_llm.api_keys = {"sk-the-only-good-key-000"}
    # when a wrong key is added
    response = owner_client.post(
        f"{BASE}/openai/credentials", {"credentials": given.openai_values(fake_llm)}, format="json"
    )
    # then the answer is a 400 in Dify's body naming the problem, without the key
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_param"
    assert "credentials" in body["message"].lower() or "api key" in body["message"].lower()
    assert KEY not in body["message"]
    # and nothing was written
    assert _credentials(tenant) == []
    assert not Provider.objects.for_tenant(tenant).exists()


def test_an_unreachable_base_url_is_a_400_not_a_500(
    owner_client: APIClient, tenant: Tenant, closed_port: int
) -> None:
    # given a base URL where nothing listens
    values = {"openai_api_key": KEY, "openai_api_base": f"http://127.0.0.1:{closed_port}"}
    # when it is added
    response = owner_client.post(f"{BASE}/openai/credentials", {"credentials": values}, format="json")
    # then it is refused, saying the provider could not be reached
    assert response.status_code == 400
    assert "reach" in response.json()["message"].lower()
    assert _credentials(tenant) == []


@pytest.mark.parametrize("answer", [Reply.html(route="models"), Reply.garbage(route="models")])
def test_a_server_answering_html_or_garbage_is_a_400(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer, answer: Reply
) -> None:
    # given a base URL that answers a web page (or garbage) instead of the API
    fake_llm.push(answer)
    # when it is added
    response = owner_client.post(
        f"{BASE}/openai/credentials", {"credentials": given.openai_values(fake_llm)}, format="json"
    )
    # then it is refused with a 400 and nothing is stored
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_param"
    assert _credentials(tenant) == []


def test_a_missing_required_field_is_named(owner_client: APIClient, tenant: Tenant) -> None:
    # when credentials without the API key are added
    response = owner_client.post(
        f"{BASE}/openai/credentials", {"credentials": {"openai_organization": "org"}}, format="json"
    )
    # then the answer names the missing field
    assert response.status_code == 400
    assert "openai_api_key" in response.json()["message"]
    assert _credentials(tenant) == []


@pytest.mark.parametrize("payload", [{"credentials": "sk-abc"}, {"credentials": ["x"]}, {}, []])
def test_malformed_bodies_are_400(owner_client: APIClient, payload: object) -> None:
    response = owner_client.post(f"{BASE}/openai/credentials", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param"


@pytest.mark.parametrize("sent_back", ["[__HIDDEN__]", mask(KEY)])
def test_an_update_with_the_secret_sent_back_masked_keeps_the_stored_secret(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer, sent_back: str
) -> None:
    # given a saved credential
    saved = given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    fake_llm.api_keys = {KEY}
    # when it is updated with the key as the console shows it (masked) and a new organization
    response = owner_client.put(
        f"{BASE}/openai/credentials",
        {
            "credential_id": str(saved.id),
            "name": "Renamed",
            "credentials": {
                "openai_api_key": sent_back,
                "openai_api_base": fake_llm.url,
                "openai_organization": "org-1",
            },
        },
        format="json",
    )
    # then the check used the stored key and the key is unchanged
    assert response.status_code == 200, response.content
    assert fake_llm.requests_on("models")[-1].headers["authorization"] == f"Bearer {KEY}"
    saved.refresh_from_db()
    assert saved.config["openai_api_key"] == KEY
    assert saved.config["openai_organization"] == "org-1"
    assert saved.name == "Renamed"


def test_an_update_to_a_wrong_key_is_refused_and_the_old_key_kept(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    saved = given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    fake_llm.api_keys = {KEY}
    response = owner_client.put(
        f"{BASE}/openai/credentials",
        {
            "credential_id": str(saved.id),
            "credentials": given.openai_values(fake_llm, key="sk-wrong-key-999999"),
        },
        format="json",
    )
    assert response.status_code == 400
    saved.refresh_from_db()
    assert saved.config["openai_api_key"] == KEY


def test_several_named_credentials_one_active_and_switching(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given two credentials added one after the other
    for key, name in ((KEY, None), (given.OTHER_OPENAI_KEY, "backup")):
        response = owner_client.post(
            f"{BASE}/openai/credentials",
            {"credentials": given.openai_values(fake_llm, key=key), "name": name},
            format="json",
        )
        assert response.status_code == 201
    first, second = _credentials(tenant)
    # then the first stays active, and the provider lists both
    assert (first.name, second.name) == ("API KEY 1", "backup")
    assert _active(tenant) == first
    [openai] = [p for p in owner_client.get(BASE).json()["data"] if p["provider"] == "openai"]
    configuration = openai["custom_configuration"]
    assert configuration["status"] == "active"
    assert configuration["current_credential_id"] == str(first.id)
    assert [c["credential_name"] for c in configuration["available_credentials"]] == ["API KEY 1", "backup"]
    # when the second is made active
    response = owner_client.post(
        f"{BASE}/openai/credentials/switch", {"credential_id": str(second.id)}, format="json"
    )
    # then reads show it
    assert response.status_code == 200
    assert _active(tenant) == second
    shown = owner_client.get(f"{BASE}/openai/credentials").json()["credentials"]
    assert shown["openai_api_key"] == mask(given.OTHER_OPENAI_KEY)
    # and a given one can still be read by id, masked
    by_id = owner_client.get(f"{BASE}/openai/credentials", {"credential_id": str(first.id)}).json()
    assert by_id["credentials"]["openai_api_key"] == mask(KEY)


def test_a_duplicate_name_is_refused(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    given.provider_credential(
        tenant=tenant, provider="openai", values=given.openai_values(fake_llm), name="main"
    )
    response = owner_client.post(
        f"{BASE}/openai/credentials",
        {"credentials": given.openai_values(fake_llm), "name": "main"},
        format="json",
    )
    assert response.status_code == 400
    assert "already exists" in response.json()["message"]
    assert len(_credentials(tenant)) == 1


def test_deleting_credentials(owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer) -> None:
    # given an active credential and a spare one
    active = given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    spare = given.provider_credential(
        tenant=tenant, provider="openai", values=given.openai_values(fake_llm), name="spare", active=False
    )
    # when the active one is deleted
    response = owner_client.delete(
        f"{BASE}/openai/credentials", {"credential_id": str(active.id)}, format="json"
    )
    # then the provider has no active credential until another is switched to
    assert response.status_code == 204
    assert _credentials(tenant) == [spare]
    assert _active(tenant) is None
    assert owner_client.get(f"{BASE}/openai/credentials").json()["credentials"] is None
    # and deleting the last one removes the provider's configuration
    owner_client.delete(f"{BASE}/openai/credentials", {"credential_id": str(spare.id)}, format="json")
    assert not Provider.objects.for_tenant(tenant).exists()
    [openai] = [p for p in owner_client.get(BASE).json()["data"] if p["provider"] == "openai"]
    assert openai["custom_configuration"]["status"] == "no-configure"


def test_the_validate_endpoint_answers_success_or_error_and_saves_nothing(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    fake_llm.api_keys = {KEY}
    good = owner_client.post(
        f"{BASE}/openai/credentials/validate", {"credentials": given.openai_values(fake_llm)}, format="json"
    )
    bad = owner_client.post(
        f"{BASE}/openai/credentials/validate",
        {"credentials": given.openai_values(fake_llm, key="sk-bad-key-0000000")},
        format="json",
    )
    assert good.status_code == 200 and good.json() == {"result": "success"}
    assert bad.status_code == 200 and bad.json()["result"] == "error"
    assert "credentials" in bad.json()["error"].lower()
    assert _credentials(tenant) == []


def test_plugin_style_provider_ids_resolve_to_the_short_id(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # when credentials are added under Dify 1.x's plugin id
    response = owner_client.post(
        f"{BASE}/langgenius/openai/openai/credentials",
        {"credentials": given.openai_values(fake_llm)},
        format="json",
    )
    # then they belong to `openai`, readable under either id
    assert response.status_code == 201, response.content
    assert [c.provider for c in _credentials(tenant)] == ["openai"]
    for provider_id in ("openai", "langgenius/openai/openai"):
        shown = owner_client.get(f"{BASE}/{provider_id}/credentials").json()
        assert shown["credentials"]["openai_api_key"] == mask(KEY)


def test_an_unknown_provider_is_404(owner_client: APIClient) -> None:
    response = owner_client.post(f"{BASE}/nope/credentials", {"credentials": {"k": "v"}}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "nope" in response.json()["message"]


def test_a_provider_without_provider_credentials_says_so(owner_client: APIClient) -> None:
    # openai_api_compatible is configured model by model
    response = owner_client.post(
        f"{BASE}/openai_api_compatible/credentials", {"credentials": {"api_key": "x"}}, format="json"
    )
    assert response.status_code == 400
    assert "model" in response.json()["message"]


@pytest.mark.parametrize("role", [TenantRole.EDITOR, TenantRole.NORMAL, TenantRole.DATASET_OPERATOR])
def test_only_owners_and_admins_change_credentials_but_everyone_reads(
    member_client: Callable[[str], APIClient], tenant: Tenant, fake_llm: FakeLLMServer, role: str
) -> None:
    saved = given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    client = member_client(role)
    attempts = [
        client.post(
            f"{BASE}/openai/credentials", {"credentials": given.openai_values(fake_llm)}, format="json"
        ),
        client.put(
            f"{BASE}/openai/credentials",
            {"credential_id": str(saved.id), "credentials": given.openai_values(fake_llm)},
            format="json",
        ),
        client.delete(f"{BASE}/openai/credentials", {"credential_id": str(saved.id)}, format="json"),
        client.post(f"{BASE}/openai/credentials/switch", {"credential_id": str(saved.id)}, format="json"),
        client.post(f"{BASE}/openai/credentials/validate", {"credentials": {}}, format="json"),
    ]
    assert [r.status_code for r in attempts] == [403] * 5
    assert _credentials(tenant) == [saved]
    read = client.get(f"{BASE}/openai/credentials")
    assert read.status_code == 200
    assert read.json()["credentials"]["openai_api_key"] == mask(KEY)


def test_an_admin_may_change_credentials(
    admin_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    response = admin_client.post(
        f"{BASE}/openai/credentials", {"credentials": given.openai_values(fake_llm)}, format="json"
    )
    assert response.status_code == 201


def test_another_workspaces_credentials_are_never_visible_nor_usable(
    owner_client: APIClient,
    other_client: APIClient,
    other_tenant: Tenant,
    tenant: Tenant,
    fake_llm: FakeLLMServer,
) -> None:
    # given a credential of another workspace
    theirs = given.provider_credential(
        tenant=other_tenant, provider="openai", values=given.openai_values(fake_llm)
    )
    # then this workspace sees openai as not configured and cannot reach their credential by id
    [openai] = [p for p in owner_client.get(BASE).json()["data"] if p["provider"] == "openai"]
    assert openai["custom_configuration"]["status"] == "no-configure"
    assert openai["custom_configuration"]["available_credentials"] == []
    assert owner_client.get(f"{BASE}/openai/credentials").json()["credentials"] is None
    ref = {"credential_id": str(theirs.id)}
    assert owner_client.get(f"{BASE}/openai/credentials", ref).status_code == 404
    assert owner_client.post(f"{BASE}/openai/credentials/switch", ref, format="json").status_code == 404
    assert owner_client.delete(f"{BASE}/openai/credentials", ref, format="json").status_code == 404
    assert (
        owner_client.put(
            f"{BASE}/openai/credentials", {**ref, "credentials": given.openai_values(fake_llm)}, format="json"
        ).status_code
        == 404
    )
    # and theirs is untouched and still theirs
    assert _credentials(other_tenant) == [theirs]
    assert _credentials(tenant) == []
    [their_openai] = [p for p in other_client.get(BASE).json()["data"] if p["provider"] == "openai"]
    assert their_openai["custom_configuration"]["status"] == "active"


def test_the_provider_list_carries_schemas_and_filters_by_model_type(owner_client: APIClient) -> None:
    # when the providers offering rerank models are listed
    data = owner_client.get(BASE, {"model_type": "rerank"}).json()["data"]
    # then only those come, each with its schema and configuration
    assert data and all("rerank" in p["supported_model_types"] for p in data)
    assert "openai" not in [p["provider"] for p in data]
    every = owner_client.get(BASE).json()["data"]
    [openai] = [p for p in every if p["provider"] == "openai"]
    forms = openai["provider_credential_schema"]["credential_form_schemas"]
    assert [f["variable"] for f in forms][:1] == ["openai_api_key"]
    assert forms[0]["type"] == "secret-input"
    assert openai["configurate_methods"] == ["predefined-model", "customizable-model"]
    assert openai["preferred_provider_type"] == "custom"
    assert openai["system_configuration"] == {
        "enabled": False,
        "current_quota_type": None,
        "quota_configurations": [],
    }
    assert "models" not in openai
    assert owner_client.get(BASE, {"model_type": "nonsense"}).status_code == 400
