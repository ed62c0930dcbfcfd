"""bfloat16 or float32: which precision an embedder computes in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rag.errors import SettingsError

#: The choices of ``embedding_precision``.
PRECISIONS = ("auto", "float32", "bfloat16")


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX).

    Without it bfloat16 is emulated and slower than float32.
    """
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise SettingsError(f"Setting embedding_precision must be one of {', '.join(PRECISIONS)}, not {precision!r}.")


def use_bfloat16(precision: str) -> bool:
    check_precision(precision)
    return precision == "bfloat16" or (precision == "auto" and native_bfloat16())


@contextlib.contextmanager
def autocast(bfloat16: bool) -> Iterator[None]:
    """Matrix products in bfloat16, layer norms and pooling in float32; nothing changes for float32."""
    if not bfloat16:
        yield
        return
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield
