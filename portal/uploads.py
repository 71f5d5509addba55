"""Upload checking: a file is what its content says, decoded in full, and carries nothing active.

Used by every app that takes files (attachments, icons); a caller says which types it accepts and
which form field the file came in, and gets back the type and the file extension to store it under.
"""

import io
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"

_SIGNATURES = ((b"%PDF-", PDF), (b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG))
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg"}
_PILLOW_FORMATS = {PNG: "PNG", JPEG: "JPEG"}
# The last chunk of every PNG: anything after it (an HTML page, a script) is refused.
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"

# Keys and action types that make a PDF run something when it is opened or clicked (PDF 32000-1,
# 12.6.4): JavaScript, launching a program, and XFA forms (which carry their own scripts).
_ACTIVE_KEYS = {"/JS", "/JavaScript", "/XFA"}
_ACTIVE_ACTIONS = {"/JavaScript", "/Launch"}


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    extension: str


def sniff_content_type(head: bytes) -> str | None:
    """The type a file's first bytes say it is, whatever its name or declared type claims."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def upload_check(*, uploaded: IO[bytes], field: str, allowed: Collection[str], refused: str) -> CheckedUpload:
    """Check an uploaded file of one of the `allowed` types; a ValidationError naming `field` if not.

    `refused` is the message for a file whose first bytes are none of the allowed types. Images are
    decoded by Pillow, in full and within `Image.MAX_IMAGE_PIXELS` (a decompression bomb is refused
    before its pixels are allocated); a PDF must parse and hold no JavaScript or launch action.
    """
    uploaded.seek(0)
    content = uploaded.read()
    uploaded.seek(0)
    content_type = sniff_content_type(content[:16])
    if content_type is None or content_type not in allowed:
        raise ValidationError({field: [refused]})
    problem = _pdf_problem(content) if content_type == PDF else _image_problem(content, content_type)
    if problem:
        raise ValidationError({field: [problem]})
    return CheckedUpload(content_type=content_type, extension=EXTENSIONS[content_type])


def _image_problem(content: bytes, content_type: str) -> str | None:
    try:
        with warnings.catch_warnings():
            # Between MAX_IMAGE_PIXELS and twice it, Pillow only warns: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format != _PILLOW_FORMATS[content_type]:
                    return _("The image is not a valid PNG or JPEG file.")
                image.verify()
            with Image.open(io.BytesIO(content)) as image:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _("The image has more than %(pixels)d pixels.") % {"pixels": Image.MAX_IMAGE_PIXELS}
    except Exception:
        # Whatever Pillow raises on a damaged or crafted file (OSError, SyntaxError, ValueError, ...).
        return _("The image is not a valid PNG or JPEG file.")
    if content_type == PNG and not content.endswith(_PNG_END):
        return _("The image has data after its end.")
    return None


def _pdf_problem(content: bytes) -> str | None:
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            return _("Encrypted PDF files are not accepted.")
        active = _pdf_has_active_content(reader)
    except Exception:
        # Whatever pypdf raises on a damaged or crafted file: it cannot be checked, so it is refused.
        return _("The file is not a readable PDF.")
    if active:
        return _("PDF files with JavaScript, launch actions or XFA forms are not accepted.")
    return None


def _pdf_has_active_content(reader: PdfReader) -> bool:
    """Walks every object reachable from the trailer (the catalog, pages, annotations, name trees,
    open actions), without recursion, each indirect object once."""
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            if _ACTIVE_KEYS & set(item.keys()):
                return True
            action = item.get("/S")
            if isinstance(action, NameObject) and action in _ACTIVE_ACTIONS:
                return True
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return False
