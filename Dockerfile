# The API only: production talks to a real MongoDB replica set (see docker-compose.yml), so the
# embedded (GPL-2.0) database is not installed here.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY privacy ./privacy
RUN pip install --no-cache-dir . && useradd --create-home granular \
    && mkdir -p /home/granular/keys && chown granular /home/granular/keys
USER granular
ENV GRANULAR_HOST=0.0.0.0 GRANULAR_ENV=production GRANULAR_DATA_DIR=/home/granular/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["granular", "serve"]
