"""Test support shared across packages: loopback fake servers for external services."""
