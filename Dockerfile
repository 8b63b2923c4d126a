# teambeat's container image (README, "Running it in containers"):
#   docker build -t teambeat .
#   docker run -v $PWD/teambeat.toml:/etc/teambeat/teambeat.toml:ro -e TEAMBEAT_SERVER_HOST=0.0.0.0 \
#       -p 8080:8080 teambeat [--role all|web|worker]
# The config file is mounted; secrets come as TEAMBEAT_<SECTION>_<KEY> environment variables.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: teambeat and its dependencies in a virtualenv (pip's caches and build tools stay here) ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/teambeat
ENV PATH=/opt/teambeat/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY scheduling ./scheduling
# postgres: asyncpg; matplotlib draws the charts in recaps, summaries and 小组PK posts. Versions are
# pyproject.toml's ranges, as for `pip install .` anywhere.
# hadolint ignore=DL3013
RUN pip install ".[postgres]" "matplotlib>=3.8"

# ---- runtime: the virtualenv, the CJK fonts the charts need, a user that is not root ----
FROM ${PYTHON_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 teambeat \
    && useradd --system --uid 10001 --gid teambeat --home-dir /var/lib/teambeat \
        --shell /usr/sbin/nologin teambeat \
    && install -d -o teambeat -g teambeat /var/lib/teambeat /var/cache/teambeat /etc/teambeat
COPY --from=build /opt/teambeat /opt/teambeat
COPY deploy/entrypoint.sh /usr/local/bin/teambeat-entrypoint
ENV PATH=/opt/teambeat/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/var/cache/teambeat/matplotlib \
    TEAMBEAT_CONFIG=/etc/teambeat/teambeat.toml
USER 10001:10001
# Matplotlib's font list, built once here rather than on the first chart (it scans every font).
RUN python -c "import matplotlib.font_manager as fm; fm.findfont(fm.FontProperties(family='Noto Sans CJK SC'))"
# SQLite, if used, belongs here: url = "sqlite:////var/lib/teambeat/teambeat.db" (four slashes: absolute).
WORKDIR /var/lib/teambeat
VOLUME ["/var/lib/teambeat"]
EXPOSE 8080
ENTRYPOINT ["teambeat-entrypoint"]
CMD []
