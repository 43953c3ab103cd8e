"""Console tags and their bindings."""

from __future__ import annotations

from rest_framework import serializers

from dify_project.api.fields import ResultOut

# --- tags --------------------------------------------------------------------------------------------------------


class ConsoleTagListQuery(serializers.Serializer):
    type = serializers.ChoiceField(choices=["app", "knowledge", ""], required=False, default="")
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)


class ConsoleTagIn(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=50)
    type = serializers.ChoiceField(choices=["app", "knowledge"])


class ConsoleTagUpdateIn(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=50)


class ConsoleTagBindingIn(serializers.Serializer):
    tag_ids = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=100)
    target_id = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=["app", "knowledge"])


class ConsoleTagUnbindingIn(serializers.Serializer):
    tag_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, min_length=1, max_length=100
    )
    tag_id = serializers.CharField(required=False, max_length=64)
    target_id = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=["app", "knowledge"])

    def validate(self, attrs: dict) -> dict:
        ids = list(attrs.get("tag_ids") or [])
        if attrs.get("tag_id"):
            ids.append(attrs["tag_id"])
        if not ids:
            raise serializers.ValidationError({"tag_ids": "give tag_ids (or tag_id)"})
        attrs["tag_ids"] = ids
        return attrs


__all__ = ["ResultOut"]
