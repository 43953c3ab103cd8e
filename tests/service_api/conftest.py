from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Tenant
from tests import factories


@pytest.fixture
def chat_app(tenant: Tenant, owner):
    return factories.app_factory(tenant=tenant, mode="chat", name="Chatty")


@pytest.fixture
def workflow_app(tenant: Tenant, owner):
    return factories.app_factory(tenant=tenant, mode="workflow", name="Flow")


@pytest.fixture
def app_client():
    """An API client for a given app, authenticated with a fresh app key."""

    def make(app) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key_factory(app=app)}")
        return client

    return make
