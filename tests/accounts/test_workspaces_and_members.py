"""Workspaces, members, roles and tenant isolation on the console API."""

from __future__ import annotations

import re

import pytest

from accounts.models import Account, AccountStatus, Invitation, TenantAccountJoin, TenantRole
from tests import factories

pytestmark = pytest.mark.django_db


def test_workspace_list_and_current(owner_client, tenant):
    listed = owner_client.get("/console/api/workspaces").json()["workspaces"]
    assert [(w["id"], w["current"]) for w in listed] == [(str(tenant.id), True)]
    current = owner_client.get("/console/api/workspaces/current").json()
    assert current["id"] == str(tenant.id) and current["role"] == "owner"
    assert owner_client.post("/console/api/workspaces/current").json()["name"] == "Acme"


def test_switch_workspace(owner, owner_client, tenant):
    other = factories.tenant_factory(name="Second")
    factories.membership_factory(account=owner, tenant=other, role=TenantRole.EDITOR, current=False)
    response = owner_client.post(
        "/console/api/workspaces/switch", {"tenant_id": str(other.id)}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["new_tenant"]["id"] == str(other.id)
    assert owner_client.get("/console/api/workspaces/current").json()["role"] == "editor"
    assert TenantAccountJoin.objects.filter(account=owner, current=True).count() == 1


def test_switch_to_a_workspace_of_someone_else_is_404(owner_client):
    stranger_tenant = factories.tenant_factory(name="Not yours")
    factories.member_factory(tenant=stranger_tenant, role=TenantRole.OWNER)
    response = owner_client.post(
        "/console/api/workspaces/switch", {"tenant_id": str(stranger_tenant.id)}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "workspace_not_found"


def test_switch_with_a_malformed_id_is_400(owner_client):
    response = owner_client.post("/console/api/workspaces/switch", {"tenant_id": "nope"}, format="json")
    assert response.status_code == 400 and response.json()["params"] == "tenant_id"


def test_members_list_shows_only_this_workspace(owner_client, tenant):
    editor = factories.member_factory(tenant=tenant, role=TenantRole.EDITOR)
    elsewhere = factories.tenant_factory()
    stranger = factories.member_factory(tenant=elsewhere, role=TenantRole.OWNER)
    accounts = owner_client.get("/console/api/workspaces/current/members").json()["accounts"]
    ids = {a["id"] for a in accounts}
    assert str(editor.id) in ids and str(stranger.id) not in ids
    assert {a["role"] for a in accounts} == {"owner", "editor"}


def test_owner_invites_and_the_invitee_activates_and_logs_in(owner_client, api_client, tenant):
    response = owner_client.post(
        "/console/api/workspaces/current/members/invite-email",
        {"emails": ["New@Example.com"], "role": "editor"},
        format="json",
    )
    assert response.status_code == 201
    result = response.json()["invitation_results"][0]
    assert result["status"] == "success" and result["email"] == "new@example.com"
    token = re.search(r"token=([^&]+)", result["url"]).group(1)
    invitee = Account.objects.get(email="new@example.com")
    assert invitee.status == AccountStatus.PENDING and not invitee.has_usable_password()
    # the invitation token is stored hashed
    assert not Invitation.objects.filter(token_hash=token).exists()

    check = api_client.get("/console/api/activate/check", {"email": "new@example.com", "token": token})
    assert check.json()["is_valid"] is True and check.json()["data"]["workspace_name"] == "Acme"
    activated = api_client.post(
        "/console/api/activate",
        {
            "email": "new@example.com",
            "token": token,
            "name": "Newbie",
            "password": "Newbie-pass-1",
            "interface_language": "en-US",
            "timezone": "UTC",
        },
        format="json",
    )
    assert activated.status_code == 200
    assert activated.json()["data"]["access_token"]
    # the token is single-use
    again = api_client.get("/console/api/activate/check", {"email": "new@example.com", "token": token})
    assert again.json()["is_valid"] is False
    login = api_client.post(
        "/console/api/login", {"email": "new@example.com", "password": "Newbie-pass-1"}, format="json"
    )
    assert login.status_code == 200
    assert TenantAccountJoin.objects.get(account=invitee, tenant=tenant).role == "editor"


def test_inviting_an_existing_member_fails_for_that_email_only(owner_client, tenant):
    member = factories.member_factory(tenant=tenant, role=TenantRole.NORMAL)
    response = owner_client.post(
        "/console/api/workspaces/current/members/invite-email",
        {"emails": [member.email, "fresh@example.com"], "role": "normal"},
        format="json",
    )
    statuses = {r["email"]: r["status"] for r in response.json()["invitation_results"]}
    assert statuses == {member.email: "failed", "fresh@example.com": "success"}


@pytest.mark.parametrize("role", ["owner", "superuser", ""])
def test_invite_with_an_invalid_role_is_400(owner_client, role):
    response = owner_client.post(
        "/console/api/workspaces/current/members/invite-email",
        {"emails": ["x@example.com"], "role": role},
        format="json",
    )
    assert response.status_code == 400 and response.json()["params"] == "role"
    assert not Account.objects.filter(email="x@example.com").exists()


@pytest.mark.parametrize("role", [TenantRole.EDITOR, TenantRole.NORMAL, TenantRole.DATASET_OPERATOR])
def test_non_admins_cannot_invite_change_roles_or_remove(tenant, client_for, role):
    actor = factories.member_factory(tenant=tenant, role=role)
    target = factories.member_factory(tenant=tenant, role=TenantRole.NORMAL)
    client = client_for(actor)
    invite = client.post(
        "/console/api/workspaces/current/members/invite-email",
        {"emails": ["x@example.com"], "role": "normal"},
        format="json",
    )
    change = client.put(
        f"/console/api/workspaces/current/members/{target.id}/update-role", {"role": "admin"}, format="json"
    )
    remove = client.delete(f"/console/api/workspaces/current/members/{target.id}")
    assert (invite.status_code, change.status_code, remove.status_code) == (403, 403, 403)
    assert invite.json()["code"] == "forbidden"
    assert TenantAccountJoin.objects.get(account=target).role == TenantRole.NORMAL
    # everyone may read the member list
    assert client.get("/console/api/workspaces/current/members").status_code == 200


def test_admin_changes_a_role_but_cannot_touch_the_owner(tenant, owner, client_for):
    admin = factories.member_factory(tenant=tenant, role=TenantRole.ADMIN)
    member = factories.member_factory(tenant=tenant, role=TenantRole.NORMAL)
    client = client_for(admin)
    ok = client.put(
        f"/console/api/workspaces/current/members/{member.id}/update-role", {"role": "editor"}, format="json"
    )
    assert ok.status_code == 200
    assert TenantAccountJoin.objects.get(account=member).role == "editor"
    demote_owner = client.put(
        f"/console/api/workspaces/current/members/{owner.id}/update-role", {"role": "normal"}, format="json"
    )
    assert demote_owner.status_code == 403
    remove_owner = client.delete(f"/console/api/workspaces/current/members/{owner.id}")
    assert remove_owner.status_code == 403
    make_owner = client.put(
        f"/console/api/workspaces/current/members/{member.id}/update-role", {"role": "owner"}, format="json"
    )
    assert make_owner.status_code == 403
    assert TenantAccountJoin.objects.get(account=owner).role == "owner"


def test_owner_transfers_ownership(tenant, owner, owner_client):
    admin = factories.member_factory(tenant=tenant, role=TenantRole.ADMIN)
    response = owner_client.put(
        f"/console/api/workspaces/current/members/{admin.id}/update-role", {"role": "owner"}, format="json"
    )
    assert response.status_code == 200
    roles = dict(TenantAccountJoin.objects.filter(tenant=tenant).values_list("account_id", "role"))
    assert roles == {admin.id: "owner", owner.id: "admin"}


def test_cannot_operate_on_self(owner, owner_client):
    response = owner_client.delete(f"/console/api/workspaces/current/members/{owner.id}")
    assert response.status_code == 400 and response.json()["code"] == "cannot_operate_self"


def test_owner_removes_a_member(tenant, owner_client):
    member = factories.member_factory(tenant=tenant, role=TenantRole.EDITOR)
    response = owner_client.delete(f"/console/api/workspaces/current/members/{member.id}")
    assert response.status_code == 200
    assert not TenantAccountJoin.objects.filter(account=member, tenant=tenant).exists()
    assert Account.objects.filter(id=member.id).exists()  # the account itself is kept


def test_members_of_another_workspace_are_not_found(owner_client):
    elsewhere = factories.tenant_factory()
    stranger = factories.member_factory(tenant=elsewhere, role=TenantRole.NORMAL)
    change = owner_client.put(
        f"/console/api/workspaces/current/members/{stranger.id}/update-role", {"role": "admin"}, format="json"
    )
    remove = owner_client.delete(f"/console/api/workspaces/current/members/{stranger.id}")
    assert change.status_code == 404 and remove.status_code == 404
    assert change.json()["code"] == "member_not_in_tenant"
    assert TenantAccountJoin.objects.get(account=stranger).role == "normal"


def test_rename_workspace_needs_admin(tenant, owner_client, client_for):
    editor = factories.member_factory(tenant=tenant, role=TenantRole.EDITOR)
    assert (
        client_for(editor).post("/console/api/workspaces/info", {"name": "X"}, format="json").status_code
        == 403
    )
    response = owner_client.post("/console/api/workspaces/info", {"name": "Renamed"}, format="json")
    assert response.json()["tenant"]["name"] == "Renamed"
    too_long = owner_client.post("/console/api/workspaces/info", {"name": "x" * 256}, format="json")
    assert too_long.status_code == 400


def test_account_without_workspace_is_refused(client_for, db):
    factories.setup_done()
    lonely = factories.account_factory()
    response = client_for(lonely).get("/console/api/workspaces/current/members")
    assert response.status_code == 403
    assert response.json()["code"] == "workspace_not_found"


def test_profile_update_validates(owner_client):
    assert owner_client.post("/console/api/account/name", {"name": "ab"}, format="json").status_code == 400
    assert (
        owner_client.post(
            "/console/api/account/interface-theme", {"interface_theme": "neon"}, format="json"
        ).status_code
        == 400
    )
    response = owner_client.post("/console/api/account/timezone", {"timezone": "Europe/Paris"}, format="json")
    assert response.json()["timezone"] == "Europe/Paris"
