"""The API documentation pages (Swagger UI, Redoc) without inline script or style, for the CSP."""

from csp.constants import NONCE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


class SwaggerUiView(SpectacularSwaggerSplitView):
    """Swagger UI whose start-up script is a second request to the same URL (`?script`), not inline."""

    template_name = "api_docs/swagger_ui.html"


# Redoc's styled-components write <style> elements at run time: they carry this page's nonce, the
# only inline style the policy allows, and only here. Its search index runs in a worker made from a blob.
@method_decorator(csp_update({"style-src": [NONCE], "worker-src": ["blob:"]}), name="get")
class RedocView(SpectacularRedocView):
    """Redoc, started by a static script that hands it the page's style nonce."""

    template_name = "api_docs/redoc.html"
