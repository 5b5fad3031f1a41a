# syntax=docker/dockerfile:1
# The base image is pinned by digest (python:3.11-slim; the digest as public projects pin it,
# not checked against a registry from here: re-pin with
# `docker buildx imagetools inspect python:3.11-slim` when updating).
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# Build: a virtualenv, dependencies first (their own layer: a code change reuses it).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY README.md ./
COPY hooks ./hooks
COPY fixtures ./fixtures
COPY cds_service ./cds_service
RUN pip install --no-deps .

# Run: the virtualenv only, as a non-root user, auth on (JWT) by default.
# Its data (the SQLite database and the per-installation secret kept in it) is in /data, a
# volume: mount one (`-v b12cds-data:/data`) or it is lost with the container.
# On 0.0.0.0 with JWT auth the service needs B12CDS_PUBLIC_URL (the base URL clients call: a
# token's aud is checked against it) and refuses to start without it.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    B12CDS_DATA_DIR=/data \
    B12CDS_HOST=0.0.0.0 \
    B12CDS_PORT=8080
RUN useradd --system --uid 10001 --home-dir /data --create-home b12cds
COPY --from=build /opt/venv /opt/venv
USER b12cds
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# the port the service was configured with (B12CDS_PORT), not a second copy of it
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('B12CDS_PORT', '8080'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["b12-cds"]
# host and port come from B12CDS_HOST / B12CDS_PORT (flags would silently win over them)
CMD ["serve"]
