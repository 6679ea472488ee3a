"""The shard format: paired samples packed into tar files (the WebDataset layout) plus a manifest.

Why tar shards: at millions of pairs, one file per image costs a metadata operation per read and
makes copying a data set slow; a few hundred large sequential files read at disk speed and stream
from any URL. The layout is WebDataset's, so its tools (and `tarfile`) read our shards as they are:
each sample is three consecutive members ``<key>.lq.png``, ``<key>.gt.png`` and ``<key>.json``
(type, level, seed, label, ...), the key holding no dot (WebDataset splits a name at its first dot).

``manifest.json`` next to the shards lists the types and levels, the count per type, each shard's
name, sample count and sha256, and the total: a reader plans an epoch from it without opening a tar,
and `verify_shards` checks the files against it. Members are written with fixed metadata (mtime 0,
owner 0), so the same samples give the same bytes and the same checksum.

Locations: a local folder holding ``manifest.json``; or shard URLs as WebDataset takes them: a path,
``file://...``, a brace pattern ``shard-{000000..000009}.tar``, ``pipe:COMMAND`` (the command's
stdout is the tar), or any other URL that ``webdataset.gopen`` opens (``pip install dcpt[shards]``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import IO, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
from torch import Tensor

from ..errors import DataError
from ..fileio import atomic_path, atomic_write
from .io import from_numpy, to_uint8

MANIFEST = "manifest.json"
FORMAT = "dcpt-shards/1"
SIDES = ("lq.png", "gt.png", "json")


def shard_name(index: int) -> str:
    return f"shard-{index:06d}.tar"


def sample_key(name: str) -> str:
    """A WebDataset key: no dot (the reader splits at the first one) and no path separator."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name)


# ----------------------------------------------------------------------------- writing


def encode_png(img: Tensor) -> bytes:
    """A ``3 x H x W`` float image in [0, 1] as 8-bit PNG bytes (the folder format's pixels)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)).save(buf, format="PNG")
    return buf.getvalue()


def write_shard(path: Path, samples: Sequence[Tuple[str, bytes, bytes, dict]]) -> Tuple[int, str]:
    """Write ``[(key, lq_png, gt_png, meta)]`` as one tar at `path`, atomically (a temporary name,
    renamed when complete, so a shard that exists is whole); returns (sample count, sha256)."""
    with atomic_path(path) as tmp:
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            for key, lq, gt, meta in samples:
                meta_bytes = (json.dumps(meta, sort_keys=True) + "\n").encode()
                for side, data in zip(SIDES, (lq, gt, meta_bytes)):
                    info = tarfile.TarInfo(f"{key}.{side}")
                    info.size, info.mtime, info.mode = len(data), 0, 0o644
                    tar.addfile(info, io.BytesIO(data))
    return len(samples), file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: dict) -> None:
    atomic_write(Path(folder) / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def shard_keys(path: Path) -> List[str]:
    """The sample keys of a local shard, in order; DataError when it is not a complete shard."""
    keys: List[str] = []
    try:
        with tarfile.open(path, "r") as tar:
            names = tar.getnames()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable tar shard ({_one_line(exc)})") from None
    for i in range(0, len(names), 3):
        group = names[i : i + 3]
        key = group[0].split(".", 1)[0]
        if group != [f"{key}.{side}" for side in SIDES]:
            raise DataError(f"{path}: member {group[0]!r} does not start a sample of lq.png, gt.png, json")
        keys.append(key)
    return keys


def verify_shards(folder: Path, manifest: Optional[dict] = None) -> dict:
    """Check every shard of a local shard folder against its manifest (sha256 and sample count);
    returns the manifest, or raises a one-line DataError naming the first shard that differs."""
    folder = Path(folder)
    manifest = manifest or read_manifest(str(folder / MANIFEST))
    for entry in manifest["shards"]:
        path = folder / entry["name"]
        if not path.is_file():
            raise DataError(f"{path}: shard listed in the manifest is missing")
        if file_sha256(path) != entry["sha256"]:
            raise DataError(f"{path}: sha256 differs from the manifest's; the shard is corrupt")
        if len(shard_keys(path)) != entry["count"]:
            raise DataError(f"{path}: holds another number of samples than the manifest's {entry['count']}")
    return manifest


# ----------------------------------------------------------------------------- locating


def read_manifest(location: str) -> dict:
    """A shard manifest from a local path or a URL (opened like a shard)."""
    try:
        with open_url(str(location)) as fh:
            manifest = json.loads(fh.read().decode("utf-8"))
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"{location}: not a readable shard manifest ({_one_line(exc)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{location}: not a dcpt shard manifest (expected format {FORMAT!r})")
    return manifest


def expand_braces(pattern: str) -> List[str]:
    """Bash-style braces as WebDataset reads them: ``a-{000..002}.tar`` (zero-padded ranges) and
    ``{x,y}``; several groups multiply."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, body, tail = pattern[: match.start()], match.group(1), pattern[match.end() :]
    span = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if span:
        lo, hi = span.groups()
        width = len(lo) if lo.startswith("0") else 0
        items = [f"{n:0{width}d}" for n in range(int(lo), int(hi) + 1)]
    else:
        items = body.split(",")
    return [h + rest for h in (head + item for item in items) for rest in expand_braces(tail)]


def _local(url: str) -> Optional[Path]:
    if url.startswith("file://"):
        return Path(url[len("file://") :])
    if "://" in url or url.startswith("pipe:"):
        return None
    return Path(url).expanduser()


def resolve(location: str, manifest: Optional[str] = None) -> Tuple[dict, List[str]]:
    """(manifest, one URL per manifest shard) for a data source. `location` is a local shard folder
    (its manifest inside), or shard URLs (a brace pattern) with `manifest` naming the manifest, which
    defaults to ``manifest.json`` in the shards' local folder."""
    folder = _local(location)
    if folder is not None and folder.is_dir():
        info = read_manifest(manifest or str(folder / MANIFEST))
        return info, [str(folder / e["name"]) for e in info["shards"]]
    urls = expand_braces(location)
    if manifest is None:
        first = _local(urls[0])
        if first is None:
            raise DataError(
                f"shards {location!r}: give the manifest's location (`manifest`) for remote shards"
            )
        manifest = str(first.parent / MANIFEST)
    info = read_manifest(manifest)
    names = [e["name"] for e in info["shards"]]
    if len(urls) != len(names) or any(name not in url for name, url in zip(names, urls)):
        raise DataError(
            f"shards {location!r} name {len(urls)} shards, but the manifest {manifest} lists {len(names)} "
            f"({names[0] if names else 'none'}, ...) in another order or number"
        )
    return info, urls


# ----------------------------------------------------------------------------- reading


class _Pipe(io.RawIOBase):
    """A ``pipe:COMMAND``'s stdout as a file; closing it checks the command's exit status."""

    def __init__(self, command: str):
        self.command, self.eof = command, False
        self.proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE)

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        assert self.proc.stdout is not None
        count = self.proc.stdout.readinto(buf)  # type: ignore[attr-defined]  # a BufferedReader
        self.eof = self.eof or count == 0
        return count

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        assert self.proc.stdout is not None
        if not self.eof:  # a reader that stopped early: the command's broken pipe is no error
            self.proc.kill()
        self.proc.stdout.close()
        code = self.proc.wait()
        if code != 0 and self.eof:
            raise DataError(f"pipe:{self.command}: the command exited with status {code}")


def open_url(url: str) -> IO[bytes]:
    """A binary stream of `url`: a local path, ``file://``, ``pipe:COMMAND``, or (WebDataset
    installed) any URL its ``gopen`` knows, such as ``https://`` through curl."""
    local = _local(url)
    if local is not None:
        try:
            return open(local, "rb")
        except OSError as exc:
            raise DataError(f"{url}: cannot open ({exc.strerror or exc})") from None
    if url.startswith("pipe:"):
        return io.BufferedReader(_Pipe(url[len("pipe:") :]))
    try:
        import webdataset
    except ImportError:
        raise DataError(f"{url}: reading this URL needs WebDataset (pip install 'dcpt[shards]')") from None
    return webdataset.gopen(url, "rb")


def read_samples(url: str, wanted: Set[int]) -> Iterator[Tuple[int, str, Dict[str, bytes]]]:
    """``(index in the shard, key, {side: bytes})`` for the samples at `wanted` positions, streaming
    the tar once (members of other samples are skipped unread). A damaged tar or a sample whose
    members are not the three expected ones raises a one-line DataError naming the shard."""
    last = max(wanted, default=-1)
    index, key = -1, None
    parts: Dict[str, bytes] = {}
    try:
        with open_url(url) as fh, tarfile.open(fileobj=fh, mode="r|") as tar:
            for member in tar:
                stem, _, side = member.name.partition(".")
                if stem != key:
                    if key is not None and index in wanted:
                        yield index, key, _complete(url, key, parts)
                    index, key, parts = index + 1, stem, {}
                    if index > last:
                        return
                if index in wanted and member.isfile():
                    data = tar.extractfile(member)
                    parts[side] = data.read() if data is not None else b""
            if key is not None and index in wanted:
                yield index, key, _complete(url, key, parts)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{url}: corrupt or truncated shard ({_one_line(exc)})") from None


def _complete(url: str, key: str, parts: Dict[str, bytes]) -> Dict[str, bytes]:
    missing = [side for side in SIDES if side not in parts]
    if missing:
        raise DataError(f"{url}: sample {key!r} lacks {', '.join(missing)}")
    return parts


def decode_sample(url: str, key: str, parts: Dict[str, bytes]) -> Tuple[Tensor, Tensor, dict]:
    """(lq, gt, meta) of one sample; a one-line DataError naming shard and key when a member does
    not decode or the two images differ in size."""
    from PIL import Image

    images = []
    for side in SIDES[:2]:
        try:
            with Image.open(io.BytesIO(parts[side])) as im:
                images.append(from_numpy(np.asarray(im.convert("RGB"))))
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise DataError(f"{url}: member {key}.{side} does not decode ({_one_line(exc)})") from None
    try:
        meta = json.loads(parts["json"].decode("utf-8"))
    except ValueError as exc:
        raise DataError(f"{url}: member {key}.json is not JSON ({_one_line(exc)})") from None
    lq, gt = images
    if lq.shape != gt.shape:
        raise DataError(f"{url}: sample {key!r} has lq {tuple(lq.shape)} but gt {tuple(gt.shape)}")
    return lq, gt, meta


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
