# The image the Helm chart runs (deploy/helm/cdrflow, values `image.repository`): every process in
# the chart is a `cdrflow` command in this one image.
#   docker build -t ghcr.io/cdrflow/cdrflow:0.1.0 .
FROM python:3.11-slim AS build
# gcc builds the compiled CSV split (producers/_csvfields.c); the image has Python's headers
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
# one COPY per package directory of pyproject.toml's package-dir (tests/test_helm_chart.py checks)
COPY cdrflow cdrflow
COPY schemas schemas
COPY infra infra
COPY clickhouse clickhouse
COPY producers producers
COPY numbering numbering
COPY tenants tenants
COPY incidents incidents
COPY stream stream
COPY dashboards dashboards
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# uid/gid 10001: the chart's podSecurityContext (runAsNonRoot, readOnlyRootFilesystem, /tmp an emptyDir)
RUN groupadd --gid 10001 cdrflow && useradd --uid 10001 --gid 10001 --home-dir /var/lib/cdrflow --create-home cdrflow
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CDRFLOW_DATA_DIR=/var/lib/cdrflow
USER 10001
WORKDIR /var/lib/cdrflow
CMD ["cdrflow", "--help"]
