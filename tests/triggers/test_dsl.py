"""A Dify export whose workflow starts from a webhook trigger, imported, published and called end to end."""

from __future__ import annotations

import httpx

from workflows.dsl import CURRENT_DSL_VERSION
from workflows.models import WorkflowRun

# The shape Dify 1.10 exports (webhook_url blanked, the raw-request variable, positions, if-else branches).
DSL = f"""
app:
  description: Turns a ticket webhook into a triage note
  icon: 🎫
  icon_background: '#FFEAD5'
  mode: workflow
  name: Ticket triage
  use_icon_as_answer_icon: false
dependencies: []
kind: app
version: {CURRENT_DSL_VERSION}
workflow:
  conversation_variables: []
  environment_variables: []
  features: {{}}
  graph:
    edges:
    - data: {{isInIteration: false, sourceType: trigger-webhook, targetType: if-else}}
      id: 1760000000001-source-1760000000002-target
      source: '1760000000001'
      sourceHandle: source
      target: '1760000000002'
      targetHandle: target
      type: custom
    - data: {{isInIteration: false, sourceType: if-else, targetType: template-transform}}
      id: 1760000000002-true-1760000000003-target
      source: '1760000000002'
      sourceHandle: 'true'
      target: '1760000000003'
      targetHandle: target
      type: custom
    - data: {{isInIteration: false, sourceType: if-else, targetType: template-transform}}
      id: 1760000000002-false-1760000000004-target
      source: '1760000000002'
      sourceHandle: 'false'
      target: '1760000000004'
      targetHandle: target
      type: custom
    - data: {{isInIteration: false, sourceType: template-transform, targetType: end}}
      id: 1760000000003-source-1760000000005-target
      source: '1760000000003'
      sourceHandle: source
      target: '1760000000005'
      targetHandle: target
      type: custom
    - data: {{isInIteration: false, sourceType: template-transform, targetType: end}}
      id: 1760000000004-source-1760000000005-target
      source: '1760000000004'
      sourceHandle: source
      target: '1760000000005'
      targetHandle: target
      type: custom
    nodes:
    - data:
        async_mode: false
        body:
        - {{name: title, required: true, type: string}}
        - {{name: priority, required: false, type: number}}
        content_type: application/json
        desc: ''
        headers:
        - {{name: X-Ticket-Source, required: true}}
        method: POST
        params: []
        response_body: ''
        selected: false
        status_code: 200
        timeout: 30
        title: Webhook Trigger
        type: trigger-webhook
        variables:
        - {{label: raw, required: true, value_selector: [], value_type: object, variable: _webhook_raw}}
        webhook_debug_url: ''
        webhook_url: ''
      height: 90
      id: '1760000000001'
      position: {{x: 80, y: 282}}
      positionAbsolute: {{x: 80, y: 282}}
      selected: false
      sourcePosition: right
      targetPosition: left
      type: custom
      width: 244
    - data:
        cases:
        - case_id: 'true'
          conditions:
          - comparison_operator: ≥
            id: c1
            value: '3'
            varType: number
            variable_selector: ['1760000000001', priority]
          id: 'true'
          logical_operator: and
        desc: ''
        selected: false
        title: Urgent?
        type: if-else
      id: '1760000000002'
      position: {{x: 384, y: 282}}
      type: custom
    - data:
        desc: ''
        template: 'URGENT from {{{{ source }}}}: {{{{ title }}}}'
        title: Urgent note
        type: template-transform
        variables:
        - {{value_selector: ['1760000000001', title], variable: title}}
        - {{value_selector: ['1760000000001', X_Ticket_Source], variable: source}}
      id: '1760000000003'
      position: {{x: 688, y: 200}}
      type: custom
    - data:
        desc: ''
        template: 'later: {{{{ title }}}}'
        title: Normal note
        type: template-transform
        variables:
        - {{value_selector: ['1760000000001', title], variable: title}}
      id: '1760000000004'
      position: {{x: 688, y: 360}}
      type: custom
    - data:
        desc: ''
        outputs:
        - {{value_selector: ['1760000000003', output], variable: urgent}}
        - {{value_selector: ['1760000000004', output], variable: normal}}
        title: End
        type: end
      id: '1760000000005'
      position: {{x: 992, y: 282}}
      type: custom
    viewport: {{x: 0, y: 0, zoom: 1}}
"""


def test_an_imported_webhook_workflow_runs_end_to_end(owner_client, live_asgi):
    imported = owner_client.post(
        "/console/api/apps/imports", {"mode": "yaml-content", "yaml_content": DSL}, format="json"
    )
    assert imported.status_code == 200, imported.json()
    app_id = imported.json()["app_id"]
    published = owner_client.post(f"/console/api/apps/{app_id}/workflows/publish", {}, format="json")
    assert published.status_code == 200, published.json()
    url = owner_client.get(
        f"/console/api/apps/{app_id}/workflows/triggers/webhook", {"node_id": "1760000000001"}
    ).json()["webhook_url"]
    path = "/" + url.split("/", 3)[3]
    with httpx.Client(base_url=live_asgi.url, timeout=10) as curl:
        urgent = curl.post(
            path, json={"title": "Disk full", "priority": 5}, headers={"X-Ticket-Source": "zendesk"}
        )
        normal = curl.post(path, json={"title": "Typo", "priority": 1}, headers={"X-Ticket-Source": "mail"})
        unsourced = curl.post(path, json={"title": "Typo"})
    assert urgent.status_code == 200, urgent.json()
    assert urgent.json()["data"]["outputs"]["urgent"] == "URGENT from zendesk: Disk full"
    assert normal.json()["data"]["outputs"]["normal"] == "later: Typo"
    assert unsourced.status_code == 400
    assert unsourced.json()["message"] == "Required header missing: X-Ticket-Source"
    runs = WorkflowRun.objects.filter(app_id=app_id).order_by("created_at")
    assert [(r.triggered_from, r.status) for r in runs] == [("webhook", "succeeded")] * 2
