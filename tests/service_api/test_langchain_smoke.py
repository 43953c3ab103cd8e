"""LangChain's ``ChatOpenAI`` (langchain-openai) pointed at the OpenAI-compatible endpoints of a chat app on the
live server: a blocking invoke and a stream, with the app's inputs passed through ``extra_body``."""

from __future__ import annotations

import httpx
import langchain_openai

from apps.models import Message
from tests.support.fake_llm import Reply


def chat_model(app, client: httpx.Client, **kwargs) -> langchain_openai.ChatOpenAI:
    """``ChatOpenAI`` as a user would configure it: our ``/v1`` as ``base_url``, the app's key, the app as model."""
    key = client.headers["Authorization"].split(" ", 1)[1]
    return langchain_openai.ChatOpenAI(
        base_url=str(client.base_url),
        api_key=key,
        model=str(app.id),
        max_retries=0,
        timeout=15,
        extra_body={"inputs": {"company": "Acme"}, "auto_generate_name": False},
        **kwargs,
    )


def test_chat_openai_invokes_a_chat_app_blocking(setup, fake_llm):
    # given a chat app and ChatOpenAI pointed at it
    app, client = setup()
    fake_llm.push(Reply(text="Bonjour!", usage=(12, 4)))
    # when a conversation is invoked
    reply = chat_model(app, client).invoke([("user", "Hello"), ("assistant", "Hi!"), ("user", "In French?")])
    # then the app's answer comes back with its usage, and the history reached the model
    assert reply.content == "Bonjour!"
    assert reply.usage_metadata["input_tokens"] == 12 and reply.usage_metadata["output_tokens"] == 4
    sent = fake_llm.requests_on("chat")[-1].json["messages"]
    assert [m["content"] for m in sent[1:]] == ["Hello", "Hi!", "In French?"]
    assert sent[0]["content"].startswith("You are a helpful assistant for Acme.")
    assert Message.objects.filter(app=app, answer="Bonjour!").count() == 1


def test_chat_openai_streams_a_chat_app(setup, fake_llm):
    app, client = setup()
    fake_llm.push(Reply(text="one two three", chunks=3, usage=(7, 3)))
    chunks = list(chat_model(app, client, stream_usage=True).stream("count"))
    assert "".join(c.content for c in chunks) == "one two three"
    assert len([c for c in chunks if c.content]) == 3
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["total_tokens"] == 10
