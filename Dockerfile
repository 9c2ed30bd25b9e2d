# cxe-gate as a container: `docker build --build-arg VERSION=1.2.0 -t cxe-gate:1.2.0 .`, then
# `docker run --rm -v "$PWD:/work" -e PROMETHEUS_TOKEN cxe-gate:1.2.0 evaluate -c cxe.yml ...`.
# Used by examples/argo/analysis-template.yml and examples/gitlab-ci.yml.

FROM python:3.11-slim AS wheel
# The build context has no git history: the version is given (setuptools-scm reads it).
ARG VERSION=0.1.0
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir "build>=1.2" \
 && SETUPTOOLS_SCM_PRETEND_VERSION="$VERSION" python -m build --wheel --outdir /dist

FROM python:3.11-slim
# The providers' optional clients (SQLAlchemy, psycopg, google-auth) come with the image, pinned
# like the GitHub Action's; the browser extra does not (a gate step needs no browser).
COPY --from=wheel /dist/ /tmp/dist/
COPY constraints.txt /tmp/constraints.txt
RUN wheel="$(ls /tmp/dist/cxe_gate-*.whl)" \
 && pip install --no-cache-dir -c /tmp/constraints.txt "${wheel}[sql,postgres,ga4,bigquery]" \
 && rm -rf /tmp/dist /tmp/constraints.txt \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin gate
USER 10001
WORKDIR /work
ENTRYPOINT ["cxe-gate"]
CMD ["--help"]
