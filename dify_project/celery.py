"""The Celery application. Queues per workload: `workflow`, `indexing`, `default` (DESIGN.md section 4)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dify_project.settings")

app = Celery("dify_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue("default"), Queue("workflow"), Queue("indexing")]
app.autodiscover_tasks()
