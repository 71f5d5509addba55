"""Development settings: debug on, emails printed to the console."""

from .base import *  # noqa: F403
from .base import env, webhook_ports

DEBUG = env.bool("DJANGO_DEBUG", default=True)
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Local receivers (a tunnel, a test server on 127.0.0.1) may get webhook deliveries.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=True)
WEBHOOK_ALLOWED_PORTS = webhook_ports(env("WEBHOOK_ALLOWED_PORTS", default="*"))
# Serve static files straight from the app folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
