"""Themes in open answers, offline, in Dutch and English.

`find_themes([(answer_id, text), …])` groups answers into themes, each with a label made of
its top terms, its answers' ids, two or three representative answers and a sentiment;
groups under five answers are one "overig" group. It runs on the OR's own server: simplemma's
dictionaries ship in its wheel, scikit-learn does the rest, and nothing is downloaded.
Callers (the CLI, the dashboard, surveys) fetch the answers and show the themes.
"""

from bot.themes.cluster import MIN_SIZE, Theme, find_themes
from bot.themes.sentiment import Sentiment

__all__ = ["MIN_SIZE", "Sentiment", "Theme", "find_themes"]
