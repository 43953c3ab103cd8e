"""App configurations the Service API tests share."""

CHAT_CONFIG = {
    "model": {
        "provider": "openai",
        "name": "gpt-4o-mini",
        "mode": "chat",
        "completion_params": {"temperature": 0.3, "max_tokens": 256},
    },
    "pre_prompt": "You are a helpful assistant for {{company}}.",
    "prompt_type": "simple",
    "user_input_form": [
        {"text-input": {"label": "Company", "variable": "company", "required": True, "max_length": 20}}
    ],
    "opening_statement": "Welcome to {{company}}!",
}
