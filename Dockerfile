# The bridge: one image for `bridge init`, `bridge serve` and `bridge worker` (docker-compose.yml).
# The wheel is built from pyproject.toml, which leaves the test bed (bridge/testbed) out; only the wheel and
# keycloak-config/ reach the runtime image. Secrets come from the environment at run time, never the image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bridge ./bridge
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# MALLOC_ARENA_MAX=2: glibc's malloc would keep up to 8 arenas per core, one per thread of the API's thread
# pool, each holding freed memory of its own (docs/decisions/0830).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    BRIDGE_KEYCLOAK__CONFIG_DIR=/app/keycloak-config
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('bridge.testbed') is not None)" \
    && useradd --system --uid 10001 --home-dir /app bridge
COPY keycloak-config /app/keycloak-config
# The sync's spool (sync.spool_dir, decision 0805): the worker's volume is mounted here and keeps this owner.
RUN mkdir -p /app/var/sync-spool && chown bridge /app/var/sync-spool
WORKDIR /app
USER bridge
# 8000: the API (bridge serve); 9100: the worker's /healthz, /readyz and /metrics (bridge worker).
EXPOSE 8000 9100
CMD ["bridge", "--help"]
