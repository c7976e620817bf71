"""Supplementary files of a fleet's AASX package: placeholder PDF documents and the package thumbnail.

Real manufacturers replace these with their documents; the generated ones are valid files (a one-page PDF naming
the document, a PNG) so that AAS tools can open every file the handover documentation refers to.
"""

from __future__ import annotations

import struct
import zlib


def minimal_pdf(title: str, identifier: str) -> bytes:
    """A valid one-page PDF showing the title and identifier."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = f"BT /F1 18 Tf 72 760 Td ({esc(title)}) Tj 0 -28 Td /F1 12 Tf ({esc(identifier)}) Tj ET".encode("latin-1",
                                                                                                              "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def thumbnail_png(size: int = 64) -> bytes:
    """A small PNG of a battery symbol (green charge bar in a dark outline)."""
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type 0
        for x in range(size):
            outline = 8 <= y < size - 8 and 4 <= x < size - 10 and (y in (8, size - 9) or x in (4, size - 11))
            terminal = size - 10 <= x < size - 4 and size // 2 - 6 <= y < size // 2 + 6
            charge = 12 <= y < size - 12 and 8 <= x < int((size - 14) * 0.75)
            if outline or terminal:
                row += bytes((40, 40, 40))
            elif charge:
                row += bytes((46, 160, 67))
            else:
                row += bytes((255, 255, 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(
        b"IEND", b"")
