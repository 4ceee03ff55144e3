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

# Only what the web app and the analysis report import (the versions the test suite ran with).
RUN pip install \
        "flask==3.1.3" "flask-wtf==1.3.0" "wtforms==3.3.2" "werkzeug==3.1.9" "flask-limiter==4.1.1" \
        "flask-babel==4.0.0" "sqlalchemy==2.1.9" "alembic==1.20.1" "psycopg[binary]==3.3.9" "gunicorn==27.0.1" \
        "requests==2.34.2" "click==8.5.1" "tqdm==4.70.1" \
        "numpy==2.4.6" "pandas==3.1.1" "pyarrow==26.0.1" \
        "scipy==1.17.1" "statsmodels==0.15.0" "matplotlib==3.11.2" "threadpoolctl==3.8.0" "pyloudnorm==0.2.0"

RUN useradd --system --create-home --home-dir /home/tuneback --uid 10001 tuneback \
    && mkdir -p /app /clips /var/lib/tuneback \
    && chown tuneback /var/lib/tuneback

WORKDIR /app
# The packages are used in place (no `pip install .`, which would pull torch): PYTHONPATH points here.
COPY --chown=root:root alembic.ini ./
COPY --chown=root:root migrations ./migrations
COPY --chown=root:root experiment ./experiment
COPY --chown=root:root analysis ./analysis
COPY --chown=root:root tuneback/__init__.py tuneback/errors.py tuneback/clirun.py ./tuneback/
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
