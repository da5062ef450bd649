# One image for both roles: the web app (default) and the sync sender (`evac sync run`).
#   docker build -t evac .
#   docker run -p 8000:8000 -e EVAC_DATABASE_URL=postgresql://… -e EVAC_SECRET_KEY=… -e EVAC_CARD_KEY=… evac
#   docker run -e EVAC_DATABASE_URL=… -e EVAC_HEALTH_URL= evac sync run
#   docker run -e EVAC_DATABASE_URL=… evac db upgrade        (once per release, before the web role)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EVAC_INSTANCE_PATH=/var/lib/evac \
    EVAC_HEALTH_URL=http://127.0.0.1:8000/healthz

# The Japanese font is embedded into printed cards and rosters.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-ipaexfont-gothic \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md babel.cfg ./
COPY evac ./evac
COPY sync ./sync
COPY printables ./printables
# The same install as the Makefile (without the test extras), then the compiled catalogues.
RUN pip install . \
 && pybabel compile -d "$(python -c 'import evac, os; print(os.path.dirname(evac.__file__))')/translations"

RUN useradd --system --uid 10001 --home /var/lib/evac --create-home evac
USER evac
VOLUME ["/var/lib/evac"]
EXPOSE 8000

# Web role: the database and the HTTP endpoint. Sync role: run with -e EVAC_HEALTH_URL= (database only).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD evac health --url "$EVAC_HEALTH_URL" || exit 1

ENTRYPOINT ["evac"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
