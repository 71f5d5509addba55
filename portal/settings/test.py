"""Test settings: fast hashing, in-memory email, tasks eager unless a test starts a worker."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests see task effects at once; tests/portal/test_celery.py runs a real worker.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "private": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Webhook tests deliver to a receiver on 127.0.0.1; one test turns the guard back on.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
# The receivers listen on free ports; one test sets the production ports.
WEBHOOK_ALLOWED_PORTS = None
REQUIRE_SERVICES = env.bool("REQUIRE_SERVICES", default=False)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# django-axes stays on, as in production: its attempts are rows in the test's own transaction, so one
# test's failed log-ins never lock out another's.
AXES_ENABLED = True
