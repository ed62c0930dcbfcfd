"""Build small PDFs for tests, by hand or with pypdf, so no binary fixture is stored."""

from __future__ import annotations

import io
import zlib

from pypdf import PdfReader, PdfWriter


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: list[list[str]], title: str | None = None, created: str | None = None) -> bytes:
    """A PDF whose pages show the given lines in Helvetica (a text layer pypdf can read).

    ``created`` is a PDF date such as ``"D:20240305120000Z"``.
    """
    font = 3 + 2 * len(pages)
    objects: list[str] = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [{}] /Count {} >>".format(
            " ".join(f"{3 + 2 * index} 0 R" for index in range(len(pages))), len(pages)
        ),
    ]
    for index, lines in enumerate(pages):
        operations = ["BT", "/F1 12 Tf", "72 712 Td", "14 TL"]
        operations += [f"({_escape(line)}) Tj T*" for line in lines]
        operations.append("ET")
        stream = "\n".join(operations)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * index} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = []
    if title is not None:
        info.append(f"/Title ({_escape(title)})")
    if created is not None:
        info.append(f"/CreationDate ({created})")
    objects.append("<< " + " ".join(info) + " >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def blank_pdf() -> bytes:
    """A valid one-page PDF with no text at all, like a scan without OCR."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(source: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    """``source`` encrypted; an empty ``user_password`` opens without asking."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(source)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# Hostile PDFs ---------------------------------------------------------------


def raw_pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF made of the given object bodies (object 1 is the catalog), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref))
    return out.getvalue()


def _one_page(content: bytes, stream_dict: bytes = b"", page_extra: bytes = b"") -> bytes:
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R " + page_extra + b">>",
            b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(content), stream_dict, content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def _deflate(unit: bytes, repeat: int) -> bytes:
    compressor = zlib.compressobj(9)
    return b"".join(compressor.compress(unit) for _ in range(repeat)) + compressor.flush()


def flate_bomb_pdf(megabytes: int = 100) -> bytes:
    """A page whose ~100 KB content stream inflates to ``megabytes`` MB of spaces."""
    return _one_page(_deflate(b" " * (1 << 20), megabytes), b"/Filter /FlateDecode ")


def heavy_content_pdf(operations: int = 4_800_000) -> bytes:
    """A ~120 KB page holding millions of text operators: parsing it takes many seconds."""
    unit = b"BT (a) Tj ET\n" * 10_000
    return _one_page(_deflate(unit, operations // 10_000), b"/Filter /FlateDecode ")


def nested_arrays_pdf(depth: int = 100_000) -> bytes:
    """A page dictionary holding an array nested ``depth`` levels deep."""
    return _one_page(b"BT ET", page_extra=b"/Nest " + b"[" * depth + b"]" * depth + b" ")


def cyclic_pages_pdf() -> bytes:
    """A page tree that lists itself among its own kids: a naive walk never ends."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length 5 >>\nstream\nBT ET\nendstream",
        ]
    )


def xref_loop_pdf() -> bytes:
    """A cross-reference table whose /Prev points back at itself."""
    data = raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
    xref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    return data.replace(b"/Root 1 0 R ", b"/Root 1 0 R /Prev %d " % xref)
