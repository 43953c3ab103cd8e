"""Annotations from the console: create (directly or from a message), edit, delete, CSV import and
export, and the annotation-reply setting (score threshold, embedding model).

Embedding the annotations for reply matching is the knowledge/runner side's work; enabling reply here
stores the setting the runners read (``AppAnnotationSetting``), and reports the job as completed.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from django.core.cache import cache
from django.db import transaction

from accounts.models import Account
from apps import exceptions as errors
from apps.models import App, AppAnnotationSetting, Message, MessageAnnotation, MessageFeedback
from apps.selectors import parse_id
from apps.services.app_cache import forget_app
from dify_project.api.errors import ApiError, InvalidParam

# Dify's ANNOTATION_IMPORT_* limits.
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 10_000
IMPORT_MIN_ROWS = 1
JOB_SECONDS = 3600


class FileTooLarge(ApiError):
    code = "file_too_large"
    status = 413
    message = "File size exceeded."


@transaction.atomic
def annotation_create(
    *, app: App, account: Account, answer: str, question: str | None = None, message_id: Any = None
) -> MessageAnnotation:
    """Dify's upsert: with ``message_id`` the message's annotation is created or replaced (the question
    defaults to the message's query); without, a free-standing question/answer pair is added."""
    if message_id:
        pk = parse_id(message_id, what="Message")
        message = Message.objects.filter(app=app, tenant_id=app.tenant_id, id=pk).first()
        if message is None:
            raise errors.MessageNotFound()
        annotation = (
            MessageAnnotation.objects.select_for_update().filter(app=app, message_id=message.id).first()
        )
        if annotation is not None:
            annotation.content = answer
            if question:
                annotation.question = question
            annotation.account_id = account.id
            annotation.save()
            return annotation
        return MessageAnnotation.objects.create(
            tenant_id=app.tenant_id,
            app=app,
            conversation_id=message.conversation_id,
            message_id=message.id,
            question=question or message.query,
            content=answer,
            account_id=account.id,
        )
    if not question:
        raise InvalidParam("question: is required when no message_id is given.", params="question")
    return MessageAnnotation.objects.create(
        tenant_id=app.tenant_id, app=app, question=question, content=answer, account_id=account.id
    )


def annotation_update(
    *, annotation: MessageAnnotation, account: Account, question: str, answer: str
) -> MessageAnnotation:
    annotation.question = question
    annotation.content = answer
    annotation.account_id = account.id
    annotation.save(update_fields=["question", "content", "account_id", "updated_at"])
    return annotation


def annotation_delete(*, annotation: MessageAnnotation) -> None:
    annotation.delete()  # hit histories go with it


@transaction.atomic
def annotations_delete(*, app: App, annotation_ids: list[Any] | None = None) -> int:
    """Delete the given annotations of the app, or all of them when no ids are given."""
    annotations = MessageAnnotation.objects.filter(app=app, tenant_id=app.tenant_id)
    if annotation_ids:
        annotations = annotations.filter(id__in=[parse_id(i, what="Annotation") for i in annotation_ids])
    return annotations.delete()[0]


def _job_key(kind: str, app: App, job_id: Any) -> str:
    # The app is part of the key: another app (of this workspace or another) asking for the id learns
    # nothing, the job simply does not exist for it.
    return f"{kind}:{app.id}:{job_id}"


def _job(kind: str, status: str, *, app: App, **extra: Any) -> dict[str, Any]:
    job_id = str(uuid.uuid4())
    cache.set(_job_key(kind, app, job_id), {"job_status": status, "error_msg": "", **extra}, JOB_SECONDS)
    return {"job_id": job_id, "job_status": status, **extra}


def job_status(*, kind: str, app: App, job_id: Any) -> dict[str, Any] | None:
    """The status of one of the app's jobs, or None for an unknown id or another app's job."""
    data = cache.get(_job_key(kind, app, job_id))
    if data is None:
        return None
    return {"job_id": str(job_id), **data}


@transaction.atomic
def annotations_import_csv(*, app: App, account: Account, content: bytes) -> dict[str, Any]:
    """Add the question/answer rows of a CSV (first row is the header, as in Dify's template).

    All rows or none: a bad row refuses the whole file, naming the row. Returns a finished job.
    """
    if len(content) > IMPORT_MAX_BYTES:
        raise FileTooLarge(f"The CSV file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidParam("The CSV file must be UTF-8 text.") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise InvalidParam(f"Invalid CSV file: {error}") from None
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise InvalidParam(f"Invalid CSV file: row {number} needs a question and an answer.")
        records.append((row[0].strip(), row[1].strip()))
    if len(records) < IMPORT_MIN_ROWS:
        raise InvalidParam(
            "The CSV file has no annotations (expected a header row, then question,answer rows)."
        )
    if len(records) > IMPORT_MAX_ROWS:
        raise InvalidParam(f"The CSV file has {len(records)} annotations; the limit is {IMPORT_MAX_ROWS}.")
    MessageAnnotation.objects.bulk_create(
        [
            MessageAnnotation(tenant_id=app.tenant_id, app=app, question=q, content=a, account_id=account.id)
            for q, a in records
        ]
    )
    return _job("app_annotation_batch_import", "completed", app=app, record_count=len(records))


def annotations_export_csv(*, app: App) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["question", "answer"])
    for question, answer in (
        MessageAnnotation.objects.filter(app=app, tenant_id=app.tenant_id)
        .order_by("created_at", "id")
        .values_list("question", "content")
        .iterator()
    ):
        writer.writerow([question, answer])
    return buffer.getvalue()


def _check_threshold(score_threshold: float) -> None:
    if not 0 <= score_threshold <= 1:
        raise InvalidParam("score_threshold: must be between 0 and 1.", params="score_threshold")


@transaction.atomic
def annotation_reply_enable(
    *,
    app: App,
    account: Account,
    score_threshold: float,
    embedding_provider_name: str,
    embedding_model_name: str,
) -> dict[str, Any]:
    _check_threshold(score_threshold)
    setting, _ = AppAnnotationSetting.objects.select_for_update().get_or_create(
        app=app, defaults={"tenant_id": app.tenant_id, "created_user_id": account.id}
    )
    setting.enabled = True
    setting.score_threshold = score_threshold
    setting.embedding_provider_name = embedding_provider_name
    setting.embedding_model_name = embedding_model_name
    setting.updated_user_id = account.id
    setting.save()
    return _job("enable_app_annotation_job", "completed", app=app)


@transaction.atomic
def annotation_reply_disable(*, app: App, account: Account) -> dict[str, Any]:
    AppAnnotationSetting.objects.filter(app=app).update(enabled=False, updated_user_id=account.id)
    forget_app(app.id)  # update() sends no signal for the app cache
    return _job("disable_app_annotation_job", "completed", app=app)


def annotation_setting_update(
    *, setting: AppAnnotationSetting, account: Account, score_threshold: float
) -> AppAnnotationSetting:
    _check_threshold(score_threshold)
    setting.score_threshold = score_threshold
    setting.updated_user_id = account.id
    setting.save(update_fields=["score_threshold", "updated_user_id", "updated_at"])
    return setting


@transaction.atomic
def message_feedback_set(
    *, app: App, account: Account, message_id: Any, rating: str | None, content: str = ""
) -> None:
    """The console's own rating of a message (``from_source='admin'``); ``rating=None`` removes it."""
    pk = parse_id(message_id, what="Message")
    message = Message.objects.filter(app=app, tenant_id=app.tenant_id, id=pk).first()
    if message is None:
        raise errors.MessageNotFound()
    feedback = MessageFeedback.objects.filter(message=message, from_source="admin").first()
    if rating is None:
        if feedback is None:
            raise InvalidParam("rating: there is no feedback to remove.")
        feedback.delete()
        return
    if feedback is None:
        MessageFeedback.objects.create(
            tenant_id=app.tenant_id,
            app=app,
            conversation_id=message.conversation_id,
            message=message,
            rating=rating,
            content=content or "",
            from_source="admin",
            from_account_id=account.id,
        )
    else:
        feedback.rating = rating
        feedback.content = content or ""
        feedback.from_account_id = account.id
        feedback.save(update_fields=["rating", "content", "from_account_id", "updated_at"])
