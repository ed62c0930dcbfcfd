"""Extract a PDF's text in a child process: ``python -m rag.ingest.pdf_worker FILE``.

pypdf runs here, not in the indexer, so that a hostile or broken PDF can only
exhaust this process's time and memory limits. The result is one JSON object
on stdout: ``{"pages": [...], "title": ..., "date": ...}`` or ``{"skip": reason}``.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any

MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024


def extract(path: str) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            # An empty user password only restricts editing; anything else needs a secret.
            return {"skip": "PDF is password-protected"}
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = str(info.title or "") if info else ""
        date = _creation_date(info)
    except DependencyError:
        return {"skip": "PDF uses AES encryption, which needs the 'cryptography' package"}
    except FileNotDecryptedError:
        return {"skip": "PDF is password-protected"}
    except PdfReadError as error:
        return {"skip": f"corrupt PDF: {_one_line(error)}"}
    return {"pages": pages, "title": title, "date": date}


def _creation_date(info: Any) -> str | None:
    try:
        created = info.creation_date if info else None
    except ValueError:  # a malformed date string is common and harmless
        return None
    return created.strftime("%Y-%m-%d") if created else None


def _one_line(error: Exception) -> str:
    message = " ".join(str(error).split()) or type(error).__name__
    return message[:160]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m rag.ingest.pdf_worker FILE", file=sys.stderr)
        return 2
    # The worker limits itself rather than through subprocess's preexec_fn,
    # which is unsafe when the parent has threads (the web UI does).
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    try:
        result = extract(argv[1])
    except MemoryError:
        result = {"skip": f"PDF needs more than {MEMORY_LIMIT_BYTES // 2**20} MB to parse"}
    except RecursionError:
        result = {"skip": "corrupt PDF: objects nested too deeply"}
    except Exception as error:  # malformed PDFs break pypdf in too many ways to list
        result = {"skip": f"corrupt PDF: {type(error).__name__}: {_one_line(error)}"}
    json.dump(result, sys.stdout, ensure_ascii=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
