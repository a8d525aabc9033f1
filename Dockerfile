# One image for every part of boxoffice: `boxoffice serve auth|movie|booking|payment|notification|web`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# Only boxoffice's own wheel: its dependencies come from the lock, with their hashes, below.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOXOFFICE_MODE=distributed \
    BOXOFFICE_DATA_DIR=/home/boxoffice/data
# Every dependency at the version and hash pinned in requirements/runtime.txt (made from
# pyproject.toml, see "Dependencies" in the README); pip refuses any file whose hash differs.
COPY requirements/runtime.txt /tmp/runtime.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/boxoffice-*.whl \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 --user-group boxoffice
USER 10001:10001
WORKDIR /home/boxoffice
EXPOSE 8001 8002 8003 8004 8005 8006
ENTRYPOINT ["boxoffice"]
# Compose and Kubernetes pass the part to run, e.g. `serve booking --host 0.0.0.0 --port 8003`.
CMD ["serve", "--help"]
