"""Output folders: acsim writes only where it may, and never over a file it did not write.

An output folder (`--out`) is acceptable when it is new, empty, or acsim's own: it holds the
ledger `.acsim-files.json`, the list of every file acsim wrote there (with, for files whose
integrity matters such as study blocks, their row count and sha256). A folder holding anything
else is refused, naming the files, and left untouched. Within its folder acsim writes a path only
if it is absent or listed in the ledger.

Opening a folder also takes an exclusive lock on it (`fcntl.flock` on the folder itself, so no
lock file is left behind): a second run (another process) on the same folder is refused at once
with a clear message instead of computing everything twice. The lock is between processes: the
process holding it may open the folder again (a notebook re-running an experiment), and releases
it when every OutputFolder on it is closed or dropped, or when it ends (even by kill -9).

Every check happens in `open()`, before any work: `""` is refused (it is not a folder), a path
that is a file, a folder that cannot be created, and a read-only folder (no write permission, a
read-only file system, or no write bit in its mode: acsim respects a folder marked read-only even
when run as root).
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from acsim.strategies.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

LEDGER = ".acsim-files.json"
LEDGER_VERSION = 1
_held: dict[tuple[int, int], list[int]] = {}  # (device, inode) -> [descriptor, users]


def _lock(root: Path) -> tuple[int, int]:
    """Lock a folder for this process (again, if it holds it already); its identity. OSError if
    another process holds it."""
    info = root.stat()
    key = (info.st_dev, info.st_ino)
    if key in _held:
        _held[key][1] += 1
        return key
    descriptor = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise
    _held[key] = [descriptor, 1]
    return key


def _unlock(key: tuple[int, int]) -> None:
    """One user fewer of a folder this process holds; the lock goes with the last."""
    held = _held[key]
    held[1] -= 1
    if held[1] == 0:
        os.close(held[0])
        del _held[key]


def writable(path: Path) -> bool:
    """May acsim write here? The folder (or file) must be writable by this process and carry a
    write bit in its mode: acsim respects a read-only mark even when running as root."""
    mode = path.stat().st_mode
    wanted = os.W_OK | (os.X_OK if path.is_dir() else 0)
    return os.access(path, wanted) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


class OutputFolderError(ParameterError):
    """An output folder that acsim may not write into (the flag, the folder and why)."""


class OutputFolder:
    """A folder acsim writes into, checked and locked by `open()` (or `with`).

    path: the folder; flag: the command-line flag that named it (for messages).
    """

    def __init__(self, path: str | Path, flag: str = "--out") -> None:
        self.given = str(path)
        self.flag = flag
        self.root = Path(path).resolve() if self.given else Path()
        self.files: dict[str, dict] = {}
        self._release: weakref.finalize | None = None

    def __enter__(self) -> OutputFolder:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OutputFolder({self.given!r}, flag={self.flag!r})"

    @property
    def is_open(self) -> bool:
        return self._release is not None and self._release.alive

    def _refuse(self, reason: str) -> OutputFolderError:
        return OutputFolderError(f"{self.flag} {self.given!r} {reason}")

    def open(self) -> OutputFolder:
        """Check the folder, create it if new, lock it and claim it (write the ledger)."""
        if self.is_open:
            raise RuntimeError(f"{self!r} is already open")
        if not self.given:
            raise OutputFolderError(f"{self.flag} is empty: name a folder (new, empty, or one "
                                    "acsim wrote)")
        if self.root.exists() and not self.root.is_dir():
            raise self._refuse("is a file, not a folder: name a folder (new, empty, or one "
                               "acsim wrote)")
        existing = next(path for path in (self.root, *self.root.parents) if path.exists())
        if existing != self.root and existing.is_dir() and not writable(existing):
            raise self._refuse(f"cannot be created: the folder {str(existing)!r} is read-only")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._refuse(f"cannot be created: {error.strerror or error}") from None
        if not writable(self.root):
            raise self._refuse("is read-only: acsim needs a folder it may write into")
        try:
            key = _lock(self.root)
        except OSError:
            raise self._refuse("is in use by another acsim run (it is locked); wait for that "
                               "run to finish or choose another folder") from None
        self._release = weakref.finalize(self, _unlock, key)
        try:
            self._claim()
        except BaseException:
            self.close()
            raise
        return self

    def _claim(self) -> None:
        """Read acsim's ledger, or start one in an empty folder; refuse anything else."""
        ledger = self.root / LEDGER
        if ledger.exists():
            try:
                document = json.loads(ledger.read_text())
                self.files = dict(document["files"])
            except (OSError, ValueError, KeyError, TypeError):
                raise self._refuse(f"has an unreadable {LEDGER}; delete the folder or choose "
                                   "another") from None
            return
        foreign = sorted(entry.name for entry in self.root.iterdir()
                         if not entry.name.startswith(f"{LEDGER}.partial-"))  # a killed claim
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                              if len(foreign) > 5 else "")
            raise self._refuse(f"holds files acsim did not write ({shown}); acsim writes only "
                               "into a new or empty folder or one it wrote, so choose another")
        self._save()

    def close(self) -> None:
        """Release the lock (nothing happens if the folder is not open)."""
        if self._release is not None:
            self._release()

    def _save(self) -> None:
        """Write the ledger atomically (a temporary file renamed over it)."""
        ledger = self.root / LEDGER
        partial = ledger.with_name(f"{LEDGER}.partial-{os.getpid()}")
        partial.write_text(json.dumps({"version": LEDGER_VERSION, "files": self.files},
                                      sort_keys=True))
        os.replace(partial, ledger)

    def _require_open(self) -> None:
        if not self.is_open:
            raise RuntimeError(f"{self!r} is not open: call open() first")

    def _relative(self, relative: str | Path) -> str:
        path = Path(relative)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError(f"{relative!r} must be a relative path inside the output folder")
        return path.as_posix()

    def path(self, relative: str | Path) -> Path:
        """The path to write `relative` to (its parent folders created), recorded as acsim's.

        Refuses a file that exists and was not written by acsim."""
        return self.paths([relative])[0]

    def paths(self, relatives: list[str | Path]) -> list[Path]:
        """`path` for many files at once (one ledger write)."""
        self._require_open()
        keys = [self._relative(relative) for relative in relatives]
        new = [key for key in keys if key not in self.files]
        for key in new:
            target = self.root / key
            if target.exists() or target.is_symlink():
                raise self._refuse(f"holds {key}, which acsim did not write; acsim never "
                                   "overwrites it: move it away or choose another folder")
        if new:
            self.record(dict.fromkeys(new, {}))
        for parent in {(self.root / key).parent for key in keys}:
            parent.mkdir(parents=True, exist_ok=True)
        return [self.root / key for key in keys]

    def record(self, facts: dict[str, dict]) -> None:
        """Record files as acsim's, each with facts to verify it by (e.g. rows, sha256); the
        ledger is rewritten (atomically) only when what it says changes."""
        self._require_open()
        named = {self._relative(key): value for key, value in facts.items()}
        changed = {key: value for key, value in named.items() if self.files.get(key) != value}
        if changed:
            self.files.update(changed)
            self._save()

    def facts(self, relative: str | Path) -> dict | None:
        """What the ledger records of `relative` (None: acsim has not written it)."""
        return self.files.get(self._relative(relative))


PARQUET_MARK = {b"written_by": b"acsim"}  # in the schema metadata of a single Parquet output


def parquet_output(given: str | Path, flag: str = "--out") -> Path:
    """A single Parquet output file, checked before any work: not empty, not a folder, in an
    existing writable folder, and either absent or a Parquet file acsim wrote (its metadata
    carries PARQUET_MARK); otherwise OutputFolderError."""
    import pyarrow.parquet as pq

    if not str(given):
        raise OutputFolderError(f"{flag} is empty: name a Parquet file")
    path = Path(given).resolve()
    if path.is_dir():
        raise OutputFolderError(f"{flag} {str(given)!r} is a folder: name a Parquet file")
    if not path.parent.is_dir():
        raise OutputFolderError(f"{flag} {str(given)!r}: the folder {str(path.parent)!r} does "
                                "not exist")
    if not writable(path.parent):
        raise OutputFolderError(f"{flag} {str(given)!r}: the folder {str(path.parent)!r} is "
                                "read-only")
    if path.exists() or path.is_symlink():
        try:
            metadata = pq.read_schema(path).metadata or {}
        except (OSError, ValueError):
            metadata = {}
        if any(metadata.get(key) != value for key, value in PARQUET_MARK.items()):
            raise OutputFolderError(f"{flag} {str(given)!r} exists and acsim did not write it; "
                                    "acsim never overwrites it: choose another file")
    return path


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame to `path` atomically, with acsim's mark in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **PARQUET_MARK})
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    pq.write_table(table, partial)
    os.replace(partial, path)
