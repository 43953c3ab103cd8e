"""Credentials at rest (ciphertext only, key rotation), the admin (masked, read-only meter), and the
Service API route listing models for dataset keys."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Tenant
from apps.services.api_keys import api_key_create
from dify_project.crypto import generate_key, mask
from providers.models import ModelUsage, ProviderCredential
from tests import factories
from tests.providers_django import given
from tests.support.fake_llm import FakeLLMServer

KEY = given.OPENAI_KEY


def _raw_config(credential: ProviderCredential) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT encrypted_config FROM {ProviderCredential._meta.db_table} WHERE id = %s",
            [credential.id.hex if connection.vendor == "sqlite" else credential.id],
        )
        return cursor.fetchone()[0]


def test_the_database_column_never_holds_the_key(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given a credential added through the console
    response = owner_client.post(
        "/console/api/workspaces/current/model-providers/openai/credentials",
        {"credentials": given.openai_values(fake_llm)},
        format="json",
    )
    assert response.status_code == 201
    credential = ProviderCredential.objects.for_tenant(tenant).get()
    # then the stored column is ciphertext, and the key appears nowhere in it
    raw = _raw_config(credential)
    assert raw.startswith("enc:v1:")
    assert KEY not in raw and "openai_api_key" not in raw
    assert credential.config["openai_api_key"] == KEY


def test_rotating_the_encryption_key_keeps_credentials_readable(
    tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given a credential encrypted with the current key
    old_key, new_key = generate_key(), generate_key()
    with override_settings(SECRETS_ENCRYPTION_KEYS=[old_key]):
        credential = given.provider_credential(
            tenant=tenant, provider="openai", values=given.openai_values(fake_llm)
        )
        before = _raw_config(credential)
    # when a new key is put first and the secrets are rotated
    with override_settings(SECRETS_ENCRYPTION_KEYS=[new_key, old_key]):
        call_command("rotate_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
        after = _raw_config(credential)
    # then the ciphertext changed, and the new key alone decrypts it
    assert after != before and after.startswith("enc:v1:")
    with override_settings(SECRETS_ENCRYPTION_KEYS=[new_key]):
        assert ProviderCredential.objects.get(id=credential.id).config["openai_api_key"] == KEY


@pytest.fixture
def staff_client(tenant: Tenant, client_for) -> APIClient:  # type: ignore[no-untyped-def]
    account = factories.account_factory(email="root@example.com")
    account.is_staff = account.is_superuser = True
    account.save()
    client = APIClient()
    client.force_login(account)
    return client


def test_the_admin_shows_credentials_masked_and_the_meter_read_only(
    staff_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    credential = given.provider_credential(
        tenant=tenant, provider="openai", values=given.openai_values(fake_llm)
    )
    usage = ModelUsage.objects.create(
        tenant=tenant, provider="openai", model_name="gpt-4o-mini", model_type="llm", prompt_tokens=3
    )
    page = staff_client.get(f"/admin/providers/providercredential/{credential.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert mask(KEY) in html
    assert KEY not in html
    listing = staff_client.get("/admin/providers/modelusage/", {"provider": "openai"})
    assert listing.status_code == 200
    assert "gpt-4o-mini" in listing.content.decode()
    assert staff_client.get("/admin/providers/modelusage/add/").status_code == 403
    change = staff_client.post(f"/admin/providers/modelusage/{usage.id}/change/", {"prompt_tokens": 99})
    assert change.status_code == 403
    usage.refresh_from_db()
    assert usage.prompt_tokens == 3


@pytest.mark.parametrize(
    "model",
    [
        "providercredential",
        "provider",
        "providermodelcredential",
        "providermodel",
        "tenantdefaultmodel",
        "providermodelsetting",
        "loadbalancingmodelconfig",
        "modelprice",
        "modelusage",
    ],
)
def test_every_admin_list_renders(
    staff_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer, model: str
) -> None:
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    given.custom_model(
        tenant=tenant,
        provider="openai_api_compatible",
        model="echo",
        values=given.compatible_values(fake_llm),
    )
    response = staff_client.get(f"/admin/providers/{model}/")
    assert response.status_code == 200
    assert KEY not in response.content.decode()
    assert given.COMPATIBLE_KEY not in response.content.decode()


SERVICE = "/v1/workspaces/current/models/model-types"


def test_the_service_api_lists_models_for_a_dataset_key(
    tenant: Tenant, other_tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given a workspace with an embedding model, and a dataset key of it
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    given.custom_model(
        tenant=other_tenant,
        provider="openai_api_compatible",
        model="theirs",
        model_type="text-embedding",
        values=given.compatible_values(fake_llm),
    )
    _, plain = api_key_create(tenant=tenant, type="dataset")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    # when the models of a type are listed
    response = client.get(f"{SERVICE}/text-embedding")
    # then the workspace's own (and only those) come back grouped by provider
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    groups = {group["provider"]: group for group in data}
    groups.pop("local", None)  # the optional offline model, when its extra is installed
    assert list(groups) == ["openai"]
    assert "text-embedding-3-small" in [m["model"] for m in groups["openai"]["models"]]
    assert groups["openai"]["tenant_id"] == str(tenant.id)
    assert client.get(f"{SERVICE}/pictures").status_code == 400


def test_the_service_api_refuses_other_keys(tenant: Tenant) -> None:
    app = factories.app_factory(tenant=tenant)
    app_key = factories.api_key_factory(app=app)
    anonymous = APIClient()
    with_app_key = APIClient()
    with_app_key.credentials(HTTP_AUTHORIZATION=f"Bearer {app_key}")
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Bearer dataset-forged0000000000000000")
    for client in (anonymous, with_app_key, forged):
        response = client.get(f"{SERVICE}/llm")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
