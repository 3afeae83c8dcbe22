FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sasha ./sasha
RUN pip install --no-cache-dir .
COPY devices.yaml ./
ENV SASHA_DEVICES=/app/devices.yaml \
    SASHA_STATE_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["sasha"]
CMD ["--help"]
