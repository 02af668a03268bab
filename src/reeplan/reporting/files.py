"""Write an output directory safely: all or nothing, one writer at a time, inputs untouched.

:func:`write_output_dir` is how reeplan writes a result directory (the roadmap of
``reeplan plan --out DIR``):

* **All or nothing.** The files are written into a hidden sibling of the target
  (``.<name>.tmp-<pid>-<random>``, same parent, hence same file system), each one fsynced,
  and the directory is renamed into place only when complete. ``run.json`` is written last
  and lists every other output with its size and SHA-256: a directory at ``DIR`` always has
  a ``run.json`` whose manifest matches. A process killed at any moment leaves either no
  ``DIR`` or the previous complete one, plus at most a hidden temporary sibling that the
  next run removes.
* **Replacing (``force``).** The old directory is renamed to ``.<name>.previous``, the new
  one renamed into place, then the old one deleted. If the process dies between the two
  renames, the next run finds ``.<name>.previous`` without ``DIR`` and renames it back.
  Only reeplan's own files are replaced: any other file or folder in the old directory
  (notes, a ``.git``) is *kept* — hard-linked (copied where the file system has no hard
  links) into the new directory before the swap, so the old directory stays whole until
  the new one is in place. A symbolic link at ``DIR`` is replaced by a directory; what it
  pointed to is left as it was.
* **One writer at a time.** An exclusive, non-blocking :func:`fcntl.flock` on the sibling
  ``.<name>.lock`` (left in place; deleting lock files races) is held for the whole write;
  a second writer is refused.
* **Refusals** (:class:`~reeplan.errors.ReeplanError`): an empty path or ``.``, the current
  directory or one containing it, the root or home directory, an existing file, a
  directory that is, contains or is inside one of the ``protected`` ones (the user's
  ``--data`` directories), and an existing directory without ``force``.
* **Spreadsheet-safe CSV.** Every CSV is passed through :func:`neutralise` (CSV injection).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib
import io
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from reeplan.errors import ReeplanError

if sys.platform == "win32":  # pragma: no cover
    import msvcrt
else:
    import fcntl

__all__ = ["FORMULA_TRIGGERS", "MARKER", "check_output_dir", "neutralise", "write_output_dir"]

MARKER = "run.json"
"""Name of the completeness marker and manifest, written last."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula."""

_TMP = ".tmp-"
_BACKUP = ".previous"
_LOCK = ".lock"


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """Defuse cells a spreadsheet would run as formulas (CSV injection).

    Parameters
    ----------
    df
        Any frame; not modified.

    Returns
    -------
    pandas.DataFrame
        A copy in which every string cell (and string column label) that starts with one
        of :data:`FORMULA_TRIGGERS` (``=``, ``+``, ``-``, ``@``, tab, carriage return) gets
        a leading ``'``. Numbers, in numeric or object columns, and missing values are left
        as they are; so are strings that start with anything else.

    Examples
    --------
    >>> import pandas as pd
    >>> neutralise(pd.DataFrame({"a": ["=1+1", "ok"], "n": [-1, 2]})).to_dict("list")
    {'a': ["'=1+1", 'ok'], 'n': [-1, 2]}
    """
    out = df.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype.kind == "O":  # object, string and categorical columns
            out.isetitem(i, _defuse_column(column).array)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.Index([_defuse(c) for c in out.columns])
    return out


def _defuse_column(column: pd.Series) -> pd.Series:
    values = column.to_numpy(dtype=object)
    hits = [i for i, v in enumerate(values) if isinstance(v, str)
            and v.startswith(FORMULA_TRIGGERS)]
    if not hits:
        return column
    fixed = column.astype(object) if isinstance(column.dtype, pd.CategoricalDtype) else column
    fixed = fixed.copy()
    fixed.iloc[hits] = ["'" + values[i] for i in hits]
    return fixed


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def check_output_dir(out: str | os.PathLike[str], *, force: bool = False,
                     protected: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Refuse an output directory reeplan must not write; return it as a :class:`Path`.

    The checks :func:`write_output_dir` makes, available on their own so that a command
    can refuse before spending time on a solve.

    Parameters
    ----------
    out
        The output directory asked for.
    force
        Whether an existing output directory may be replaced.
    protected
        Directories that must not be written: ``out`` may not be one of them, contain one
        or be inside one (compared as resolved paths, symbolic links followed).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    ReeplanError
        With a message naming the path and the reason.
    """
    if str(out).strip() == "":
        raise ReeplanError("output directory '' is empty; give a dedicated directory")
    path = Path(out)
    resolved = path.resolve()
    _refuse_special(path, resolved)
    _refuse_protected(path, resolved, protected)
    _refuse_existing(path, force)
    return path


def _refuse_existing(path: Path, force: bool) -> None:
    if path.is_symlink() and not path.exists():
        raise ReeplanError(f"output path '{path}' is a broken symbolic link")
    if path.exists() and not path.is_dir():
        raise ReeplanError(f"output path '{path}' is an existing file, not a directory")
    if path.exists() and not force:
        raise ReeplanError(f"output directory '{path}' exists; choose another or pass --force")


def _refuse_special(path: Path, resolved: Path) -> None:
    if path == Path("."):
        raise ReeplanError(f"output directory '{path}' is the current directory; give a "
                           "dedicated directory")
    with contextlib.suppress(RuntimeError):  # no home directory known
        if resolved in (Path(resolved.anchor), Path.home().resolve()):
            raise ReeplanError(f"output directory '{path}' is the root or home directory; "
                               "give a dedicated directory")
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise ReeplanError(f"output directory '{path}' is or contains the current directory; "
                           "give a dedicated directory")


def _refuse_protected(path: Path, resolved: Path,
                      protected: Sequence[str | os.PathLike[str]]) -> None:
    for item in protected:
        guarded = Path(item).resolve()
        if resolved == guarded or guarded in resolved.parents or resolved in guarded.parents:
            raise ReeplanError(f"output directory '{path}' is, contains or is inside the data "
                               f"directory '{item}'; choose a directory outside it")


def write_output_dir(out: str | os.PathLike[str], tables: Mapping[str, pd.DataFrame],
                     documents: Mapping[str, Any], *, force: bool = False,
                     protected: Sequence[str | os.PathLike[str]] = (),
                     parquet: bool = True) -> list[Path]:
    """Write tables and documents to the directory ``out``, atomically (see the module).

    Parameters
    ----------
    out
        The output directory; its parent is created if missing.
    tables
        File stem -> frame. Each is written as ``<stem>.csv`` (through :func:`neutralise`,
        UTF-8, newline line ends, no index) and, with ``parquet``, ``<stem>.parquet``
        (values as they are).
    documents
        File name -> content: a dict or list is written as JSON (indent 2, trailing
        newline), a str as UTF-8 text, bytes as they are. ``run.json``, if given, must be a
        dict; its ``"files"`` key is set to the manifest (one ``{"name", "bytes",
        "sha256"}`` per other output, sizes in bytes). ``run.json`` is always written,
        last.
    force
        Replace an existing output directory (keeping the files in it that are not
        reeplan's; see the module).
    protected
        Directories ``out`` must not be, contain or be inside (the ``--data`` directories).
    parquet
        Also write each table as Parquet (needs pyarrow, the ``parquet`` extra).

    Returns
    -------
    list of pathlib.Path
        The files written, under ``out``, in the order written (``run.json`` last).

    Raises
    ------
    ReeplanError
        For every refusal of :func:`check_output_dir`, when another process holds the lock
        on ``out``, and when the file system refuses (permissions, disk full).
    ModuleNotFoundError
        With ``parquet`` and no pyarrow, before anything is written.
    """
    path = check_output_dir(out, force=force, protected=protected)
    if parquet:
        importlib.import_module("pyarrow")  # fail before writing anything
    payload = _render(tables, documents, parquet)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(path):
            _recover(path)
            check_output_dir(path, force=force, protected=protected)  # again, under the lock
            known = _known_outputs(path, tables)
            _swap(_stage(path, payload, known), path)
    except OSError as err:
        raise ReeplanError(f"cannot write '{path}': {err.strerror or err}") from err
    return [path / name for name in payload]


# --- rendering: every file's bytes, and the manifest ---------------------------------------

def _render(tables: Mapping[str, pd.DataFrame], documents: Mapping[str, Any],
            parquet: bool) -> dict[str, bytes]:
    """File name -> bytes, in writing order, ``run.json`` (with its manifest) last."""
    files: dict[str, bytes] = {}
    for stem, frame in tables.items():
        _add(files, f"{stem}.csv", _csv_bytes(frame))
        if parquet:
            _add(files, f"{stem}.parquet", _parquet_bytes(frame))
    for name, doc in documents.items():
        if name != MARKER:
            _add(files, name, _document_bytes(name, doc))
    run = documents.get(MARKER, {})
    if not isinstance(run, dict):
        raise TypeError(f"{MARKER} must be a dict, not {type(run).__name__}")
    manifest = [{"name": n, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                for n, b in files.items()]
    files[MARKER] = _document_bytes(MARKER, {**run, "files": manifest})
    return files


def _add(files: dict[str, bytes], name: str, data: bytes) -> None:
    if not name or name in {".", ".."} or name.startswith(".") or "/" in name or "\\" in name:
        raise ValueError(f"output file name {name!r} must be a plain, non-hidden file name")
    if name in files or name == MARKER:
        raise ValueError(f"output file name {name!r} given twice")
    files[name] = data


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of the neutralised ``frame``.

    Python's csv writer does not quote a carriage return when lines end in a newline, and
    readers take it for a line end: a table with one in a cell is written with every
    non-numeric field quoted.
    """
    safe = neutralise(frame)
    quoting: Literal[0, 2] = (csv.QUOTE_NONNUMERIC if _has_carriage_return(safe)
                              else csv.QUOTE_MINIMAL)
    return safe.to_csv(index=False, lineterminator="\n", quoting=quoting).encode("utf-8")


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    columns = [frame.iloc[:, i] for i in range(frame.shape[1])]
    cells: list[list[Any]] = [list(frame.columns)]
    cells += [c.to_numpy(dtype=object).tolist() for c in columns if c.dtype.kind == "O"]
    return any(isinstance(v, str) and "\r" in v for values in cells for v in values)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _document_bytes(name: str, doc: Any) -> bytes:
    if isinstance(doc, bytes):
        return doc
    if isinstance(doc, str):
        return doc.encode("utf-8")
    if isinstance(doc, dict | list):
        return (json.dumps(doc, indent=2, default=_json_default) + "\n").encode("utf-8")
    raise TypeError(f"document {name!r}: expected dict, list, str or bytes, "
                    f"not {type(doc).__name__}")


def _json_default(value: Any) -> Any:
    """JSON for numpy scalars (``.item()``) and paths; anything else is an error."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --- the directory: lock, recovery, staging, swap ------------------------------------------

def _sibling(out: Path, suffix: str) -> Path:
    return out.parent / f".{out.name}{suffix}"


@contextlib.contextmanager
def _exclusive_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.<name>.lock`` next to ``out``, or refuse at once."""
    fd = os.open(_sibling(out, _LOCK), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            _lock(fd)
        except OSError:
            raise ReeplanError(f"another reeplan is writing '{out}'; wait for it to finish "
                               "or choose another directory") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _lock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _recover(out: Path) -> None:
    """Finish or undo what a killed writer left (called with the lock held).

    A backup without ``out`` means the writer died between its two renames: the backup is
    the previous complete directory and goes back in place. A backup next to ``out`` means
    it died while deleting the backup. Temporary directories are unfinished and go.
    """
    backup = _sibling(out, _BACKUP)
    if backup.exists() or backup.is_symlink():
        if out.exists() or out.is_symlink():
            _remove(backup)
        else:
            os.rename(backup, out)
            _fsync_dir(out.parent)
    stale = re.compile(re.escape(f".{out.name}{_TMP}") + r"\d+-[0-9a-f]{8}")
    for entry in out.parent.iterdir():
        if stale.fullmatch(entry.name):
            _remove(entry)


def _known_outputs(out: Path, tables: Mapping[str, pd.DataFrame]) -> set[str]:
    """Names in an old ``out`` that are reeplan's: its manifest and every table's files."""
    known = {MARKER} | {f"{t}.{ext}" for t in tables for ext in ("csv", "parquet")}
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
        run = json.loads((out / MARKER).read_text(encoding="utf-8"))
        known |= {str(f["name"]) for f in run["files"]}
    return known


def _stage(out: Path, payload: Mapping[str, bytes], known: set[str]) -> Path:
    """Write everything into a new hidden sibling of ``out``; return it, complete."""
    tmp = _sibling(out, f"{_TMP}{os.getpid()}-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        for name, data in payload.items():
            if name != MARKER:
                _write_file(tmp / name, data)
        if out.is_dir():
            shutil.copymode(out, tmp)
            _keep_foreign(out, tmp, known | set(payload))
        _write_file(tmp / MARKER, payload[MARKER])
        _fsync_dir(tmp)
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _keep_foreign(old: Path, new: Path, outputs: set[str]) -> None:
    """Link every entry of ``old`` that is not a reeplan output into ``new``."""
    for entry in sorted(old.iterdir()):
        if entry.name not in outputs:
            _link_tree(entry, new / entry.name)


def _link_tree(src: Path, dst: Path) -> None:
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        dst.mkdir()
        shutil.copystat(src, dst)
        for child in sorted(src.iterdir()):
            _link_tree(child, dst / child.name)
        _fsync_dir(dst)
    else:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def _swap(tmp: Path, out: Path) -> None:
    """Put the complete ``tmp`` in place of ``out`` (see :func:`_recover` for a crash)."""
    if not (out.exists() or out.is_symlink()):
        os.rename(tmp, out)
        _fsync_dir(out.parent)
        return
    backup = _sibling(out, _BACKUP)
    os.rename(out, backup)
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(backup, out)
        _remove(tmp)
        raise
    _fsync_dir(out.parent)
    _remove(backup)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    """Make a directory's entries durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
