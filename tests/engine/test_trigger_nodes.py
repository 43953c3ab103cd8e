"""The webhook and schedule roots' data: request checks, the mapping of a request to variables, cron
expressions from Dify's visual schedules, and the run starting at a chosen root."""

from __future__ import annotations

import pytest

from workflows.engine import GraphError, parse_graph
from workflows.engine.nodes.triggers import WebhookRequestError

from .helpers import edge, end, graph, node, run, template


def hook(**data):
    fields = {
        "method": "POST",
        "content_type": "application/json",
        "headers": [{"name": "X-Request-Id", "required": True}],
        "params": [
            {"name": "units", "type": "string", "required": False},
            {"name": "days", "type": "number"},
        ],
        "body": [{"name": "city", "type": "string", "required": True}, {"name": "alert", "type": "boolean"}],
    }
    fields.update(data)
    return node("hook", "trigger-webhook", **fields)


def webhook_node(**data):
    return parse_graph(graph([hook(**data), end()], [edge("hook", "end")])).nodes["hook"]


def check(node_, **call):
    request = {"method": "POST", "content_type": "application/json", "headers": {"X-Request-Id": "r1"}}
    request.update(query={}, body={"city": "Lyon"})
    request.update(call)
    return node_.prepare_request(**request)


def test_a_request_is_checked_and_typed_as_the_node_declares():
    data = check(webhook_node(), query={"units": "metric", "days": "3"}, body={"city": "Lyon", "alert": True})
    assert data["query_params"] == {"units": "metric", "days": 3}
    assert data["body"] == {"city": "Lyon", "alert": True}
    assert data["method"] == "POST"


@pytest.mark.parametrize(
    ("call", "status", "words"),
    [
        ({"method": "GET"}, 405, "Expected POST, got GET"),
        ({"content_type": "text/plain"}, 415, "Expected application/json, got text/plain"),
        ({"headers": {}}, 400, "Required header missing: X-Request-Id"),
        ({"body": {}}, 400, "Required body parameter missing: city"),
        ({"body": {"city": 7}}, 400, "Expected string, got int"),
        ({"query": {"days": "many"}}, 400, "Cannot convert 'many' to number"),
    ],
)
def test_a_request_that_does_not_fit_is_refused_with_its_status(call, status, words):
    with pytest.raises(WebhookRequestError) as refused:
        check(webhook_node(), **call)
    assert refused.value.status == status
    assert words in str(refused.value)


def test_form_values_arrive_as_text_and_are_converted():
    form = webhook_node(content_type="application/x-www-form-urlencoded")
    data = check(
        form,
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        body={"city": "Nice", "alert": "yes"},
    )
    assert data["body"] == {"city": "Nice", "alert": True}
    with pytest.raises(WebhookRequestError, match="Cannot convert 'maybe' to boolean"):
        check(form, content_type="application/x-www-form-urlencoded", body={"city": "Nice", "alert": "maybe"})


def test_a_header_is_found_whatever_its_case_and_dashes():
    data = check(webhook_node(), headers={"x-request-id": "r9"})
    assert webhook_node().outputs_of(data)["X_Request_Id"] == "r9"


async def test_the_run_maps_webhook_data_to_the_roots_variables():
    config = graph(
        [
            hook(),
            template(
                "t",
                "{{ city }}/{{ units }}/{{ rid }}",
                city=["hook", "city"],
                units=["hook", "units"],
                rid=["hook", "X_Request_Id"],
            ),
            end(text=["t", "output"], raw=["hook", "_webhook_raw"]),
        ],
        [edge("hook", "t"), edge("t", "end")],
    )
    data = check(parse_graph(config).nodes["hook"], query={"units": "metric"})
    outcome = await run(config, inputs={"webhook_data": data}, system={"user_id": "u1"})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["text"] == "Lyon/metric/r1"
    assert outcome.outputs["raw"]["query_params"] == {"units": "metric"}


def test_the_configured_response():
    assert webhook_node().response() == (
        200,
        {"status": "success", "message": "Webhook processed successfully"},
    )
    assert webhook_node(status_code=201, response_body='{"ok": true}').response() == (201, {"ok": True})
    assert webhook_node(response_body="thanks").response() == (200, {"message": "thanks"})


def test_bad_webhook_data_is_refused_when_the_graph_is_parsed():
    with pytest.raises(GraphError, match="content_type"):
        webhook_node(content_type="application/xml")
    with pytest.raises(GraphError, match="unsupported webhook parameter type"):
        webhook_node(body=[{"name": "x", "type": "secret"}])


def schedule(**data):
    return parse_graph(graph([node("s", "trigger-schedule", **data), end()], [edge("s", "end")])).nodes["s"]


@pytest.mark.parametrize(
    ("data", "expression"),
    [
        ({"mode": "cron", "cron_expression": "*/5 * * * *"}, "*/5 * * * *"),
        ({"mode": "visual", "frequency": "hourly", "visual_config": {"on_minute": 15}}, "15 * * * *"),
        ({"mode": "visual", "frequency": "daily", "visual_config": {"time": "2:30 PM"}}, "30 14 * * *"),
        ({"frequency": "daily", "visual_config": {"time": "12:05 AM"}}, "5 0 * * *"),
        (
            {"frequency": "weekly", "visual_config": {"time": "9:00 AM", "weekdays": ["fri", "mon"]}},
            "0 9 * * 1,5",
        ),
        (
            {"frequency": "monthly", "visual_config": {"time": "11:00 PM", "monthly_days": [15, 1, "last"]}},
            "0 23 1,15,L * *",
        ),
    ],
)
def test_a_schedule_becomes_a_cron_expression(data, expression):
    assert schedule(**data).cron_expression() == expression


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"mode": "cron"}, "cron_expression is required"),
        ({"mode": "cron", "cron_expression": "* * *"}, "needs 5 fields"),
        ({"frequency": "daily", "visual_config": {"time": "25:00 PM"}}, "is not a time"),
        ({"frequency": "weekly", "visual_config": {"weekdays": ["someday"]}}, "weekdays"),
        ({"frequency": "yearly"}, "frequency must be one of"),
        ({"timezone": "Mars/Olympus"}, "not a known time zone"),
    ],
)
def test_a_schedule_that_cannot_fire_is_refused(data, words):
    with pytest.raises(GraphError, match=words):
        schedule(**data)


async def test_a_run_starts_at_the_chosen_root():
    config = graph(
        [
            hook(),
            node("s", "trigger-schedule", mode="cron", cron_expression="0 9 * * *"),
            template("a", "from hook"),
            template("b", "from schedule"),
            end(a=["a", "output"], b=["b", "output"]),
        ],
        [edge("hook", "a"), edge("s", "b"), edge("a", "end"), edge("b", "end")],
    )
    assert parse_graph(config).root_id == "hook"
    chosen = parse_graph(config, root_id="s")
    assert chosen.root_id == "s"
    outcome = await run(chosen)
    assert outcome.status == "succeeded", outcome.error
    ran = {getattr(e, "node_id", None) for e in outcome.events}
    assert "b" in ran and "a" not in ran and "hook" not in ran
    with pytest.raises(GraphError, match="'a' is not a start or trigger node"):
        parse_graph(config, root_id="a")
