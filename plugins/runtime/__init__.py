"""The plugin runtime: virtual environments per requirement set, plugin processes pooled per plugin
version, the stdio protocol. Plain Python (no Django): `plugins.registry` configures it from settings."""
