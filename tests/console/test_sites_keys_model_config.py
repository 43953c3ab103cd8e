"""Site settings, API keys and the model configuration of chat/completion/agent apps."""

from __future__ import annotations

import pytest

from accounts.models import TenantRole
from apps.models import ApiToken, AppModelConfig, Site
from apps.services.api_keys import api_key_resolve


def test_site_settings_update_and_code_reset(make_app, owner_client, editor_client):
    app = make_app("chat")
    site = Site.objects.get(app=app)
    # when an editor changes site settings
    response = editor_client.post(
        f"/console/api/apps/{app.id}/site",
        {
            "title": "Help desk",
            "description": "Ask us",
            "default_language": "fr-FR",
            "show_workflow_steps": False,
            "custom_disclaimer": "AI answers",
            "customize_token_strategy": "allow",
        },
        format="json",
    )
    # then they are stored and returned in Dify's app_site_fields shape
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["default_language"], body["app_id"]) == ("Help desk", "fr-FR", str(app.id))
    assert body["access_token"] == body["code"] == site.code
    site.refresh_from_db()
    assert (site.title, site.show_workflow_steps, site.customize_token_strategy) == (
        "Help desk",
        False,
        "allow",
    )
    # bad values are named and change nothing
    bad = editor_client.post(
        f"/console/api/apps/{app.id}/site", {"custom_disclaimer": "x" * 600}, format="json"
    )
    assert bad.status_code == 400 and "custom_disclaimer" in bad.json()["message"]
    # resetting the access code is for admins; it changes the public code
    assert editor_client.post(f"/console/api/apps/{app.id}/site/access-token-reset").status_code == 403
    reset = owner_client.post(f"/console/api/apps/{app.id}/site/access-token-reset")
    assert reset.status_code == 200 and reset.json()["code"] != site.code
    site.refresh_from_db()
    assert site.code == reset.json()["code"] and len(site.code) == 16


def test_api_keys_secret_shown_once_then_prefixes(make_app, owner_client, tenant):
    app = make_app("chat")
    # when an owner creates a key
    created = owner_client.post(f"/console/api/apps/{app.id}/api-keys")
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("app-") and len(secret) > 20
    # then it works for the Service API, and the list shows only its prefix
    assert api_key_resolve(plain=secret, scope="app").app_id == str(app.id)
    listed = owner_client.get(f"/console/api/apps/{app.id}/api-keys").json()["data"]
    assert len(listed) == 1 and secret not in str(listed)
    assert listed[0]["token"].startswith(secret[:10])
    # when it is deleted, it stops working
    assert owner_client.delete(f"/console/api/apps/{app.id}/api-keys/{listed[0]['id']}").status_code == 204
    assert not ApiToken.objects.filter(app=app).exists()
    with pytest.raises(Exception, match="invalid"):
        api_key_resolve(plain=secret, scope="app")


def test_api_keys_need_admin_to_manage(make_app, member_client, owner_client):
    app = make_app("chat")
    editor, normal = member_client(TenantRole.EDITOR), member_client(TenantRole.NORMAL)
    assert editor.post(f"/console/api/apps/{app.id}/api-keys").status_code == 403
    assert normal.get(f"/console/api/apps/{app.id}/api-keys").status_code == 403
    key_id = owner_client.post(f"/console/api/apps/{app.id}/api-keys").json()["id"]
    assert editor.get(f"/console/api/apps/{app.id}/api-keys").status_code == 200
    assert editor.delete(f"/console/api/apps/{app.id}/api-keys/{key_id}").status_code == 403
    assert ApiToken.objects.filter(id=key_id).exists()
    missing = owner_client.delete(f"/console/api/apps/{app.id}/api-keys/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404


def _config(**overrides):
    config = {
        "model": {
            "provider": "openai",
            "name": "gpt-4o-mini",
            "mode": "chat",
            "completion_params": {"temperature": 0.3},
        },
        "pre_prompt": "You answer about {{topic}}.",
        "prompt_type": "simple",
        "user_input_form": [
            {"text-input": {"label": "Topic", "variable": "topic", "required": True, "max_length": 48}}
        ],
        "opening_statement": "Hi!",
        "suggested_questions": ["What is new?"],
        "suggested_questions_after_answer": {"enabled": True},
        "speech_to_text": {"enabled": False},
        "text_to_speech": {"enabled": False, "voice": "", "language": ""},
        "retriever_resource": {"enabled": True},
        "sensitive_word_avoidance": {"enabled": False},
        "more_like_this": {"enabled": False},
        "agent_mode": {"enabled": False, "tools": []},
        "dataset_configs": {"retrieval_model": "multiple", "datasets": {"datasets": []}},
        "file_upload": {"image": {"enabled": False, "number_limits": 3}},
    }
    config.update(overrides)
    return config


def test_model_config_save_writes_a_new_row_and_points_the_app_at_it(make_app, editor_client):
    app = make_app("chat")
    first = app.app_model_config_id
    # when an editor saves a configuration
    response = editor_client.post(f"/console/api/apps/{app.id}/model-config", _config(), format="json")
    # then a new row holds it and the app serves it; the old row is untouched
    assert response.status_code == 200 and response.json() == {"result": "success"}
    app.refresh_from_db()
    assert app.app_model_config_id != first
    assert AppModelConfig.objects.filter(id=first).exists()
    config = app.app_model_config.config
    assert config["pre_prompt"] == "You answer about {{topic}}."
    assert config["user_input_form"][0]["text-input"]["variable"] == "topic"
    detail = editor_client.get(f"/console/api/apps/{app.id}").json()["model_config"]
    assert detail["opening_statement"] == "Hi!" and detail["suggested_questions"] == ["What is new?"]
    assert detail["model"]["completion_params"] == {"temperature": 0.3}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"model": {"provider": "openai"}}, "model.name"),
        ({"model": "gpt"}, "model"),
        ({"user_input_form": [{"slider": {"variable": "x", "label": "X"}}]}, "slider"),
        ({"user_input_form": [{"text-input": {"variable": "1bad", "label": "X"}}]}, "variable"),
        (
            {
                "user_input_form": [
                    {"text-input": {"variable": "a", "label": "A"}},
                    {"paragraph": {"variable": "a", "label": "B"}},
                ]
            },
            "used twice",
        ),
        ({"user_input_form": [{"select": {"variable": "s", "label": "S", "options": "abc"}}]}, "options"),
        ({"suggested_questions": "one"}, "suggested_questions"),
        ({"speech_to_text": {"enabled": "yes"}}, "speech_to_text.enabled"),
        ({"prompt_type": "fancy"}, "prompt_type"),
        ({"agent_mode": {"enabled": True, "strategy": "magic"}}, "agent_mode.strategy"),
        ({"dataset_configs": {"retrieval_model": "many"}}, "retrieval_model"),
        (
            {"dataset_configs": {"datasets": {"datasets": [{"dataset": {"enabled": True, "id": "x"}}]}}},
            "dataset.id",
        ),
        (
            {
                "model": {
                    "provider": "openai",
                    "name": "gpt-4o-mini",
                    "completion_params": {"stop": ["a", "b", "c", "d", "e"]},
                }
            },
            "stop",
        ),
    ],
)
def test_model_config_refuses_bad_shapes_naming_the_key(make_app, owner_client, overrides, named):
    app = make_app("chat")
    before = app.app_model_config_id
    response = owner_client.post(
        f"/console/api/apps/{app.id}/model-config", _config(**overrides), format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid_param"
    assert named in response.json()["message"]
    app.refresh_from_db()
    assert app.app_model_config_id == before


def test_model_parameters_are_checked_against_the_catalogue_rules(make_app, owner_client):
    app = make_app("chat")
    # temperature above the model's maximum is refused, naming the parameter
    too_hot = _config(
        model={"provider": "openai", "name": "gpt-4o-mini", "completion_params": {"temperature": 9}}
    )
    response = owner_client.post(f"/console/api/apps/{app.id}/model-config", too_hot, format="json")
    assert response.status_code == 400 and "temperature" in response.json()["message"]
    # an unambiguous string is coerced to the rule's type
    ok = _config(
        model={
            "provider": "langgenius/openai/openai",
            "name": "gpt-4o-mini",
            "completion_params": {"temperature": "0.5"},
        }
    )
    assert owner_client.post(f"/console/api/apps/{app.id}/model-config", ok, format="json").status_code == 200
    app.refresh_from_db()
    assert app.app_model_config.config["model"]["completion_params"]["temperature"] == 0.5
    # a provider the catalogue does not list is checked for shape only
    custom = _config(
        model={"provider": "acme/llm/acme", "name": "acme-1", "completion_params": {"temperature": 9}}
    )
    assert (
        owner_client.post(f"/console/api/apps/{app.id}/model-config", custom, format="json").status_code
        == 200
    )


def test_model_config_is_for_its_modes_and_editors(make_app, normal_client, owner_client):
    workflow_app = make_app("workflow")
    response = owner_client.post(
        f"/console/api/apps/{workflow_app.id}/model-config", _config(), format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "app_unavailable"
    chat_app = make_app("chat")
    assert (
        normal_client.post(
            f"/console/api/apps/{chat_app.id}/model-config", _config(), format="json"
        ).status_code
        == 403
    )
    completion = make_app("completion")
    with_datasets = _config(
        dataset_configs={
            "datasets": {
                "datasets": [{"dataset": {"enabled": True, "id": "6c1f4a44-9f4f-4bd4-a3ad-9c4c3f1bde06"}}]
            }
        },
        dataset_query_variable="",
    )
    refused = owner_client.post(
        f"/console/api/apps/{completion.id}/model-config", with_datasets, format="json"
    )
    assert refused.status_code == 400 and "dataset_query_variable" in refused.json()["message"]
