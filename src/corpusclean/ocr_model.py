"""The automatic OCR corrector (placeholder until the noisy-channel model lands)."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import regex

from corpusclean.edits import Edit


class NoisyChannelModel:
    """Makes no change yet; the interface the stage calls."""

    @classmethod
    def build(cls, *, language: str, corpus_vocabulary: Mapping[str, int] | None,
              protected: Iterable[str], min_confidence: float) -> "NoisyChannelModel":
        return cls()

    def correct_hyphenation(self, text: str, is_frozen: Callable[[str], bool]) -> tuple[list[Edit], list[tuple[int, int]]]:
        return [], []

    def correct_token(self, text: str, match: regex.Match[str], is_frozen: Callable[[str], bool]) -> list[Edit]:
        return []
