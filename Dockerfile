# Container image of the ordercast worker (used by deploy/compose.yaml and the
# Kubernetes manifests in deploy/k8s/).  Build from the repository root:
#   docker build -t ordercast:0.1.0 .
# The entrypoint runs the Faust worker; `docker run ordercast:0.1.0 --loglevel debug`
# passes options to it, and `--entrypoint ordercast` reaches the other commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# README.m[d]: copied once it exists; a pattern may match nothing.
COPY pyproject.toml README.m[d] ./
COPY schemas ./schemas
COPY streams ./streams
COPY channels ./channels
RUN pip install . && rm -rf /src

COPY deploy/merchants.example.json /etc/ordercast/merchants.json

# A fixed non-root uid, matching runAsUser in deploy/k8s/deployment.yaml.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/ordercast \
        --create-home --shell /usr/sbin/nologin ordercast

# Containers listen on every interface; table state lives under the home dir.
ENV ORDERCAST_WEB_HOST=0.0.0.0 \
    ORDERCAST_WEB_PORT=6066 \
    ORDERCAST_DATA_DIR=/var/lib/ordercast/data \
    ORDERCAST_MERCHANTS_FILE=/etc/ordercast/merchants.json

USER 10001:10001
WORKDIR /var/lib/ordercast
EXPOSE 6066
ENTRYPOINT ["ordercast", "worker"]
