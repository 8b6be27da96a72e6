"""Themes in open answers, offline, in Dutch and English.

`find_themes([(answer_id, text), …])` groups answers into themes, each with a label made of
its top terms, its answers' ids, two or three representative answers and a sentiment;
groups under five answers are one "overig" group. It runs on the OR's own server: simplemma's
dictionaries ship in its wheel, scikit-learn does the rest, and nothing is downloaded.
Callers (the CLI, the dashboard, surveys) fetch the answers and show the themes.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.themes.model import MIN_SIZE, Theme
from bot.themes.sentiment import Sentiment

__all__ = ["MIN_SIZE", "Sentiment", "Theme", "find_themes"]


def find_themes(answers: Sequence[tuple[int, str]], *, min_size: int = MIN_SIZE) -> list[Theme]:
    """bot.themes.cluster.find_themes, imported on first use (it loads scikit-learn)."""
    from bot.themes.cluster import find_themes as find

    return find(answers, min_size=min_size)
