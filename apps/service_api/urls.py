"""Service API routes, mounted under /v1/ (Dify's paths)."""

urlpatterns: list = []
