FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOANS_DATABASE_URL=sqlite:////data/loans.db

WORKDIR /srv/loans
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY jobs ./jobs
COPY migrations ./migrations
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /srv/loans loans \
    && mkdir /data && chown loans /data

USER loans
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"

CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.main:create_app --factory --host 0.0.0.0 --port 8000"]
