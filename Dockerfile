# One image for every part of boxoffice: `boxoffice serve auth|movie|booking|payment|notification|web`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOXOFFICE_MODE=distributed \
    BOXOFFICE_DATA_DIR=/home/boxoffice/data
# The wheels carry every dependency at the versions pinned in pyproject.toml.
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/boxoffice-*.whl \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 --user-group boxoffice
USER 10001:10001
WORKDIR /home/boxoffice
EXPOSE 8001 8002 8003 8004 8005 8006
ENTRYPOINT ["boxoffice"]
# Compose and Kubernetes pass the part to run, e.g. `serve booking --host 0.0.0.0 --port 8003`.
CMD ["serve", "--help"]
