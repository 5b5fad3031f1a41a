# syntax=docker/dockerfile:1
# Build: a virtualenv with the package and its pinned-range dependencies.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hooks ./hooks
COPY fixtures ./fixtures
COPY cds_service ./cds_service
RUN pip install .

# Run: the virtualenv only, as a non-root user, auth on (JWT) by default. On 0.0.0.0 with
# JWT auth the service needs B12CDS_PUBLIC_URL (the base URL clients call: a token's aud is
# checked against it) and refuses to start without it.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    B12CDS_DATABASE_URL=sqlite:////data/b12cds.sqlite3
RUN useradd --system --uid 10001 --home-dir /data --create-home b12cds
COPY --from=build /opt/venv /opt/venv
USER b12cds
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["b12-cds"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
