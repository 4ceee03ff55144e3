# syntax=docker/dockerfile:1
# The AB-X study web app (experiment/ + the analysis report) under gunicorn. No torch, no reconstruct/ stack:
# the clips are made elsewhere (`tuneback reconstruct …`) and mounted at /clips. See docs/deploy.md.
#
#   docker build -t tuneback-web .
#   docker compose up -d            # app + PostgreSQL, see compose.yaml

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the web app and the analysis report import: the `web` and `analysis` extras of pyproject.toml (the one
# list of dependencies; no torch, which only the `reconstruct` extra pulls), read by tuneback/extras.py.
COPY --chown=root:root pyproject.toml /build/pyproject.toml
COPY --chown=root:root tuneback/extras.py /build/tuneback/
RUN python /build/tuneback/extras.py web analysis > /build/requirements.txt \
    && pip install -r /build/requirements.txt \
    && ! pip show torch >/dev/null 2>&1 \
    && rm -rf /build

RUN useradd --system --create-home --home-dir /home/tuneback --uid 10001 tuneback \
    && mkdir -p /app /clips /var/lib/tuneback \
    && chown tuneback /var/lib/tuneback

WORKDIR /app
# The packages are used in place (templates/ and static/ beside them): PYTHONPATH points here.
COPY --chown=root:root alembic.ini ./
COPY --chown=root:root migrations ./migrations
COPY --chown=root:root experiment ./experiment
COPY --chown=root:root analysis ./analysis
COPY --chown=root:root loadbot ./loadbot
COPY --chown=root:root tuneback_core ./tuneback_core
COPY --chown=root:root templates ./templates
COPY --chown=root:root static ./static
COPY --chown=root:root translations ./translations

ENV PYTHONPATH=/app \
    TUNEBACK_INSTANCE_PATH=/var/lib/tuneback \
    MPLCONFIGDIR=/tmp/matplotlib \
    GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000 --workers 4 --worker-class gthread --threads 8 --timeout 60 --graceful-timeout 30 --access-logfile - --forwarded-allow-ips=*"

USER tuneback
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/', timeout=4).status < 500 else 1)"

# Migrations are a separate, one-off step (`python -m experiment migrate`, the compose `migrate` service),
# so that several app containers never race to migrate.
CMD ["gunicorn", "experiment:create_app()"]
