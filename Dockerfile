# The dxpulse image: the commands of a deployment on Kafka and a ClickHouse server (init, produce,
# worker, migrate, query, calibrate ...); report, dashboards and run need extras it has not.
#
#   docker build -t dxpulse:0.1.0 .
#   docker run --rm dxpulse:0.1.0 produce --help
#
# Dependencies come from requirements.lock (exact versions, sha256 hashes, Linux x86_64 /
# CPython 3.11); regenerate it with bin/lock after changing pyproject.toml. It holds the base
# dependencies alone, what worker, produce, migrate and init need against Kafka and a ClickHouse
# server (compose runs one): no extra, so no chDB, Tansu, matplotlib or Grafana libraries, and
# `report`, `dashboards`, `run` and a chdb:// DSN say in one line which extra they need. The
# test venv is installed from requirements-dev.lock: these pins unchanged plus every extra.

# Pinned by tag so rebuilds get the same Python and Debian release. Production builds should
# also pin the digest (python:3.11.17-slim-bookworm@sha256:...), which a tag alone does not fix:
# the tag is re-pushed when Debian security updates land.
FROM python:3.11.17-slim-bookworm

# PYTHONDONTWRITEBYTECODE: the source tree is read-only to the runtime user, so no .pyc there.
# PYTHONUNBUFFERED: log lines reach `docker logs` as they are written.
# DXPULSE_WEB__HOST: the worker's status page must listen beyond the container's loopback for
# EXPOSE 6066 to mean anything (the default, 127.0.0.1, suits a laptop, not a container).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DXPULSE_DATA_DIR=/data \
    DXPULSE_WEB__HOST=0.0.0.0

# A fixed uid/gid, so volume ownership and Kubernetes runAsUser can be set to match.
RUN groupadd --gid 10001 dxpulse \
    && useradd --uid 10001 --gid 10001 --no-log-init --create-home --shell /usr/sbin/nologin \
        dxpulse \
    && mkdir -p /data \
    && chown dxpulse:dxpulse /data

WORKDIR /app

# Dependencies first, from the lock file alone: this layer (the bulk of the image) is rebuilt
# only when requirements.lock changes, not on every source edit. --require-hashes refuses any
# file whose hash is not in the lock; --only-binary refuses sdists, whose builds would fetch
# unpinned build tools. The lock also pins setuptools and wheel for the step below.
COPY requirements.lock ./
RUN pip install --no-deps --require-hashes --only-binary=:all: -r requirements.lock

COPY . .
# A regular install, as from the wheel (--no-deps: the lock above is the whole runtime): the migrations, access SQL and Grafana files are
# package data (dxpulse/deploy/ links to deploy/), read with importlib.resources, so the
# installed packages need nothing from /app at run time.
# --no-build-isolation builds with the locked setuptools instead of downloading one.
RUN pip install --no-deps --no-build-isolation . \
    && dxpulse --version

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# Relative paths (report.html, dxpulse-bench/) land in the writable data dir, not in /app.
WORKDIR /data

# The worker's status page: GET /status and GET /health (compose defines the healthchecks).
EXPOSE 6066

ENTRYPOINT ["dxpulse"]
CMD ["--help"]
