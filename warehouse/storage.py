"""Every file Nexus keeps outside Delta goes through this module, on local disk or on S3 alike.

Raw files (``raw/...``), the landing inbox, the daily reports and model artifacts live beside the
Delta tables. A *location* is a local path or an object-store URI ``s3://bucket/prefix``;
:func:`folder` resolves it once through ``pyarrow.fs`` (Arrow's native file systems, no Python
callbacks from I/O threads) and a :class:`Folder` reads, writes, lists and removes files relative to
it with the same meaning on both:

- a write is all or nothing: a reader sees the old file or the whole new one, never a part
  (local: a temporary name, fsync, rename; S3: a temporary key, then a server-side copy, because
  an S3 upload stream closed by an exception completes with what was written so far);
- listing a folder returns its files by name, skipping hidden (``.``) names: temporary files;
- removing a missing file is not an error (two runs may both clean up);
- a writer killed mid-write can leave its temporary behind (a hidden ``.<name>.<random>.tmp``);
  :meth:`Folder.temporaries` finds the old ones, and ``maintain_lake`` removes them.

S3 credentials, region and endpoint come from the standard AWS variables of the process, never
from the repository: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION`` (or
``AWS_DEFAULT_REGION``; default ``us-east-1``) and ``AWS_ENDPOINT_URL`` for a store that is not
AWS (SeaweedFS, MinIO, Ceph; ``http://`` URLs are allowed for such a store). :func:`delta_options`
gives deltalake the same settings, so Delta tables and plain files always agree on the store.

>>> f = folder("/tmp/nexus-doctest")
>>> f.write_bytes("a/b.txt", b"hi"); f.read_bytes("a/b.txt")
b'hi'
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
import os
import posixpath
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pyarrow.fs as pa_fs

from nexus.errors import ConfigError

SCHEMES = ("s3",)  # object stores Nexus runs on and tests against (pyarrow and deltalake know more)
#: Attempts of one S3 request (pyarrow's standard strategy, deltalake's ``max_retries``) and how long
#: deltalake keeps retrying one request, so a store restarting for a few seconds does not fail a
#: task. ``NEXUS_S3_MAX_ATTEMPTS`` and ``NEXUS_S3_RETRY_TIMEOUT_S`` override them.
S3_MAX_ATTEMPTS = 10
S3_RETRY_TIMEOUT_S = 120
CHUNK = 1 << 20  # bytes per read of a streamed copy or checksum
#: The name :meth:`Folder._write` gives a file while it is written: ``.<name>.<random>.tmp``, the
#: random part 8 characters of ``mkstemp`` on disk, 12 hex digits on S3.
TEMPORARY_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8,12}\.tmp$")

log = logging.getLogger(__name__)


class ChangedWhileRead(OSError):
    """The file changed while it was read or copied (a re-delivery under the same name): what was
    read is not one version of it. The caller leaves the file for a later run."""


@functools.cache
def _file_mode() -> int:
    """The mode a plain ``open()`` gives a new file under this process's umask (``mkstemp`` gives 0600).
    Read from ``/proc`` (setting the umask to read it changes it for every thread for a moment)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def is_remote(location: str | Path) -> bool:
    """True for an object-store URI (``s3://...``), False for a local path."""
    return "://" in str(location) and not str(location).startswith("file://")


def normalize(location: str | Path) -> str:
    """A location in its one spelling: an absolute local path, or ``s3://bucket[/prefix]`` without a
    trailing slash (``s3a://`` is read as ``s3://``).

    Raises:
        ConfigError: an unsupported scheme, or an S3 URI without a bucket.
    """
    text = str(location).strip()
    if text.startswith("file://"):
        text = text[len("file://"):]
    if "://" not in text:
        return str(Path(text).expanduser().absolute())
    scheme, rest = text.split("://", 1)
    scheme = {"s3a": "s3"}.get(scheme.lower(), scheme.lower())
    if scheme not in SCHEMES:
        raise ConfigError(f"{location!r}: Nexus keeps its lake on a local path or on S3 (s3://bucket/prefix); "
                          f"{scheme}:// is not supported")
    if not rest.strip("/") or rest.startswith("/"):
        raise ConfigError(f"{location!r} names no bucket: write s3://<bucket>/<prefix>")
    return f"{scheme}://{rest.rstrip('/')}"


def join(location: str, *parts: str) -> str:
    """``location/part/...`` for either kind of location."""
    rel = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    return f"{location.rstrip('/')}/{rel}" if rel else location


def _endpoint() -> tuple[str | None, str]:
    """(host:port of ``AWS_ENDPOINT_URL`` or None for AWS, scheme)."""
    url = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        return None, "https"
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"AWS_ENDPOINT_URL must be an http(s) URL such as http://127.0.0.1:8333, found {url!r}")
    return parts.netloc, parts.scheme


def _retries() -> tuple[int, int]:
    """(attempts per request, retry timeout in seconds), from the environment or the defaults."""
    try:
        attempts = int(os.environ.get("NEXUS_S3_MAX_ATTEMPTS") or S3_MAX_ATTEMPTS)
        timeout = int(os.environ.get("NEXUS_S3_RETRY_TIMEOUT_S") or S3_RETRY_TIMEOUT_S)
    except ValueError:
        raise ConfigError("NEXUS_S3_MAX_ATTEMPTS and NEXUS_S3_RETRY_TIMEOUT_S must be whole numbers") from None
    if attempts < 1 or timeout < 1:
        raise ConfigError("NEXUS_S3_MAX_ATTEMPTS and NEXUS_S3_RETRY_TIMEOUT_S must be at least 1")
    return attempts, timeout


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@functools.lru_cache(maxsize=8)
def _s3(endpoint: str | None, scheme: str, region: str, key_id: str | None, attempts: int) -> pa_fs.S3FileSystem:
    """One S3 file system per endpoint, region, identity and retry setting (credentials come from the
    AWS chain)."""
    del key_id  # part of the cache key only: another identity gets its own client
    return pa_fs.S3FileSystem(endpoint_override=endpoint, scheme=scheme, region=region,
                              retry_strategy=pa_fs.AwsStandardS3RetryStrategy(max_attempts=attempts),
                              connect_timeout=10, request_timeout=60,
                              allow_bucket_creation=False, allow_bucket_deletion=False)


def filesystem(location: str | Path) -> tuple[pa_fs.FileSystem, str]:
    """The Arrow file system of ``location`` and the location's path inside it."""
    loc = normalize(location)
    if not is_remote(loc):
        return pa_fs.LocalFileSystem(), loc
    endpoint, scheme = _endpoint()
    return (_s3(endpoint, scheme, _region(), os.environ.get("AWS_ACCESS_KEY_ID"), _retries()[0]),
            loc.split("://", 1)[1])


def delta_options(location: str | Path) -> dict[str, str] | None:
    """deltalake ``storage_options`` for ``location``: ``None`` on local disk; on S3 the process's AWS
    settings made explicit (deltalake reads the ``AWS_*`` variables itself), plain HTTP allowed for
    an ``http://`` endpoint, and retries that outlast a store's restart of a few seconds.

    Commits need no lock and no unsafe rename: deltalake writes each commit file with a conditional
    PUT (``If-None-Match: *``), so of two writers of one version exactly one succeeds and the other
    gets ``CommitFailedError`` (retried by :class:`warehouse.lake.Lake`).
    """
    if not is_remote(normalize(location)):
        return None
    endpoint, scheme = _endpoint()
    attempts, timeout = _retries()
    # deltalake's default backoff (100 ms, doubling) spends 10 attempts in about 2 s against a store
    # that refuses connections while it restarts (measured): start at 0.5 s and cap at 15 s, so the
    # attempts span about a minute, within the retry timeout.
    opts = {"AWS_REGION": _region(), "max_retries": str(attempts), "retry_timeout": f"{timeout}s",
            "backoff_config.init_backoff": "500ms", "backoff_config.max_backoff": "15s", "backoff_config.base": "2"}
    if endpoint:
        opts["AWS_ENDPOINT_URL"] = f"{scheme}://{endpoint}"
        if scheme == "http":
            opts["AWS_ALLOW_HTTP"] = "true"
    return opts


class Entry(NamedTuple):
    """A file of a folder listing: its name and size in bytes."""

    name: str
    size: int


@dataclass(frozen=True)
class Folder:
    """Files under one location (a local folder or an S3 prefix), addressed by relative ``/`` paths."""

    location: str
    fs: pa_fs.FileSystem
    base: str

    @property
    def remote(self) -> bool:
        return is_remote(self.location)

    def _p(self, rel: str = "") -> str:
        rel = str(rel).strip("/")
        if rel and any(part in ("..", ".") for part in rel.split("/")):
            raise ValueError(f"{rel!r}: a relative path inside the folder, without '.' or '..' parts")
        return f"{self.base.rstrip('/')}/{rel}" if rel else self.base

    def uri(self, rel: str = "") -> str:
        """Where ``rel`` is, for messages and links: a local path or an ``s3://`` URI."""
        return join(self.location, rel)

    def local_path(self, rel: str = "") -> Path | None:
        """``rel`` as a local path, or ``None`` on an object store."""
        return None if self.remote else Path(self._p(rel))

    def sub(self, rel: str) -> Folder:
        """The folder ``rel`` below this one."""
        return Folder(join(self.location, rel), self.fs, self._p(rel))

    # ------------------------------------------------------------------ reading
    def exists(self, rel: str) -> bool:
        """True when ``rel`` is a file."""
        return self.fs.get_file_info(self._p(rel)).type == pa_fs.FileType.File

    def size(self, rel: str) -> int:
        info = self.fs.get_file_info(self._p(rel))
        if info.type != pa_fs.FileType.File:
            raise FileNotFoundError(self.uri(rel))
        return int(info.size)

    def _entries(self, rel: str, recursive: bool) -> list[pa_fs.FileInfo]:
        try:
            return self.fs.get_file_info(pa_fs.FileSelector(self._p(rel), recursive=recursive, allow_not_found=True))
        except (NotADirectoryError, FileNotFoundError):
            return []

    def files(self, rel: str = "") -> list[Entry]:
        """The files directly in ``rel`` (not in sub-folders), by name; hidden names skipped; ``[]``
        for a missing folder."""
        out = [Entry(i.base_name, int(i.size or 0)) for i in self._entries(rel, False)
               if i.type == pa_fs.FileType.File and not i.base_name.startswith(".")]
        return sorted(out)

    def folders(self, rel: str = "") -> list[str]:
        """Names of the sub-folders directly in ``rel``, sorted; hidden names skipped."""
        return sorted(i.base_name for i in self._entries(rel, False)
                      if i.type == pa_fs.FileType.Directory and not i.base_name.startswith("."))

    def walk(self, rel: str = "") -> list[str]:
        """Every file below ``rel``, as paths relative to ``rel``, sorted; hidden names skipped."""
        root = self._p(rel).rstrip("/") + "/"
        out = []
        for i in self._entries(rel, True):
            if i.type != pa_fs.FileType.File:
                continue
            path = i.path[len(root):] if i.path.startswith(root) else i.base_name
            if not any(part.startswith(".") for part in path.split("/")):
                out.append(path)
        return sorted(out)

    def temporaries(self, rel: str = "", *, before: dt.datetime) -> list[str]:
        """Temporary files below ``rel`` (see :data:`TEMPORARY_NAME`) last modified before ``before``
        (timezone-aware), as paths relative to ``rel``, sorted: what writers killed between writing
        and renaming (copying) left behind. A write under way is younger than any sensible ``before``."""
        root = self._p(rel).rstrip("/") + "/"
        out = []
        for i in self._entries(rel, True):
            if i.type != pa_fs.FileType.File or not TEMPORARY_NAME.match(i.base_name):
                continue
            mtime = i.mtime if i.mtime is None or i.mtime.tzinfo else i.mtime.replace(tzinfo=dt.UTC)
            if mtime is not None and mtime < before:
                out.append(i.path[len(root):] if i.path.startswith(root) else i.base_name)
        return sorted(out)

    def read_bytes(self, rel: str) -> bytes:
        """The file's bytes. Raises ``FileNotFoundError`` when it is missing (local and S3 alike)."""
        try:
            with self.fs.open_input_stream(self._p(rel), compression=None) as fh:
                return fh.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"no file {self.uri(rel)}") from None

    def chunks(self, rel: str, size: int = CHUNK) -> Iterator[bytes]:
        """The file's bytes in pieces of ``size`` (streamed: a large file is never held whole).

        Raises ``FileNotFoundError`` when the file is missing, or is removed while it is read (S3
        reads a range per piece, so a concurrent run taking the file shows mid-read; a local file
        stays readable through its open handle), and :class:`ChangedWhileRead` when a read fails
        because the file was replaced by a shorter one.
        """
        done = 0
        try:
            with self.fs.open_input_stream(self._p(rel), compression=None) as fh:
                while block := fh.read(size):
                    done += len(block)
                    yield block
        except FileNotFoundError:
            raise FileNotFoundError(f"no file {self.uri(rel)}") from None
        except OSError as exc:
            info = self.fs.get_file_info(self._p(rel))
            if info.type != pa_fs.FileType.File:
                raise FileNotFoundError(f"{self.uri(rel)} was removed while it was read") from None
            if info.size is not None and info.size <= done:
                raise ChangedWhileRead(f"{self.uri(rel)} was replaced while it was read ({exc})") from exc
            raise

    def read_text(self, rel: str, encoding: str = "utf-8") -> str:
        return self.read_bytes(rel).decode(encoding)

    def tail(self, rel: str, n: int) -> bytes:
        """The last ``n`` bytes of the file (one ranged read on S3)."""
        with self.fs.open_input_file(self._p(rel)) as fh:
            size = fh.size()
            fh.seek(max(0, size - n))
            return fh.read()

    def sha256(self, rel: str) -> tuple[str, int]:
        """SHA-256 (hex) and size of the file, read in chunks."""
        digest, size = hashlib.sha256(), 0
        for block in self.chunks(rel):
            digest.update(block)
            size += len(block)
        return digest.hexdigest(), size

    # ------------------------------------------------------------------ writing
    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write the whole file (see the module docstring: all or nothing)."""
        self._write(rel, [data])

    def write_text(self, rel: str, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(rel, text.encode(encoding))

    def copy_from(self, source: Folder, rel_source: str, rel: str, *, sha256: str | None = None) -> tuple[str, int]:
        """Copy a file of ``source`` (this or another folder, local or S3) to ``rel``, all or nothing,
        streamed in chunks; returns the SHA-256 (hex) and size of the bytes copied. Raises
        ``FileNotFoundError`` when the source is gone (another run took it). With ``sha256`` (the
        source's hash read before), bytes that differ (the source changed in between) raise
        :class:`ChangedWhileRead` and ``rel`` is left as it was: never a file under a wrong hash."""
        return self._write(rel, source.chunks(rel_source), sha256=sha256, what=source.uri(rel_source))

    def upload(self, local: Path, rel: str) -> None:
        """Copy a local file into this folder (streamed)."""
        self.copy_from(folder(Path(local).parent), Path(local).name, rel)

    def _write(self, rel: str, blocks: Iterable[bytes], *, sha256: str | None = None,
               what: str = "") -> tuple[str, int]:
        """Write ``blocks`` under a temporary name, then make it the file at once.

        Local: a unique temporary file, fsync, rename. S3: a temporary key, then a server-side copy
        (one CopyObject: up to 5 GiB, far above a historian export or a report), because an upload
        stream closed by an exception would complete with the part written so far. Returns the
        SHA-256 (hex) and size of what was written; with ``sha256``, other bytes raise
        :class:`ChangedWhileRead` before the file is made (see :meth:`copy_from`).
        """
        digest, size = hashlib.sha256(), 0

        def hashed() -> Iterator[bytes]:
            nonlocal size
            for block in blocks:
                digest.update(block)
                size += len(block)
                yield block

        def check() -> None:
            if sha256 is not None and digest.hexdigest() != sha256:
                raise ChangedWhileRead(f"{what or rel} changed while it was copied (sha256 {sha256[:12]}… when "
                                       f"hashed, {digest.hexdigest()[:12]}… when copied)")

        dst = self._p(rel)
        parent, name = posixpath.split(dst)
        if not self.remote:
            Path(parent).mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
            try:
                with contextlib.suppress(OSError):  # some mounts refuse chmod (vfat): keep mkstemp's mode
                    os.fchmod(fd, _file_mode())  # readable as any file written here (reports served by others)
                with os.fdopen(fd, "wb") as fh:
                    for block in hashed():
                        fh.write(block)
                    fh.flush()
                    os.fsync(fh.fileno())
                check()
                os.replace(tmp, dst)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return digest.hexdigest(), size
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with self.fs.open_output_stream(tmp, compression=None) as fh:
                for block in hashed():
                    fh.write(block)
            check()
            self.fs.copy_file(tmp, dst)  # server-side copy: the key appears whole
        finally:
            try:  # best effort: during an outage the original error matters, not the cleanup's
                self.fs.delete_file(tmp)
            except OSError as exc:
                if not isinstance(exc, FileNotFoundError):
                    log.warning("could not remove the temporary %s: %s", tmp, exc)
        return digest.hexdigest(), size

    def remove(self, rel: str) -> None:
        """Remove a file; a missing file is not an error."""
        try:
            self.fs.delete_file(self._p(rel))
        except FileNotFoundError:
            pass


def folder(location: str | Path) -> Folder:
    """The :class:`Folder` at ``location`` (a local path or ``s3://bucket/prefix``)."""
    loc = normalize(location)
    fs, base = filesystem(loc)
    return Folder(loc, fs, base)

