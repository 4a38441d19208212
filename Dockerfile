# The portal's image: web (uvicorn, ASGI for streamed playground answers), worker and beat.
# plotly.js's basic bundle comes from npm (package.json); only that package is copied.
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_VAR_DIR=/var/lib/portal
WORKDIR /app

# Exactly the locked versions, hash-checked (requirements/base.txt; `make lock` updates it).
COPY pyproject.toml ./
COPY requirements/base.txt requirements/base.txt
RUN pip install --no-cache-dir --upgrade pip \
 && pip install --no-cache-dir --require-hashes -r requirements/base.txt \
 && pip install --no-cache-dir --no-deps -e . \
 && useradd --system --uid 1000 portal \
 && mkdir -p /var/lib/portal && chown portal /var/lib/portal
COPY . .
COPY --from=assets /app/node_modules/plotly.js-basic-dist-min node_modules/plotly.js-basic-dist-min
# collectstatic needs settings that import cleanly; these throwaway values never run the app.
RUN DEBUG=0 SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=build-only-build-only-build-only-key= \
    python manage.py collectstatic --noinput

USER portal
EXPOSE 8000
# uvloop and httptools: the fast event loop and HTTP parser (docs/operations.md). One
# worker a core unless WEB_CONCURRENCY says otherwise (mind the database pool bound).
CMD ["sh", "-c", "exec uvicorn portal.asgi:application --host 0.0.0.0 --port 8000 --loop uvloop --http httptools --workers ${WEB_CONCURRENCY:-$(nproc)}"]
