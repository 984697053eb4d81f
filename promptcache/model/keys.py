"""Stable keys: a text's 64-bit digest, the same in every process.

Python's ``hash(str)`` is salted per process (``PYTHONHASHSEED``), so a key made from it in one
process means nothing in another. A key that leaves its process (a piece of a prompt measured on a
Dask worker and merged on the client, a trace's scoped block id) is a BLAKE2b digest of the
text's UTF-8 bytes instead, as a signed 64-bit integer (an ``array('q')`` item). Hashes of tuples
of such ints (``chain_of``) are not salted. Caches that never leave their process
(``measure.tokens.LineCache``) keep the faster ``hash``.
"""

from __future__ import annotations

from hashlib import blake2b


def text_key(text: str, domain: bytes = b"") -> int:
    """The stable key of ``text``; ``domain`` (at most 16 bytes) keeps kinds of keys apart (an
    output named by its call id never equals a piece's key)."""
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate (YAML can carry one) still hashes
    return int.from_bytes(blake2b(data, digest_size=8, person=domain).digest(), "little", signed=True)
