"""Fixtures for the model runtime tests: the loopback fake provider server and a runtime to call it."""

from tests.support.fixtures import closed_port, fake_llm, fake_llm_server, model_runtime  # noqa: F401
