# Taskdeck: one image for the webapp, the workers and the migrate job (docker-compose.yml).
#   docker build -t taskdeck .
#   docker run -p 8080:8080 taskdeck            # embedded mode: SQLite, in-process queue
FROM python:3.11.11-slim-bookworm

# Debian's Chromium (what the workers are built and measured against; Playwright's own
# download is not used) and its headless shell, the browser the (headless) workers launch: the
# same engine without the browser's windows, a third of its browser-process CPU per purchase
# (bench/README.md); fonts so pages and screenshots render text, tini as PID 1 so signals reach
# Python and Chromium's exited children are reaped.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        chromium chromium-headless-shell \
        fonts-liberation fonts-dejavu-core fonts-noto-color-emoji \
        tini \
    && rm -rf /var/lib/apt/lists/*

# Chromium's own sandbox is off in the image (TASKDECK_BROWSER_SANDBOX=false → --no-sandbox, built
# by workers/browser.py: launch_options, the one builder the worker, `python -m workers check
# --browser` and tests/workers/test_image_browser.py use). Under Docker's default seccomp profile
# and without CAP_SYS_ADMIN, Chromium cannot create the user namespaces its sandbox needs, and
# Debian's setuid `chromium-sandbox` is not wanted in a container either; so it would not start at
# all. The container is the boundary instead: a non-root user, no added capabilities, Docker's
# default seccomp profile, and the browser only visits the stores the bots are written for.
# Outside the image the sandbox stays on for non-root users (the setting's default).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TASKDECK_BROWSER_PATH=/usr/bin/chromium-headless-shell \
    TASKDECK_BROWSER_SANDBOX=false \
    TASKDECK_HOST=0.0.0.0 \
    TASKDECK_ARTIFACTS_DIR=/data/artifacts

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project, editable: alembic.ini and alembic/ sit next to the packages as in a checkout,
# and `python -m webapp` and `taskiq worker` import the same files. A worker container runs
# `python -m workers run` (docker-compose.yml): it checks the database, Redis, the schema and that
# Chromium starts, then execs taskiq with --shutdown-timeout above TASKDECK_SHUTDOWN_GRACE.
COPY . .
RUN pip install --no-deps -e .

# Non-root. It owns /app itself (not the code in it) so the app can create its state dirs
# there (.nicegui, ...), and /data/artifacts and /data/secrets (the key file, mode 0700), which
# named volumes inherit.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin taskdeck \
    && install -d -o taskdeck -g taskdeck /data/artifacts \
    && install -d -m 0700 -o taskdeck -g taskdeck /data/secrets \
    && chown taskdeck:taskdeck /app
USER taskdeck

EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "webapp"]
