"""Settings for `make bench`: production settings over plain HTTP on loopback, with reference views.

The benchmark serves the project's URLs plus two references (benchmarks/urls.py): a trivial DRF
endpoint and Django's stock admin changelists. Everything else is production: DEBUG off, no query
log, the same middleware, caches and DRF classes.
"""

from portal.settings.production import *  # noqa: F403
from portal.settings.production import STORAGES

ROOT_URLCONF = "benchmarks.urls"
# Loopback HTTP: no redirect to HTTPS, no secure-only cookies (the in-process client logs in over HTTP).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Admin pages render {% static %}; the manifest storage would need collectstatic first.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
