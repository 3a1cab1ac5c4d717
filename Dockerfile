# The bridge (API and worker share one image). Secrets come from the environment at run time, never the image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bridge ./bridge

COPY keycloak-config ./keycloak-config
RUN pip install --no-cache-dir . && useradd --system --uid 10001 bridge
USER bridge
ENV BRIDGE_KEYCLOAK__CONFIG_DIR=/app/keycloak-config
CMD ["bridge", "--help"]
