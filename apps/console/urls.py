"""Console routes of the apps domain, mounted under /console/api/ (Dify's paths)."""

urlpatterns: list = []
