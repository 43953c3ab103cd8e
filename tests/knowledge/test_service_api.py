"""The Knowledge Service API through Dify's SDK (KnowledgeBaseClient) against the live ASGI server, with
indexing tasks run inline (``eager_indexing``) and embeddings from the loopback fake model server."""

from __future__ import annotations

import io
import json

import pytest
from django.test import override_settings

from apps.services.api_keys import api_key_create
from knowledge.models import Dataset, Document
from tests.knowledge.sdk import KnowledgeBaseClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client_for(live_asgi, workspace, eager_indexing):
    def make(tenant=workspace, dataset_id=None):
        _, plain = api_key_create(tenant=tenant, type="dataset")
        return KnowledgeBaseClient(plain, f"{live_asgi.url}/v1", dataset_id)

    return make


def completed(client, batch):
    body = client.batch_indexing_status(batch).json()
    return body["data"]


def test_the_sdk_builds_and_queries_a_knowledge_base(client_for):
    client = client_for()
    # given a dataset created with a name only
    created = client.create_dataset("Handbook")
    assert created.status_code == 200, created.text
    dataset = created.json()
    assert dataset["name"] == "Handbook" and dataset["indexing_technique"] is None
    client.dataset_id = dataset["id"]
    # when a document is added by text (the SDK's underscore alias, automatic rules)
    text = "Holidays are booked in the portal.\n\nExpenses are refunded monthly.\n\nThe office opens at nine."
    response = client.create_document_by_text("policies.txt", text)
    assert response.status_code == 200, response.text
    body = response.json()
    document = body["document"]
    assert document["name"] == "policies.txt" and body["batch"]
    # then indexing has completed, with progress per segment
    status = completed(client, body["batch"])
    assert status[0]["indexing_status"] == "completed", status
    assert status[0]["completed_segments"] == status[0]["total_segments"] >= 1
    assert status[0]["parsing_completed_at"] and status[0]["completed_at"]
    listed = client.list_documents(page=1, page_size=10).json()
    assert listed["total"] == 1 and listed["data"][0]["display_status"] == "available"
    assert listed["data"][0]["word_count"] == len(text)
    # the dataset settled on the workspace's embedding model
    detail = client.get_dataset().json()
    assert detail["indexing_technique"] == "high_quality"
    assert detail["embedding_model"] == "text-embedding-3-small" and detail["document_count"] == 1
    assert detail["retrieval_model_dict"]["search_method"] == "semantic_search"
    # segments: listed, added, edited
    segments = client.query_segments(document["id"]).json()
    assert segments["doc_form"] == "text_model" and segments["data"][0]["status"] == "completed"
    added = client.add_segments(
        document["id"], [{"content": "Parking is free for staff.", "keywords": ["parking"]}]
    )
    assert added.status_code == 200, added.text
    segment = added.json()["data"][0]
    assert segment["content"] == "Parking is free for staff." and segment["keywords"] == ["parking"]
    edited = client.update_document_segment(
        document["id"], segment["id"], {"content": "Parking costs nothing."}
    )
    assert edited.json()["data"]["content"] == "Parking costs nothing."
    # retrieval through the deprecated /hit-testing alias
    hits = client.hit_testing(
        "Parking costs nothing.",
        retrieval_model={
            "search_method": "semantic_search",
            "top_k": 1,
            "reranking_enable": False,
            "score_threshold_enabled": False,
        },
    ).json()
    assert hits["query"] == {"content": "Parking costs nothing."}
    assert hits["records"][0]["segment"]["content"] == "Parking costs nothing."
    assert hits["records"][0]["segment"]["document"]["id"] == document["id"]
    full_text = client.hit_testing(
        "When does the office open?",
        retrieval_model={
            "search_method": "full_text_search",
            "top_k": 2,
            "reranking_enable": False,
            "score_threshold_enabled": False,
        },
    ).json()
    # automatic rules merged the three short paragraphs into one segment (500 characters budget)
    assert "The office opens at nine." in full_text["records"][0]["segment"]["content"]
    # update by text re-indexes the document
    updated = client.update_document_by_text(
        document["id"], "policies-v2.txt", "Remote work is allowed on Fridays."
    )
    assert updated.status_code == 200, updated.text
    assert completed(client, updated.json()["batch"])[0]["indexing_status"] == "completed"
    contents = [s["content"] for s in client.query_segments(document["id"]).json()["data"]]
    assert contents == ["Remote work is allowed on Fridays."]
    # archive: the document is read-only
    assert client.batch_update_document_status("archive", [document["id"]]).json() == {"result": "success"}
    refused = client.delete_document(document["id"])
    assert refused.status_code == 403 and refused.json()["code"] == "archived_document_immutable"
    client.batch_update_document_status("un_archive", [document["id"]])
    assert client.delete_document(document["id"]).status_code == 204
    assert client.delete_dataset().status_code == 204
    assert not Dataset.objects.filter(id=dataset["id"]).exists()


def _docx_bytes(text: str) -> bytes:
    docx = pytest.importorskip("docx")

    document = docx.Document()
    document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plan", "Price"
    table.cell(1, 0).text, table.cell(1, 1).text = "Pro", "20 USD"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _xlsx_bytes() -> bytes:
    openpyxl = pytest.importorskip("openpyxl")

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["city", "country"])
    sheet.append(["Lyon", "France"])
    sheet.append(["Porto", "Portugal"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _pdf_bytes(text: str) -> bytes:
    """A one-page PDF with `text` in Helvetica, written by hand (offsets computed)."""
    pytest.importorskip("pypdf")  # the server reads it with pypdf
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("notes.md", b"# Title\nIntro text.\n\n## Usage\nRun the tool daily.", "Run the tool daily."),
        (
            "page.html",
            b"<html><head><style>p{}</style></head><body><p>Hello <b>web</b></p></body></html>",
            "Hello web",
        ),
        ("data.csv", b"name,role\nAda,engineer\nBob,designer\n", "name: Bob; role: designer"),
        ("data.json", b'{"key": "value"}', '"key": "value"'),
        ("report.docx", None, "| Pro | 20 USD |"),
        ("sheet.xlsx", None, '"city":"Porto";"country":"Portugal"'),
        ("paper.pdf", None, "Neural networks learn"),
    ],
)
def test_files_of_each_supported_type_are_extracted_and_indexed(
    client_for, tmp_path, filename, content, expected
):
    if content is None:
        content = {
            "report.docx": lambda: _docx_bytes("Quarterly report."),
            "sheet.xlsx": _xlsx_bytes,
            "paper.pdf": lambda: _pdf_bytes("Neural networks learn"),
        }[filename]()
    client = client_for()
    client.dataset_id = client.create_dataset("Files").json()["id"]
    path = tmp_path / filename
    path.write_bytes(content)
    response = client.create_document_by_file(str(path))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["document"]["name"] == filename
    assert body["document"]["data_source_info"]["upload_file_id"]
    status = completed(client, body["batch"])[0]
    assert status["indexing_status"] == "completed", status
    segments = client.query_segments(body["document"]["id"]).json()["data"]
    assert any(expected in s["content"] for s in segments), [s["content"] for s in segments]


def test_update_by_file_replaces_the_content(client_for, tmp_path):
    client = client_for()
    client.dataset_id = client.create_dataset("Versions").json()["id"]
    first, second = tmp_path / "v1.txt", tmp_path / "v2.txt"
    first.write_text("Version one says hello.")
    second.write_text("Version two says goodbye.")
    document = client.create_document_by_file(str(first)).json()["document"]
    response = client.update_document_by_file(document["id"], str(second))
    assert response.status_code == 200, response.text
    assert completed(client, response.json()["batch"])[0]["indexing_status"] == "completed"
    assert [s["content"] for s in client.query_segments(document["id"]).json()["data"]] == [
        "Version two says goodbye."
    ]


def test_bad_input_answers_difys_errors(client_for, tmp_path, other_workspace):
    client = client_for()
    dataset = client.create_dataset("Unique").json()
    client.dataset_id = dataset["id"]
    # duplicate name: 409
    duplicate = client.create_dataset("Unique")
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "dataset_name_duplicate"
    # unsupported file type: 415, nothing created
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    refused = client.create_document_by_file(str(image))
    assert refused.status_code == 415 and refused.json()["code"] == "unsupported_file_type"
    # too large: 413
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (1024 * 1024 + 10))
    with override_settings(UPLOAD_FILE_SIZE_LIMIT=1):
        too_large = client.create_document_by_file(str(big))
    assert too_large.status_code == 413 and too_large.json()["code"] == "file_too_large"
    assert not Document.objects.filter(dataset_id=dataset["id"]).exists()
    # a custom rule out of range: 400 invalid_param
    bad_rule = client.create_document_by_text(
        "x",
        "text",
        {"process_rule": {"mode": "custom", "rules": {"segmentation": {"separator": "\n", "max_tokens": 5}}}},
    )
    assert bad_rule.status_code == 400 and bad_rule.json()["code"] == "invalid_param"
    assert "between 50 and 4000" in bad_rule.json()["message"]
    # no key, a wrong key
    anonymous = KnowledgeBaseClient("dataset-nope", client.base_url, dataset["id"])
    assert anonymous.list_datasets().status_code == 401
    # another workspace's key sees neither the dataset nor its documents
    stranger = client_for(other_workspace, dataset["id"])
    assert stranger.get_dataset().status_code == 404
    assert stranger.list_documents().json()["code"] == "not_found"
    assert stranger.list_datasets().json()["total"] == 0
    # API access switched off for the dataset: 403
    Dataset.objects.filter(id=dataset["id"]).update(enable_api=False)
    disabled = client.get_dataset()
    assert disabled.status_code == 403 and disabled.json()["message"] == "Dataset api access is not enabled."


def test_metadata_fields_and_values(client_for):
    client = client_for()
    client.dataset_id = client.create_dataset("Meta").json()["id"]
    document = client.create_document_by_text("a.txt", "Alpha content.").json()["document"]
    field = client.create_dataset_metadata({"type": "string", "name": "team"})
    assert field.status_code == 201, field.text
    field_id = field.json()["id"]
    response = client.update_documents_metadata(
        [{"document_id": document["id"], "metadata_list": [{"id": field_id, "name": "team", "value": "ops"}]}]
    )
    assert response.json() == {"result": "success"}
    listed = client.get_dataset_metadata().json()
    assert listed["doc_metadata"][0] == {"id": field_id, "type": "string", "name": "team", "count": 1}
    doc = client.list_documents().json()["data"][0]
    assert doc["doc_metadata"] == [{"id": field_id, "name": "team", "type": "string", "value": "ops"}]
    hits = client.hit_testing(
        "Alpha content.",
        retrieval_model={
            "search_method": "semantic_search",
            "top_k": 2,
            "reranking_enable": False,
            "score_threshold_enabled": False,
            "metadata_filtering_conditions": {
                "logical_operator": "and",
                "conditions": [{"name": "team", "comparison_operator": "is", "value": "hr"}],
            },
        },
    ).json()
    assert hits["records"] == []
    assert json.dumps(hits)  # plain JSON
