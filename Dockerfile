# The portal's one image: gunicorn by default; docker-compose.yml runs the same image as worker, beat and migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Production settings refuse to load without a secret key and hosts; collectstatic needs neither for real,
# so build-only dummies are enough. They are not secrets and never reach the running containers.
ARG DJANGO_SECRET_KEY=build-only-dummy-key-collectstatic-does-not-sign-anything
ARG DJANGO_ALLOWED_HOSTS=localhost
RUN DJANGO_SETTINGS_MODULE=portal.settings.production \
    DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY}" \
    DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS}" \
    REDIS_URL="" \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/private-media \
    && chown app:app /app/media /app/private-media

# The code stays owned by root and read-only to the app user; only media is writable.
ENV DJANGO_SETTINGS_MODULE=portal.settings.production \
    DJANGO_MEDIA_ROOT=/app/media \
    DJANGO_PRIVATE_MEDIA_ROOT=/app/private-media

USER app
EXPOSE 8000

# gunicorn.conf.py: gthread workers on 0.0.0.0:8000, access log on stdout (WEB_CONCURRENCY: workers).
CMD ["gunicorn", "portal.wsgi", "--config", "gunicorn.conf.py"]
