"""The web-app API (/api/...) on Dify's shapes, against the live server and the loopback model."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import jwt
import pytest
from django.conf import settings

from apps.models import EndUser, MessageFeedback, PinnedConversation, SavedMessage
from apps.services.web_app import web_access_set
from tests import factories
from tests.service_api.configs import CHAT_CONFIG
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def sse_events(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def stream(client: httpx.Client, path: str, body: dict) -> list[dict]:
    with client.stream("POST", path, json={**body, "response_mode": "streaming"}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse_events(response)


def chat(client: httpx.Client, query: str, conversation_id: str = "", **extra: object) -> dict:
    response = client.post(
        "/chat-messages",
        json={
            "query": query,
            "inputs": {"company": "Acme"},
            "conversation_id": conversation_id,
            "response_mode": "blocking",
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


# Passport -------------------------------------------------------------------------------------------


def test_passport_needs_the_app_code_header(published):
    site = published("chat")
    response = httpx.get(f"{site.base_url}/api/passport")
    assert response.status_code == 401
    assert response.json() == {
        "code": "unauthorized",
        "message": "X-App-Code header is missing.",
        "status": 401,
    }


def test_passport_of_an_unknown_or_disabled_site_is_not_found(published):
    site = published("chat")
    assert httpx.get(f"{site.base_url}/api/passport", headers={"X-App-Code": "nope"}).status_code == 404
    site.app.enable_site = False
    site.app.save(update_fields=["enable_site"])
    response = httpx.get(f"{site.base_url}/api/passport", headers={"X-App-Code": site.code})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_passport_is_a_short_lived_jwt_naming_a_new_anonymous_browser_user(published):
    site = published("chat")
    token = site.passport()
    claims = jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"])
    assert claims["sub"] == "Web API Passport"
    assert claims["app_id"] == str(site.app.id) and claims["app_code"] == site.code
    assert claims["exp"] - claims["iat"] == int(settings.ACCESS_TOKEN_EXPIRE.total_seconds())
    end_user = EndUser.objects.get(id=claims["end_user_id"])
    assert (end_user.type, end_user.is_anonymous, end_user.app_id) == ("browser", True, site.app.id)
    # a second passport without the browser's session id is another end user
    other = jwt.decode(site.passport(), settings.SECRET_KEY, algorithms=["HS256"])
    assert other["end_user_id"] != claims["end_user_id"]


def test_a_browser_presenting_its_session_id_gets_its_end_user_back(published):
    site = published("chat")
    first = jwt.decode(site.passport(), settings.SECRET_KEY, algorithms=["HS256"])
    again = jwt.decode(site.passport(user_id=first["session_id"]), settings.SECRET_KEY, algorithms=["HS256"])
    assert again["end_user_id"] == first["end_user_id"]


def test_a_session_id_never_reaches_a_service_api_user(published):
    site = published("chat")
    api_user = EndUser.objects.create(tenant_id=site.app.tenant_id, app=site.app, session_id="alice")
    claims = jwt.decode(site.passport(user_id="alice"), settings.SECRET_KEY, algorithms=["HS256"])
    assert claims["end_user_id"] != str(api_user.id)


def test_a_signed_in_accounts_end_user_is_not_reached_by_its_session_id(published, workspace):
    site = published("chat")
    member = factories.member_factory(tenant=workspace, email="member2@example.com")
    web_access_set(app=site.app, access_mode="private_all")
    login_token = login(site, member.email).json()["data"]["access_token"]
    mine = jwt.decode(
        exchange(site, login_token).json()["access_token"], settings.SECRET_KEY, algorithms=["HS256"]
    )
    web_access_set(app=site.app, access_mode="public")
    guessed = jwt.decode(site.passport(user_id=mine["session_id"]), settings.SECRET_KEY, algorithms=["HS256"])
    assert guessed["end_user_id"] != mine["end_user_id"]


def test_requests_without_a_valid_passport_are_refused(published):
    site = published("chat")
    assert httpx.get(f"{site.base_url}/api/site").json()["code"] == "unauthorized"
    forged = jwt.encode(
        {"sub": "Web API Passport", "exp": 9999999999},
        "a-wrong-key-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    response = httpx.get(f"{site.base_url}/api/site", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid token."


def test_an_expired_passport_is_refused(published, settings):
    site = published("chat")
    settings.ACCESS_TOKEN_EXPIRE = timedelta(seconds=-5)
    token = site.passport()
    response = site.browser(token).get("/site")
    assert response.status_code == 401
    assert response.json()["message"] == "Token has expired."


# Site, parameters, meta ----------------------------------------------------------------------------------


def test_site_answers_dify_app_site_info(published):
    site = published("chat")
    s = site.app.site
    s.copyright, s.privacy_policy, s.custom_disclaimer = "Acme Inc.", "https://example.com/p", "AI may err."
    s.save()
    with site.browser() as browser:
        body = browser.get("/site").json()
    assert set(body) == {
        "app_id", "end_user_id", "enable_site", "site", "model_config", "plan", "can_replace_logo", "custom_config"
    }  # fmt: skip
    assert body["app_id"] == str(site.app.id) and body["enable_site"] is True
    assert body["site"]["title"] == site.app.name
    assert body["site"]["copyright"] == "Acme Inc."
    assert body["site"]["privacy_policy"] == "https://example.com/p"
    assert body["site"]["custom_disclaimer"] == "AI may err."
    assert body["site"]["show_workflow_steps"] is True
    assert body["model_config"] is None  # prompt_public is off


def test_parameters_and_meta(published):
    site = published("chat")
    with site.browser() as browser:
        parameters = browser.get("/parameters").json()
        meta = browser.get("/meta").json()
    assert parameters["opening_statement"] == "Welcome to {{company}}!"
    assert parameters["user_input_form"][0]["text-input"]["variable"] == "company"
    assert meta == {"tool_icons": {}}


def test_a_passport_of_one_site_does_not_open_another(published):
    one, other = published("chat"), published("chat")
    token = one.passport()
    response = httpx.get(
        f"{one.base_url}/api/site", headers={"Authorization": f"Bearer {token}", "X-App-Code": other.code}
    )
    assert response.status_code == 401


# Chat -------------------------------------------------------------------------------------------------------


def test_chat_streams_dify_events_and_records_a_web_app_conversation(published, fake_llm):
    site = published("chat")
    fake_llm.push(Reply(text="Hello there friend", chunks=3))
    with site.browser() as browser:
        events = stream(browser, "/chat-messages", {"query": "hi", "inputs": {"company": "Acme"}})
        chunks = [e["answer"] for e in events if e["event"] == "message"]
        assert "".join(chunks) == "Hello there friend" and len(chunks) == 3
        end = next(e for e in events if e["event"] == "message_end")
        conversation_id = end["conversation_id"]
        listed = browser.get("/conversations").json()
        assert listed["has_more"] is False and [c["id"] for c in listed["data"]] == [conversation_id]
        assert set(listed["data"][0]) == {
            "id",
            "name",
            "inputs",
            "status",
            "introduction",
            "created_at",
            "updated_at",
        }
        history = browser.get("/messages", params={"conversation_id": conversation_id}).json()
    assert [(m["query"], m["answer"]) for m in history["data"]] == [("hi", "Hello there friend")]
    from apps.models import Conversation

    assert Conversation.objects.get(id=conversation_id).invoke_from == "web-app"


def test_blocking_chat_continues_a_conversation(published):
    site = published("chat")
    with site.browser() as browser:
        first = chat(browser, "one")
        second = chat(browser, "two", first["conversation_id"])
        assert second["conversation_id"] == first["conversation_id"]
        assert second["answer"] == "You said: two"  # the loopback model echoes
        history = browser.get("/messages", params={"conversation_id": first["conversation_id"]}).json()
    assert [m["query"] for m in history["data"]] == ["one", "two"]


def test_feedback_rename_pin_unpin_and_delete(published):
    site = published("chat")
    with site.browser() as browser:
        first, second = chat(browser, "first"), chat(browser, "second")
        feedback = browser.post(f"/messages/{first['message_id']}/feedbacks", json={"rating": "like"})
        assert feedback.json() == {"result": "success"}
        assert MessageFeedback.objects.get(message_id=first["message_id"]).rating == "like"

        renamed = browser.post(f"/conversations/{first['conversation_id']}/name", json={"name": "Trip plans"})
        assert renamed.json()["name"] == "Trip plans"

        assert browser.patch(f"/conversations/{first['conversation_id']}/pin").json() == {"result": "success"}
        browser.patch(f"/conversations/{first['conversation_id']}/pin")  # twice is harmless
        pinned = browser.get("/conversations", params={"pinned": "true"}).json()["data"]
        unpinned = browser.get("/conversations", params={"pinned": "false"}).json()["data"]
        assert [c["id"] for c in pinned] == [first["conversation_id"]]
        assert [c["id"] for c in unpinned] == [second["conversation_id"]]
        browser.patch(f"/conversations/{first['conversation_id']}/unpin")
        assert browser.get("/conversations", params={"pinned": "true"}).json()["data"] == []

        browser.patch(f"/conversations/{first['conversation_id']}/pin")
        assert browser.delete(f"/conversations/{first['conversation_id']}").status_code == 204
        remaining = browser.get("/conversations").json()["data"]
    assert [c["id"] for c in remaining] == [second["conversation_id"]]
    assert not PinnedConversation.objects.exists()


def test_suggested_questions_answer_the_web_shape(published, fake_llm):
    config = {**CHAT_CONFIG, "suggested_questions_after_answer": {"enabled": True}}
    site = published("chat", config=config)
    with site.browser() as browser:
        # no title generation: with Celery it runs after the answer and would take the scripted reply
        answer = chat(browser, "hi", auto_generate_name=False)
        fake_llm.push(Reply(text='["What next?", "Why?", "How?"]'))
        response = browser.get(f"/messages/{answer['message_id']}/suggested-questions")
    assert response.status_code == 200, response.text
    assert response.json() == {"data": ["What next?", "Why?", "How?"]}


def test_stop_answers_success(published):
    site = published("chat")
    with site.browser() as browser:
        response = browser.post("/chat-messages/some-task/stop")
    assert response.json() == {"result": "success"}


def test_mode_gates_answer_dify_errors(published):
    site = published("workflow")
    with site.browser() as browser:
        conversations = browser.get("/conversations")
        completion = browser.post("/completion-messages", json={"inputs": {}})
    assert conversations.status_code == 400 and conversations.json()["code"] == "not_chat_app"
    assert completion.json()["code"] == "not_completion_app"


# Isolation ------------------------------------------------------------------------------------------------------


def test_anonymous_users_of_one_site_never_see_each_others_conversations(published):
    site = published("chat")
    with site.browser() as alice, site.browser() as bob:
        mine = chat(alice, "alice's secret")
        conversation_id, message_id = mine["conversation_id"], mine["message_id"]
        assert bob.get("/conversations").json()["data"] == []
        history = bob.get("/messages", params={"conversation_id": conversation_id})
        assert history.status_code == 404 and history.json()["code"] == "not_found"
        assert bob.post(f"/messages/{message_id}/feedbacks", json={"rating": "dislike"}).status_code == 404
        assert bob.post(f"/conversations/{conversation_id}/name", json={"name": "x"}).status_code == 404
        assert bob.patch(f"/conversations/{conversation_id}/pin").status_code == 404
        assert bob.delete(f"/conversations/{conversation_id}").status_code == 404
        hijack = bob.post(
            "/chat-messages",
            json={
                "query": "more",
                "inputs": {},
                "conversation_id": conversation_id,
                "response_mode": "blocking",
            },
        )
        assert hijack.status_code == 404
        # alice still has it, untouched
        assert [c["id"] for c in alice.get("/conversations").json()["data"]] == [conversation_id]
        assert not MessageFeedback.objects.exists()


def test_a_site_never_lists_conversations_of_the_service_api_or_another_site(published):
    site, other = published("chat"), published("chat")
    with other.browser() as stranger:
        chat(stranger, "other site")
    api_user = EndUser.objects.create(tenant_id=site.app.tenant_id, app=site.app, session_id="api-user")
    factories.conversation_factory(app=site.app, end_user=api_user, name="service api")
    with site.browser() as browser:
        assert browser.get("/conversations").json()["data"] == []


# Completion and saved messages ------------------------------------------------------------------------------


def test_completion_blocking_and_saved_messages(published, fake_llm):
    site = published("completion")
    with site.browser() as browser, site.browser() as stranger:
        fake_llm.push(Reply(text="A haiku about Acme"))
        done = browser.post(
            "/completion-messages", json={"inputs": {"company": "Acme"}, "response_mode": "blocking"}
        ).json()
        assert done["answer"] == "A haiku about Acme"
        assert browser.post("/saved-messages", json={"message_id": done["message_id"]}).json() == {
            "result": "success"
        }
        assert stranger.post("/saved-messages", json={"message_id": done["message_id"]}).status_code == 404
        saved = browser.get("/saved-messages").json()
        assert saved["has_more"] is False
        assert [(m["id"], m["answer"]) for m in saved["data"]] == [(done["message_id"], "A haiku about Acme")]
        assert set(saved["data"][0]) == {
            "id",
            "inputs",
            "query",
            "answer",
            "message_files",
            "feedback",
            "created_at",
        }
        assert stranger.get("/saved-messages").json()["data"] == []
        assert browser.delete(f"/saved-messages/{done['message_id']}").status_code == 204
        assert browser.get("/saved-messages").json()["data"] == []
    assert not SavedMessage.objects.exists()


def test_completion_streams(published, fake_llm):
    site = published("completion")
    fake_llm.push(Reply(text="one two three", chunks=3))
    with site.browser() as browser:
        events = stream(browser, "/completion-messages", {"inputs": {"company": "Acme"}})
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "one two three"


# Workflow -------------------------------------------------------------------------------------------------------


def test_workflow_runs_blocking_and_streaming(published):
    site = published("workflow")
    with site.browser() as browser:
        blocking = browser.post(
            "/workflows/run", json={"inputs": {"query": "ping"}, "response_mode": "blocking"}
        )
        assert blocking.status_code == 200, blocking.text
        assert blocking.json()["data"]["status"] == "succeeded"
        assert blocking.json()["data"]["outputs"] == {"query": "ping"}
        events = stream(browser, "/workflows/run", {"inputs": {"query": "pong"}})
        stop = browser.post("/workflows/tasks/x/stop")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_finished"
    assert [e["data"]["title"] for e in events if e["event"] == "node_finished"] == ["Start", "End"]
    assert events[-1]["data"]["outputs"] == {"query": "pong"}
    assert stop.json() == {"result": "success"}


# Access modes ---------------------------------------------------------------------------------------------------


def login(site, email: str, password: str = factories.PASSWORD) -> httpx.Response:
    return httpx.post(f"{site.base_url}/api/login", json={"email": email, "password": password})


def exchange(site, login_token: str) -> httpx.Response:
    return httpx.get(
        f"{site.base_url}/api/passport",
        headers={"X-App-Code": site.code, "Authorization": f"Bearer {login_token}"},
    )


def test_access_mode_is_public_by_default_and_told(published):
    site = published("chat")
    response = httpx.get(f"{site.base_url}/api/webapp/access-mode", params={"appCode": site.code})
    assert response.json() == {"accessMode": "public"}


def test_a_members_only_site_takes_a_workspace_members_login(published, workspace):
    site = published("chat")
    public_token = site.passport()
    web_access_set(app=site.app, access_mode="private_all")
    member = factories.member_factory(tenant=workspace, email="member@example.com")
    outsider = factories.account_factory(email="outsider@example.com")

    anonymous = httpx.get(f"{site.base_url}/api/passport", headers={"X-App-Code": site.code})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "web_sso_auth_required"
    # a passport issued while the site was public no longer opens it
    assert site.browser(public_token).get("/site").json()["code"] == "web_sso_auth_required"

    outsider_login = login(site, outsider.email).json()["data"]["access_token"]
    denied = exchange(site, outsider_login)
    assert denied.status_code == 401 and denied.json()["code"] == "web_app_access_denied"

    body = login(site, member.email).json()
    assert body["result"] == "success"
    passport = exchange(site, body["data"]["access_token"])
    assert passport.status_code == 200
    with site.browser(passport.json()["access_token"]) as browser:
        assert chat(browser, "hello")["answer"] == "You said: hello"
        assert len(browser.get("/conversations").json()["data"]) == 1
    # the member, signing in again, finds the same end user and conversation
    again = exchange(site, login(site, member.email).json()["data"]["access_token"]).json()["access_token"]
    with site.browser(again) as browser:
        assert len(browser.get("/conversations").json()["data"]) == 1
    assert login(site, member.email, "wrong-password").status_code == 401


def test_a_listed_emails_site_admits_listed_outsiders_only(published):
    site = published("chat")
    guest = factories.account_factory(email="guest@example.com")
    stranger = factories.account_factory(email="stranger@example.com")
    web_access_set(app=site.app, access_mode="private", emails=["Guest@Example.com"])
    mode = httpx.get(f"{site.base_url}/api/webapp/access-mode", params={"appId": str(site.app.id)})
    assert mode.json() == {"accessMode": "private"}
    assert exchange(site, login(site, guest.email).json()["data"]["access_token"]).status_code == 200
    assert exchange(site, login(site, stranger.email).json()["data"]["access_token"]).status_code == 401
    # un-listing the guest closes the site to a passport already issued
    token = exchange(site, login(site, guest.email).json()["data"]["access_token"]).json()["access_token"]
    web_access_set(app=site.app, access_mode="private", emails=[])
    assert site.browser(token).get("/site").json()["code"] == "web_app_access_denied"


def test_a_login_token_is_not_a_passport(published):
    site = published("chat")
    member = factories.account_factory(email="someone@example.com")
    token = login(site, member.email).json()["data"]["access_token"]
    assert site.browser(token).get("/site").status_code == 401
