"""Files for upload tests: real images and PDFs, and hostile ones made to pass a first-bytes check."""

import functools
import io
import struct
import zlib

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject


def png(width: int = 8, height: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(width: int = 8, height: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 30, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


PNG = png()
JPEG = jpeg()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def png_bomb(side: int = 20000) -> bytes:
    """A valid black-and-white PNG of side by side pixels that compresses to about 50 KB."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit per pixel, greyscale
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _pdf(action: DictionaryObject | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if action is not None:
        writer._root_object[NameObject("/OpenAction")] = action
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PDF = _pdf()
PDF_WITH_JAVASCRIPT = _pdf(
    DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1)")}
    )
)
PDF_WITH_LAUNCH = _pdf(
    DictionaryObject(
        {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")}
    )
)


def pdf_with_javascript_in_page_annotation() -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/A"): DictionaryObject(
                {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("x()")}
            ),
        }
    )
    writer.add_annotation(page, link)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
