# One image for every Sasha command: `sasha run` (the daemon), `sasha sim`, `sasha ask`, ...
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY sasha ./sasha
COPY prompts ./prompts
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 sasha
COPY devices.yaml /app/devices.yaml
ENV SASHA_DEVICES=/app/devices.yaml \
    SASHA_STATE_DIR=/data \
    PYTHONUNBUFFERED=1
RUN mkdir /data && chown sasha /data
USER sasha
VOLUME ["/data"]
ENTRYPOINT ["sasha"]
CMD ["run"]
