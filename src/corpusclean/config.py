"""Run configuration: one typed object, loadable from TOML, echoed in the manifest."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value or file the user gave is invalid."""


@dataclass(frozen=True)
class CleanConfig:
    """Everything that decides what a run does.

    The same keys are accepted in a TOML file (top level or a ``[corpusclean]``
    table) and as CLI options; CLI options win.
    """

    # stages
    encoding: bool = True
    ocr: bool = True
    dedup: bool = True
    # reading
    text_field: str = "text"
    """Field of a JSONL record / column of a Parquet file that holds the text."""
    max_paragraph_chars: int = 2000
    """Blocks longer than this are split at sentence boundaries."""
    # OCR
    substitutions: str | None = None
    """TSV of ``wrong<TAB>right`` whole-word substitutions (user table, always applied)."""
    protected_words: tuple[str, ...] = ()
    """Words the OCR stage must never change."""
    ocr_min_confidence: float = 0.9
    language: str = "en"
    # dedup
    threshold: float = 0.8
    """Jaccard similarity at or above which two paragraphs are near duplicates."""
    containment_threshold: float = 0.9
    """Share of a paragraph's shingles inside a longer paragraph that makes it ``contained``."""
    num_perm: int = 128
    shingle: str = "word"
    """``word`` n-grams, or ``char`` n-grams (far more robust to OCR noise, ~3x the cost; see docs/dedup.md)."""
    fold_ocr: bool = True
    """Compare paragraphs with common OCR misreadings folded together (``e``/``c``, ``rn``/``m``, ...; docs/dedup.md)."""
    shingle_size: int = 5
    """Words (or characters, with ``shingle = "char"``) per shingle."""
    seed: int = 1
    # scheduled runs
    incremental: bool = True
    """Reuse the prepared paragraphs of inputs unchanged since the last run (``--full`` turns it off)."""
    keep_deleted: bool = False
    """Keep the rows of inputs that have disappeared since the last run (else they are retired)."""
    # execution
    workers: int = 1
    dask_address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # A TOML string such as "false" would otherwise be truthy and switch a stage on.
        for f in dataclasses.fields(self):
            if f.type == "bool" and not isinstance(getattr(self, f.name), bool):
                raise ConfigError(f"{f.name} must be true or false, got {getattr(self, f.name)!r}")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 < self.containment_threshold <= 1.0:
            raise ConfigError(f"containment_threshold must be in (0, 1], got {self.containment_threshold}")
        if not 0.0 <= self.ocr_min_confidence <= 1.0:
            raise ConfigError(f"ocr_min_confidence must be in [0, 1], got {self.ocr_min_confidence}")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")
        if self.num_perm < 16:
            raise ConfigError(f"num_perm must be at least 16, got {self.num_perm}")
        if self.shingle not in ("word", "char"):
            raise ConfigError(f"shingle must be 'word' or 'char', got {self.shingle!r}")
        if self.shingle_size < 1:
            raise ConfigError(f"shingle_size must be at least 1, got {self.shingle_size}")
        if self.max_paragraph_chars < 200:
            raise ConfigError(f"max_paragraph_chars must be at least 200, got {self.max_paragraph_chars}")

    def replace(self, **changes: Any) -> "CleanConfig":
        """A copy with ``changes`` applied; ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("extra")
        data["protected_words"] = list(self.protected_words)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CleanConfig":
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        values = dict(data)
        if "protected_words" in values:
            values["protected_words"] = tuple(values["protected_words"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> "CleanConfig":
        """Load a TOML file; keys may sit at top level or under ``[corpusclean]``."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        data = data.get("corpusclean", data)
        data.pop("paths", None)
        data.pop("out", None)
        return cls.from_dict(data)
