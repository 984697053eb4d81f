"""Log inputs named by fsspec URLs (``s3://bucket/logs/``, ``gs://...``, ``memory://...``,
``file:///...``): listed, sized and opened through fsspec, imported only when a URL is given.

A URL keeps its spelling as the file's name in the report (``Url`` is a ``str``: ``str(url)`` is
the URL). Local paths never come here: they stay ``pathlib.Path`` and are read with ``open``.
fsspec comes with Dask (``promptcache[dask]``); ``s3://`` needs s3fs and ``gs://`` gcsfs.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, PromptCacheError


class Url(str):
    """A file named by an fsspec URL; ``name`` is its last part, as ``Path.name`` would be."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self.rstrip("/").rsplit("/", 1)[-1]


def is_url(p: object) -> bool:
    """A string with a protocol (``s3://``, ``file://``), not a Windows drive (``C:\\``)."""
    s = str(p)
    i = s.find("://")
    return isinstance(p, str) and i > 1 and s[:i].replace("+", "").replace("-", "").isalnum()


def _fs(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise ConfigError(
            f"{url}: reading URLs needs fsspec (pip install 'promptcache[dask]'), or give a local path"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # s3:// without s3fs, gs:// without gcsfs, an unknown protocol
        raise ConfigError(f"{url}: {exc}") from None
    return fs, path


def _url(fs: Any, path: str) -> Url:
    return Url(fs.unstrip_protocol(path))


def expand(url: str, is_log_name: Any) -> list[Url]:
    """The files a URL names: itself, every log file under it (a directory or prefix), or a glob's matches."""
    fs, path = _fs(url)
    if any(ch in path for ch in "*?["):
        found = [p for p in sorted(fs.glob(path)) if not fs.isdir(p)]
        if not found:
            raise PromptCacheError(f"{url}: the pattern matches no files")
        return [_url(fs, p) for p in found]
    if fs.isdir(path):
        found = sorted(p for p in fs.find(path) if is_log_name(p.rsplit("/", 1)[-1]))
        if not found:
            raise PromptCacheError(f"{url}: directory holds no log files (*.jsonl, *.json, *.gz, *.yaml)")
        return [_url(fs, p) for p in found]
    if not fs.exists(path):
        raise PromptCacheError(f"{url}: no such file")
    return [Url(url)]


def size(url: str) -> int:
    fs, path = _fs(url)
    try:
        return int(fs.size(path) or 0)
    except (OSError, ValueError):
        return 0


def open_binary(url: str) -> Any:
    """A seekable binary file object (fsspec buffers remote reads in blocks)."""
    fs, path = _fs(url)
    return fs.open(path, "rb")
