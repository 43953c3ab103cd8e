"""Dify's KnowledgeBaseClient as its users run it, over the pinned SDK's transport.

``dify-client`` 0.1.10 (the release on our package index) predates ``KnowledgeBaseClient``; this class
adds it on 0.1.10's own ``_send_request``/``_send_request_with_files``, sending exactly the method, path,
body and query that later releases (0.1.11/0.1.12, ``sdks/python-client`` in Dify's repository) send.
"""

from __future__ import annotations

import json
from typing import Any

import dify_client
import requests


class KnowledgeBaseClient(dify_client.DifyClient):
    def __init__(self, api_key: str, base_url: str, dataset_id: str | None = None) -> None:
        super().__init__(api_key)
        self.base_url = base_url
        self.dataset_id = dataset_id

    def _get_dataset_id(self) -> str:
        if self.dataset_id is None:
            raise ValueError("dataset_id is not set")
        return self.dataset_id

    def create_dataset(self, name: str) -> requests.Response:
        return self._send_request("POST", "/datasets", {"name": name})

    def list_datasets(self, page: int = 1, page_size: int = 20) -> requests.Response:
        return self._send_request("GET", "/datasets", params={"page": page, "limit": page_size})

    def create_document_by_text(
        self, name: str, text: str, extra_params: dict | None = None
    ) -> requests.Response:
        data = {
            "indexing_technique": "high_quality",
            "process_rule": {"mode": "automatic"},
            "name": name,
            "text": text,
        }
        if isinstance(extra_params, dict):
            data.update(extra_params)
        return self._send_request(
            "POST", f"/datasets/{self._get_dataset_id()}/document/create_by_text", json=data
        )

    def update_document_by_text(
        self, document_id: str, name: str, text: str, extra_params: dict | None = None
    ) -> requests.Response:
        data = {"name": name, "text": text}
        if isinstance(extra_params, dict):
            data.update(extra_params)
        url = f"/datasets/{self._get_dataset_id()}/documents/{document_id}/update_by_text"
        return self._send_request("POST", url, json=data)

    def create_document_by_file(
        self, file_path: str, original_document_id: str | None = None, extra_params: dict | None = None
    ) -> requests.Response:
        with open(file_path, "rb") as f:
            data: dict[str, Any] = {
                "process_rule": {"mode": "automatic"},
                "indexing_technique": "high_quality",
            }
            if isinstance(extra_params, dict):
                data.update(extra_params)
            if original_document_id is not None:
                data["original_document_id"] = original_document_id
            url = f"/datasets/{self._get_dataset_id()}/document/create_by_file"
            return self._send_request_with_files("POST", url, {"data": json.dumps(data)}, {"file": f})

    def update_document_by_file(
        self, document_id: str, file_path: str, extra_params: dict | None = None
    ) -> requests.Response:
        with open(file_path, "rb") as f:
            data = dict(extra_params or {})
            url = f"/datasets/{self._get_dataset_id()}/documents/{document_id}/update_by_file"
            return self._send_request_with_files("POST", url, {"data": json.dumps(data)}, {"file": f})

    def batch_indexing_status(self, batch_id: str) -> requests.Response:
        return self._send_request(
            "GET", f"/datasets/{self._get_dataset_id()}/documents/{batch_id}/indexing-status"
        )

    def delete_dataset(self) -> requests.Response:
        return self._send_request("DELETE", f"/datasets/{self._get_dataset_id()}")

    def delete_document(self, document_id: str) -> requests.Response:
        return self._send_request("DELETE", f"/datasets/{self._get_dataset_id()}/documents/{document_id}")

    def list_documents(
        self, page: int | None = None, page_size: int | None = None, keyword: str | None = None
    ) -> requests.Response:
        params: dict[str, Any] = {}
        if page is not None:
            params["page"] = page
        if page_size is not None:
            params["limit"] = page_size
        if keyword is not None:
            params["keyword"] = keyword
        return self._send_request("GET", f"/datasets/{self._get_dataset_id()}/documents", params=params)

    def add_segments(self, document_id: str, segments: list[dict]) -> requests.Response:
        url = f"/datasets/{self._get_dataset_id()}/documents/{document_id}/segments"
        return self._send_request("POST", url, json={"segments": segments})

    def query_segments(
        self, document_id: str, keyword: str | None = None, status: str | None = None
    ) -> requests.Response:
        params = {k: v for k, v in {"keyword": keyword, "status": status}.items() if v is not None}
        url = f"/datasets/{self._get_dataset_id()}/documents/{document_id}/segments"
        return self._send_request("GET", url, params=params)

    def delete_document_segment(self, document_id: str, segment_id: str) -> requests.Response:
        url = f"/datasets/{self._get_dataset_id()}/documents/{document_id}/segments/{segment_id}"
        return self._send_request("DELETE", url)

    def update_document_segment(
        self, document_id: str, segment_id: str, segment_data: dict
    ) -> requests.Response:
        url = f"/datasets/{self._get_dataset_id()}/documents/{document_id}/segments/{segment_id}"
        return self._send_request("POST", url, json={"segment": segment_data})

    def hit_testing(self, query: str, retrieval_model: dict | None = None) -> requests.Response:
        data: dict[str, Any] = {"query": query}
        if retrieval_model:
            data["retrieval_model"] = retrieval_model
        return self._send_request("POST", f"/datasets/{self._get_dataset_id()}/hit-testing", json=data)

    def get_dataset(self, dataset_id: str | None = None) -> requests.Response:
        return self._send_request("GET", f"/datasets/{dataset_id or self._get_dataset_id()}")

    def update_dataset(self, **fields: Any) -> requests.Response:
        data = {k: v for k, v in fields.items() if v is not None}
        return self._send_request("PATCH", f"/datasets/{self._get_dataset_id()}", json=data)

    def batch_update_document_status(self, action: str, document_ids: list[str]) -> requests.Response:
        url = f"/datasets/{self._get_dataset_id()}/documents/status/{action}"
        return self._send_request("PATCH", url, json={"document_ids": document_ids})

    def get_dataset_metadata(self) -> requests.Response:
        return self._send_request("GET", f"/datasets/{self._get_dataset_id()}/metadata")

    def create_dataset_metadata(self, metadata_data: dict) -> requests.Response:
        return self._send_request("POST", f"/datasets/{self._get_dataset_id()}/metadata", json=metadata_data)

    def update_documents_metadata(self, operation_data: list[dict]) -> requests.Response:
        url = f"/datasets/{self._get_dataset_id()}/documents/metadata"
        return self._send_request("POST", url, json={"operation_data": operation_data})
