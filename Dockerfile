# Non-root, and friendly to a read-only root filesystem: the image is never
# written at run time (bytecode compiled at build; temporary files, e.g.
# uploads spooled by the multipart parser, and the SQLite default go to the
# /data volume).  Run it as
#   docker run --read-only -v loans-data:/data -p 8000:8000 loans
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOANS_DATABASE_URL=sqlite:////data/loans.db \
    TMPDIR=/data/tmp

WORKDIR /srv/loans
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY jobs ./jobs
COPY migrations ./migrations
RUN pip install . \
    && python -m compileall -q app jobs migrations \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent loans \
    && mkdir /data && chown loans /data

USER 10001
VOLUME ["/data"]
EXPOSE 8000

# Ready = the database answers and its schema is at this code's migration head.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4).status != 200)"

CMD ["sh", "-c", "mkdir -p \"$TMPDIR\" && alembic upgrade head && exec uvicorn app.main:create_app --factory --host 0.0.0.0 --port 8000 --no-access-log"]
