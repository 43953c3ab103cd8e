# Multi-stage image: wheels are built in the first stage, the runtime stage has no compiler and runs as a
# non-root user. The default command serves HTTP + WebSocket with uvicorn; workers use the same image:
#   docker run IMAGE celery -A dify_project worker -Q default,workflow,indexing
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt

FROM python:3.12-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 VAR_DIR=/data \
    CODE_SANDBOX_PACKAGES=/opt/sandbox-python
# bubblewrap isolates code nodes (README: Security). Inside a container it needs user namespaces, which
# Docker's default seccomp profile denies: run with `--security-opt seccomp=unconfined` (or a profile that
# allows unshare/clone of namespaces), else code nodes fail closed with code_sandbox_unavailable.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/* \
    && groupadd --system app && useradd --system --gid app --home /app app \
    && mkdir -p /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
# The packages user code may import, for the interpreter the sandbox runs; never the platform's venv.
COPY requirements-sandbox.txt /tmp/
RUN /opt/venv/bin/pip install --no-cache-dir --python /usr/local/bin/python3 --target /opt/sandbox-python \
      -r /tmp/requirements-sandbox.txt \
    && echo /usr/local/bin/python3 > /opt/sandbox-python/.interpreter && chmod -R a+rX /opt/sandbox-python
WORKDIR /app
COPY --chown=app:app . .
USER app
EXPOSE 5001
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:5001/healthz', timeout=4)" || exit 1
CMD ["python", "manage.py", "run_platform", "--host", "0.0.0.0", "--port", "5001", "--celery", "off"]
