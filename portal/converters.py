"""Path converters shared by the apps' routes: text that no row can hold never reaches a query."""

from django.urls import register_converter

# The converter's name in route strings: "<platform_uid:platform_uid>".
PLATFORM_UID = "platform_uid"


class PlatformUidConverter:
    """An account's uid on its platform: any text of one path segment without a NUL character.

    PostgreSQL refuses a NUL in a query, so a uid holding one can name no account: the route does not
    match and the answer is 404, before any view runs.
    """

    regex = "[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PlatformUidConverter, PLATFORM_UID)
