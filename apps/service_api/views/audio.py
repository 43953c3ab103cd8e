"""Speech: ``/audio-to-text`` (speech-to-text) and ``/text-to-audio`` (text-to-speech), with the workspace's
default speech models, gated by the app's ``speech_to_text`` / ``text_to_speech`` features as in Dify."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.models import App, AppMode, Message
from apps.service_api.views.generation import AsyncServiceApiView
from dify_project.api.errors import ApiError, InvalidParam, NotFound
from dify_project.api.parsers import SafeJSONParser
from dify_project.db import db_sync_to_async

AUDIO_EXTENSIONS = {"mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm", "amr"}
AUDIO_MAX_BYTES = 30 * 1024 * 1024


class NoAudioUploaded(ApiError):
    code = "no_audio_uploaded"
    message = "Please upload your audio."


class AudioTooLarge(ApiError):
    code = "audio_too_large"
    status = 413
    message = "Audio size exceeded."


class UnsupportedAudioType(ApiError):
    code = "unsupported_audio_type"
    status = 415
    message = "Audio type not allowed."


class SpeechToTextNotSupported(ApiError):
    code = "provider_not_support_speech_to_text"
    message = "Provider not support speech to text."


class TextToSpeechNotSupported(ApiError):
    code = "provider_not_support_text_to_speech"
    message = "Provider not support text to speech."


def _features(app: App) -> dict[str, Any]:
    if app.mode in AppMode.workflow_modes():
        return (app.workflow.features if app.workflow else {}) or {}
    return (app.app_model_config.config if app.app_model_config else {}) or {}


async def _default(tenant_id: str, model_type: str) -> tuple[str, str] | None:
    from providers.services.invocation import default_model

    return await default_model(tenant_id=tenant_id, model_type=model_type)


class AudioToTextApi(AsyncServiceApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}, "user": {"type": "string"}},
            }
        },
        responses={200: OpenApiResponse(description='{"text": "..."}')},
    )
    async def post(self, request: Request) -> Response:
        from providers.services.invocation import api_error_for, speech2text

        app = self.app(request)
        features = await db_sync_to_async(_features)(app)
        if not (features.get("speech_to_text") or {}).get("enabled"):
            raise ApiError("Speech to text is not enabled for this app.", code="speech_to_text_disabled")
        await self.end_user(request, request.data.get("user"), required=False)
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise NoAudioUploaded()
        extension = PurePath(uploaded.name or "").suffix.lstrip(".").lower()
        mime = (uploaded.content_type or "").lower()
        if extension not in AUDIO_EXTENSIONS and not mime.startswith("audio/"):
            raise UnsupportedAudioType()
        if uploaded.size > AUDIO_MAX_BYTES:
            raise AudioTooLarge()
        chosen = await _default(str(app.tenant_id), "speech2text")
        if chosen is None:
            raise SpeechToTextNotSupported()
        content = await db_sync_to_async(uploaded.read)()
        try:
            result = await speech2text(
                tenant_id=str(app.tenant_id),
                provider=chosen[0],
                model=chosen[1],
                file=content,
                filename=uploaded.name or "audio",
                mime_type=mime or None,
                source={"app_id": str(app.id), "purpose": "audio-to-text"},
            )
        except Exception as exc:
            mapped = api_error_for(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return Response({"text": result.text})


class TextToAudioIn(serializers.Serializer):
    message_id = serializers.UUIDField(required=False, allow_null=True)
    text = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    voice = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)
    streaming = serializers.BooleanField(required=False, default=False)
    user = serializers.CharField(required=False, allow_blank=True, max_length=255)


class TextToAudioApi(AsyncServiceApiView):
    parser_classes = [SafeJSONParser, FormParser]

    @extend_schema(request=TextToAudioIn, responses={(200, "audio/mpeg"): OpenApiTypes.BINARY})
    async def post(self, request: Request) -> StreamingHttpResponse:
        from providers.services.invocation import api_error_for, tts

        app = self.app(request)
        data = self.validate(TextToAudioIn, request.data)
        features = await db_sync_to_async(_features)(app)
        speech = features.get("text_to_speech") or {}
        if not speech.get("enabled"):
            raise InvalidParam("TTS is not enabled.")
        end_user = await self.end_user(request, data.get("user"), required=False)
        text = data.get("text") or ""
        if data.get("message_id"):
            message = await db_sync_to_async(
                Message.objects.filter(id=data["message_id"], app=app, from_end_user=end_user).first
            )()
            if message is None:
                raise NotFound("Message Not Exists.")
            text = message.answer
        if not text.strip():
            raise InvalidParam("text is required", params="text")
        chosen = await _default(str(app.tenant_id), "tts")
        if chosen is None:
            raise TextToSpeechNotSupported()
        try:
            audio, mime_type = await tts(
                tenant_id=str(app.tenant_id),
                provider=chosen[0],
                model=chosen[1],
                text=text,
                voice=data.get("voice") or speech.get("voice") or None,
                source={"app_id": str(app.id), "purpose": "text-to-audio"},
            )
        except Exception as exc:
            mapped = api_error_for(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return StreamingHttpResponse(audio, content_type=mime_type)
