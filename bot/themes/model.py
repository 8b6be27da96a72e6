"""What a theme is, without the numeric machinery that finds it.

Callers that show themes (the dashboard, the CLI, follow-ups) import this and `find_themes`
from `bot.themes`; numpy, SciPy and scikit-learn (about 120 MB) are loaded only when themes are
actually found, so the server and every CLI command start without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.themes.sentiment import Sentiment

MIN_SIZE = 5  # smaller groups are shown as "overig"


@dataclass(frozen=True, slots=True)
class Theme:
    """A group of answers. `other` is the "overig" group: no label or terms of its own."""

    label: str
    terms: tuple[str, ...]
    answer_ids: tuple[int, ...]
    examples: tuple[int, ...]  # ids of the answers that represent it best
    sentiment: Sentiment
    other: bool = False
    # How many of its answers lean each way: a theme can be mostly praise with some
    # complaints, and the one word above says only which side weighs more.
    leaning: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.answer_ids)
