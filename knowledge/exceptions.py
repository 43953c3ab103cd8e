"""Knowledge errors with Dify's codes (``controllers/service_api/dataset/error.py`` and friends)."""

from dify_project.api.errors import ApiError, Forbidden, InvalidParam, NotFound


class DatasetNotFound(NotFound):
    message = "Dataset not found."


class DocumentNotFound(NotFound):
    message = "Document not found."


class SegmentNotFound(NotFound):
    message = "Segment not found."


class ChildChunkNotFound(NotFound):
    message = "Child chunk not found."


class DatasetNameDuplicate(ApiError):
    code = "dataset_name_duplicate"
    status = 409
    message = "The dataset name already exists. Please modify your dataset name."


class DatasetInUse(ApiError):
    code = "dataset_in_use"
    status = 409
    message = (
        "The dataset is being used by some apps. Please remove the dataset from the apps before deleting it."
    )


class DatasetApiDisabled(Forbidden):
    message = "Dataset api access is not enabled."


class DatasetNotInitialized(ApiError):
    code = "dataset_not_initialized"
    message = "The dataset is still being initialized or indexing. Please wait a moment."


class ArchivedDocumentImmutable(ApiError):
    code = "archived_document_immutable"
    status = 403
    message = "The archived document is not editable."


class DocumentIndexing(ApiError):
    code = "document_indexing"
    message = "The document is being processed and cannot be edited."


class InvalidAction(ApiError):
    code = "invalid_action"
    message = "Invalid action."


class InvalidMetadata(ApiError):
    code = "invalid_metadata"
    message = "The metadata content is incorrect. Please check and verify."


class ProviderNotInitialize(ApiError):
    code = "provider_not_initialize"
    message = (
        "No Embedding Model available. Please configure a valid provider in the Settings -> Model Provider."
    )


class NoFileUploaded(ApiError):
    code = "no_file_uploaded"
    message = "Please upload your file."


class TooManyFiles(ApiError):
    code = "too_many_files"
    message = "Only one file is allowed."


__all__ = [
    "ArchivedDocumentImmutable",
    "ChildChunkNotFound",
    "DatasetApiDisabled",
    "DatasetInUse",
    "DatasetNameDuplicate",
    "DatasetNotFound",
    "DatasetNotInitialized",
    "DocumentIndexing",
    "DocumentNotFound",
    "InvalidAction",
    "InvalidMetadata",
    "InvalidParam",
    "NoFileUploaded",
    "ProviderNotInitialize",
    "SegmentNotFound",
    "TooManyFiles",
]


class ExternalKnowledgeApiNotFound(NotFound):
    message = "API template not found."


class ExternalKnowledgeUnavailable(ApiError):
    """The user's external knowledge endpoint failed or answered garbage (not our 500)."""

    code = "external_knowledge_api_error"
    status = 400
    message = "External knowledge API failed."
