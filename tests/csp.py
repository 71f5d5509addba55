"""What the Content-Security-Policy tests look for: a strict policy header and no inline code in a page."""

from html.parser import HTMLParser

from django.http import HttpResponse

# A <script> of these types is data for a script to read, never run, so the policy does not apply to it.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


def policy_directives(response: HttpResponse) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: [sources]}; empty when it has none."""
    header = response.get("Content-Security-Policy", "")
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives[name] = sources
    return directives


def policy_problems(response: HttpResponse) -> list[str]:
    """How the response's policy falls short of the project's: present, strict, no inline code allowed."""
    directives = policy_directives(response)
    if not directives:
        return ["no Content-Security-Policy header"]
    problems = []
    header = response["Content-Security-Policy"]
    for loophole in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"):
        if any(loophole in sources for sources in directives.values()):
            problems.append(f"the policy allows {loophole}: {header}")
    expected = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    for name, sources in expected.items():
        if directives.get(name) != sources:
            problems.append(f"{name} is {directives.get(name)}, not {sources}: {header}")
    style_sources = [source for source in directives.get("style-src", []) if not source.startswith("'nonce-")]
    if style_sources != ["'self'"]:
        problems.append(f"style-src allows more than the site and a nonce: {header}")
    return problems


class _InlineCodeFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        line = self.getpos()[0]
        if tag == "script" and "src" not in attributes and attributes.get("type") not in DATA_SCRIPT_TYPES:
            self.found.append(f"line {line}: inline <script>")
        if tag == "style":
            self.found.append(f"line {line}: <style> element")
        if "style" in attributes:
            self.found.append(f'line {line}: style="{attributes["style"]}" on <{tag}>')
        for name in attributes:
            if name.startswith("on"):
                self.found.append(f"line {line}: {name}= handler on <{tag}>")

    handle_startendtag = handle_starttag


def inline_code(html: str) -> list[str]:
    """Every inline script, <style> element, style attribute and on…= handler in the HTML."""
    finder = _InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def page_problems(response: HttpResponse) -> list[str]:
    """The policy's shortcomings and, for an HTML page, its inline code."""
    problems = policy_problems(response)
    if response.get("Content-Type", "").startswith("text/html"):
        problems += inline_code(response.content.decode())
    return problems
