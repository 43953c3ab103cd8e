"""Dify plugins without Dify's Go daemon: `.difypkg` packages installed per workspace, each plugin
version run as a pooled subprocess speaking the `dify_plugin` SDK's local stdio protocol, its model
providers in the provider catalogue and its tools behind the tool port."""
