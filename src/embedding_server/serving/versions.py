"""Model versions on disk, as TensorFlow Serving lays them out.

`<model>/<version>/` directories with whole-number names each hold one
version in the model-directory format; a model directory with files and no
such sub-directory is version 1. A version is identified on disk by a
fingerprint of its files (names, sizes, modification times), so the
registry can tell a version still being written (its fingerprint changes
between two scans) from one at rest, and a failed version that has since
been rewritten (worth another try) from one that has not.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping

#: Sorted (relative path, size, mtime_ns) of every file of a version.
Fingerprint = tuple[tuple[str, int, int], ...]

#: The version of a model directory that holds its files directly.
FLAT_VERSION = 1


@dataclass(frozen=True)
class OnDisk:
    """One version as a scan found it."""
    version: int
    path: str
    fingerprint: Fingerprint


def fingerprint(path: str) -> Fingerprint:
    """The files under `path` with their sizes and times; a file that vanishes
    mid-scan is left out (the next scan will differ, which is the point)."""
    found = []
    for root, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            try:
                info = os.stat(full)
            except OSError:
                continue
            found.append((os.path.relpath(full, path), info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


def scan(directory: str) -> dict[int, OnDisk]:
    """Every version present in a model directory, by number."""
    try:
        names = os.listdir(directory)
    except OSError:
        return {}
    numbered = {}
    for name in names:
        path = os.path.join(directory, name)
        if name.isdigit() and os.path.isdir(path):
            numbered[int(name)] = path
    if not numbered:
        has_files = any(os.path.isfile(os.path.join(directory, name)) for name in names)
        numbered = {FLAT_VERSION: directory} if has_files else {}
    return {version: OnDisk(version, path, fingerprint(path))
            for version, path in numbered.items()}


def settled(before: Mapping[int, OnDisk], after: Mapping[int, OnDisk]) -> set[int]:
    """Versions whose files did not change between two scans."""
    return {version for version, found in after.items()
            if version in before and before[version].fingerprint == found.fingerprint}


def candidates(found: Mapping[int, OnDisk], stable: set[int], served: int | None,
               failed: Mapping[int, Fingerprint]) -> list[int]:
    """Versions worth loading, best first.

    Only versions at rest, never one that failed with the very same files,
    and while a version serves only newer ones, unless the served version's
    directory is gone, in which case the newest remaining one takes over.
    """
    floor = served if served is not None and served in found else None
    chosen = []
    for version in sorted(stable, reverse=True):
        if floor is not None and version <= floor:
            break
        if failed.get(version) == found[version].fingerprint:
            continue
        chosen.append(version)
    return chosen


@contextmanager
def staged(target: str, replace: bool = False) -> Iterator[str]:
    """A directory to build `target` in, beside it, renamed into place whole
    when the block ends (an existing `target` is replaced only if `replace`);
    removed if the block raises. A server scanning the parent never sees a
    half-written model or version: the staging name starts with a dot, which
    no model name or version number does."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}-", dir=parent)
    try:
        yield staging
        os.chmod(staging, 0o755)  # mkdtemp makes it private
        if replace and os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
