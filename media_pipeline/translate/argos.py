"""Argos Translate packages run directly on CTranslate2 and SentencePiece (no argostranslate, no torch).

A package (`.argosmodel`) is a zip of one folder holding metadata.json, model/ (CTranslate2) and
sentencepiece.model. Installing checks all of that, loads the model once, and only then moves the folder into
place, so a corrupt or foreign file installs nothing. Sentences are split by our own segmenter, so the sentence
model argostranslate downloads on first use is never needed.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from media_pipeline.errors import EngineError
from media_pipeline.text.sentences import split_sentences
from media_pipeline.translate import register

log = logging.getLogger(__name__)
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")  # folder names are built from these

# Languages written without spaces between sentences.
_NO_SPACE = {"zh", "ja", "th", "lo", "km", "my"}
_MAX_PACKAGE_BYTES = 2 * 1024**3


class PackageInvalid(EngineError):
    """A file that is not a usable Argos translation package; the message says why."""


@dataclass(frozen=True)
class PackageInfo:
    """One translation package: its pair, version and where it lives."""

    from_code: str
    to_code: str
    version: str
    description: str
    path: Path

    @property
    def pair(self) -> tuple[str, str]:
        return self.from_code, self.to_code


def _packages_root(models_dir: Path) -> Path:
    return Path(models_dir) / "argos"


def read_metadata(folder: Path) -> dict:
    """metadata.json of an unpacked package, checked for what translation needs."""
    try:
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageInvalid("the package has no metadata.json") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackageInvalid(f"metadata.json is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise PackageInvalid("metadata.json is not a JSON object")
    if meta.get("type", "translate") != "translate":
        raise PackageInvalid(f"this is a {meta.get('type')!r} package, not a translation package")
    for key in ("from_code", "to_code"):
        if not isinstance(meta.get(key), str) or not LANGUAGE_CODE.fullmatch(meta[key]):
            raise PackageInvalid(f"metadata.json has no valid {key} (a language code such as vi or zh-Hant)")
    if meta["from_code"] == meta["to_code"]:
        raise PackageInvalid("metadata.json translates a language into itself")
    return meta


def _info(folder: Path, meta: dict) -> PackageInfo:
    return PackageInfo(meta["from_code"], meta["to_code"], str(meta.get("package_version", "")),
                       str(meta.get("description", "")), folder)


def _check_loadable(folder: Path) -> None:
    """Load the tokenizer and the model once: what cannot load here would fail every translation later."""
    import ctranslate2
    import sentencepiece as spm

    if (folder / "bpe.model").exists() and not (folder / "sentencepiece.model").exists():
        raise PackageInvalid("BPE-tokenised packages are not supported; use a SentencePiece package")
    for need in ("sentencepiece.model", "model/model.bin", "model/config.json"):
        if not (folder / need).is_file():
            raise PackageInvalid(f"the package has no {need}")
    try:
        spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.model"))
    except (RuntimeError, OSError) as exc:
        raise PackageInvalid(f"sentencepiece.model does not load: {exc}") from None
    try:
        ctranslate2.Translator(str(folder / "model"), device="cpu", compute_type="int8")
    except (RuntimeError, ValueError, OSError, IndexError, KeyError) as exc:  # what a damaged model.bin raises
        raise PackageInvalid(f"the CTranslate2 model does not load: {exc}") from None


def _unpack(archive: Path, into: Path) -> Path:
    """Extract a package zip safely into `into`; returns its single top folder."""
    if not zipfile.is_zipfile(archive):
        raise PackageInvalid(f"{archive.name} is not an Argos package (not a zip archive)")
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        tops = {PurePosixPath(n).parts[0] for n in names if n.strip("/")}
        if len(tops) != 1:
            raise PackageInvalid(f"{archive.name} must hold exactly one folder, found {len(tops)}")
        for member in z.infolist():
            p = PurePosixPath(member.filename)
            if p.is_absolute() or ".." in p.parts:
                raise PackageInvalid(f"{archive.name} has an unsafe path: {member.filename}")
        if sum(m.file_size for m in z.infolist()) > _MAX_PACKAGE_BYTES:
            raise PackageInvalid(f"{archive.name} unpacks to more than {_MAX_PACKAGE_BYTES // 1024**3} GiB")
        bad = z.testzip()
        if bad:
            raise PackageInvalid(f"{archive.name} is corrupt: {bad} fails its checksum")
        try:
            z.extractall(into)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise PackageInvalid(f"{archive.name} is corrupt: {exc}") from None
    return into / tops.pop()


def install(path: Path, models_dir: Path) -> list[PackageInfo]:
    """Install one .argosmodel file or every one in a folder; all are checked before any is installed."""
    path = Path(path)
    if path.is_dir():
        archives = sorted(path.glob("*.argosmodel"))
        if not archives:
            raise PackageInvalid(f"{path} holds no .argosmodel files")
    elif path.is_file():
        archives = [path]
    else:
        raise PackageInvalid(f"{path} does not exist")
    root = _packages_root(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".incoming-") as tmp:
        staged = []
        for i, archive in enumerate(archives):
            try:
                folder = _unpack(archive, Path(tmp) / str(i))
                meta = read_metadata(folder)
                _check_loadable(folder)
            except PackageInvalid as exc:
                raise PackageInvalid(f"{archive.name}: {exc}; nothing was installed") from None
            staged.append((folder, meta))
        out = []
        for folder, meta in staged:
            dest = root / f"{meta['from_code']}_{meta['to_code']}"
            if dest.exists():  # replace an older version of the same pair
                old = root / f".old-{dest.name}"
                shutil.rmtree(old, ignore_errors=True)
                dest.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            folder.rename(dest)
            out.append(_info(dest, meta))
            log.info("installed Argos package %s→%s from %s", meta["from_code"], meta["to_code"], folder)
    _LOADED.clear()
    return out


def installed(models_dir: Path) -> list[PackageInfo]:
    """The packages installed in models_dir, by pair."""
    root = _packages_root(models_dir)
    out = []
    for folder in sorted(root.glob("*_*")) if root.is_dir() else []:
        if folder.name.startswith("."):
            continue
        try:
            out.append(_info(folder, read_metadata(folder)))
        except PackageInvalid as exc:
            log.warning("ignoring %s: %s", folder, exc)
    return out


def download(src: str, dst: str, models_dir: Path, index_url: str, timeout: float = 30) -> list[PackageInfo]:
    """Fetch the package for src→dst listed in the Argos package index (argostranslate's format) and install it."""
    try:
        with urllib.request.urlopen(index_url, timeout=timeout) as resp:
            index = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise EngineError(f"Cannot read the Argos package index at {index_url} ({exc}). This machine may be "
                          "offline: download the .argosmodel file elsewhere and run `studio models install FILE`."
                          ) from None
    entry = next((p for p in index if isinstance(p, dict) and p.get("from_code") == src
                  and p.get("to_code") == dst and p.get("type", "translate") == "translate"), None)
    if entry is None:
        pairs = sorted(f"{p.get('from_code')}→{p.get('to_code')}" for p in index if isinstance(p, dict))
        raise EngineError(f"The Argos index has no package from {src} to {dst}; it offers: {', '.join(pairs)}")
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"{src}_{dst}.argosmodel"
        for link in entry.get("links", []):
            try:
                with urllib.request.urlopen(link, timeout=timeout) as resp, open(target, "wb") as f:
                    shutil.copyfileobj(resp, f, 1024 * 1024)
                return install(target, models_dir)
            except (urllib.error.URLError, OSError) as exc:
                errors.append(f"{link}: {exc}")
    raise EngineError(f"Could not download the {src}→{dst} package: {'; '.join(errors) or 'no links'}")


class _Loaded:
    """A package's model and tokenizer, loaded once per process."""

    def __init__(self, folder: Path, meta: dict, threads: int):
        import ctranslate2
        import sentencepiece as spm

        self.meta = meta
        self.sp = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.model"))
        self.translator = ctranslate2.Translator(str(folder / "model"), device="cpu", compute_type="int8",
                                                 intra_threads=threads)


_LOADED: dict[Path, _Loaded] = {}
_LOCK = threading.Lock()


@register
class ArgosEngine:
    """Offline translation with installed Argos packages; every sentence of a call goes in one batch."""

    name = "argos"

    def __init__(self, models_dir: str | Path = "models", threads: int = 0, beam_size: int = 2,
                 max_batch_size: int = 32):
        self.models_dir = Path(models_dir)
        self.threads, self.beam_size, self.max_batch_size = threads, beam_size, max_batch_size
        self._pairs: set[tuple[str, str]] = set()
        self._stamp: int | None = -1

    def pairs(self) -> set[tuple[str, str]]:
        """Pairs with an installed package (re-read when the packages folder changes)."""
        root = _packages_root(self.models_dir)
        stamp = root.stat().st_mtime_ns if root.is_dir() else None
        if stamp != self._stamp:
            self._pairs, self._stamp = {p.pair for p in installed(self.models_dir)}, stamp
        return self._pairs

    def _load(self, src: str, dst: str) -> _Loaded:
        folder = _packages_root(self.models_dir) / f"{src}_{dst}"
        with _LOCK:
            if folder not in _LOADED:
                if not folder.is_dir():
                    raise EngineError(f"no Argos package from {src} to {dst} in {self.models_dir}")
                _LOADED[folder] = _Loaded(folder, read_metadata(folder), self.threads)
            return _LOADED[folder]

    def translate(self, segments: list[str], src: str, dst: str) -> list[str]:
        """Split each segment into sentences, translate all sentences in one batch, join them back."""
        return self.translate_sentences(segments, src, dst, batched=True)

    def translate_sentences(self, segments: list[str], src: str, dst: str, batched: bool = True) -> list[str]:
        """As translate(); batched=False makes one call per sentence (the benchmark's baseline)."""
        model = self._load(src, dst)
        owners, sentences = [], []
        for i, seg in enumerate(segments):
            for s in split_sentences(seg, max_chars=300):
                owners.append(i)
                sentences.append(s)
        tokens = model.sp.encode(sentences, out_type=str)
        prefix = model.meta.get("target_prefix") or ""
        longest = max((len(t) for t in tokens), default=0)
        options = {"beam_size": self.beam_size, "max_batch_size": self.max_batch_size,
                   "max_decoding_length": min(256, 2 * longest + 10), "max_input_length": 512}
        if batched:
            results = self._run(model, tokens, prefix, options) if tokens else []
        else:
            results = [self._run(model, [t], prefix, options)[0] for t in tokens]
        out: list[list[str]] = [[] for _ in segments]
        for owner, text in zip(owners, results):
            out[owner].append(text)
        joiner = "" if dst in _NO_SPACE else " "
        return [joiner.join(parts) for parts in out]

    @staticmethod
    def _run(model: _Loaded, tokens: list[list[str]], prefix: str, options: dict) -> list[str]:
        kwargs = dict(options)
        if prefix:
            kwargs["target_prefix"] = [[prefix]] * len(tokens)
        results = model.translator.translate_batch(tokens, **kwargs)
        texts = []
        for r in results:
            hyp = r.hypotheses[0]
            if prefix and hyp and hyp[0] == prefix:
                hyp = hyp[1:]
            texts.append(model.sp.decode(hyp).strip())
        return texts
