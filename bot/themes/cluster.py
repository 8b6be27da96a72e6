"""Open answers into themes: features, the number of themes, labels and examples.

Each answer becomes three kinds of features, each scaled to unit length and weighted:
TF-IDF of its lemmas (what it says), TF-IDF of character 3–5-grams of those lemmas (so
typos, dialect spellings and Dutch compounds still overlap: "werkdurk", "thuiswerkdag") and
the known topics its words point to (topics.py: "loon" and "verdienen" share no letters).
TruncatedSVD folds them into DIMENSIONS dimensions, k-means groups them, and the number of
themes is the k with the best silhouette (cosine, on a sample for large sets). Groups with
fewer than MIN_SIZE answers go to "overig", so one colleague's answer never stands alone.

Measured with bench/themes.py (320 labelled Dutch answers, 8 planted themes): see
bench/README.md for the agreement and the time for 10,000 answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from scipy.sparse import csr_matrix, hstack
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from bot.themes.model import MIN_SIZE, Theme
from bot.themes.sentiment import leaning, overall, score
from bot.themes.text import content_pairs
from bot.themes.topics import topics_of

MAX_THEMES = 15
DIMENSIONS = 40
# Weights of the three feature kinds (their squares add up to one).
WEIGHT_TOPICS = 0.6
WEIGHT_CHARS = 0.12
WEIGHT_WORDS = 0.28
SELECTION_SAMPLE = 3000
SILHOUETTE_SAMPLE = 1500
SEED = 0  # the same answers give the same themes every time
TERMS = 5
TYPO_SCORE = 85  # rapidfuzz ratio of a typo to the word it stands for
TYPO_MIN_LENGTH = 5
CANDIDATES = 30  # the best-weighted words of a group whose typos are looked up
MAX_GRAMS = 30_000  # the most frequent character n-grams kept
EXAMPLES = 3


def find_themes(answers: Sequence[tuple[int, str]], *, min_size: int = MIN_SIZE) -> list[Theme]:
    """Themes of (answer id, text) pairs, largest first, with "overig" (if any) last.

    Fewer than 2 × min_size answers with words make at most one theme: splitting them
    would only make groups too small to show.
    """
    ids = [answer_id for answer_id, _ in answers]
    texts = {answer_id: text for answer_id, text in answers}
    pairs = [content_pairs(text) for _, text in answers]
    words = [[word for _, word in p] for p in pairs]
    written: dict[str, Counter[str]] = {}
    for token, word in (pair for p in pairs for pair in p):
        written.setdefault(word, Counter())[token] += 1
    shown = {word: forms.most_common(1)[0][0] for word, forms in written.items()}
    usable = [i for i, w in enumerate(words) if w]
    leftover = [ids[i] for i, w in enumerate(words) if not w]
    if len(usable) < 2 * min_size:
        groups = [usable] if len(usable) >= min_size else []
        if not groups:
            leftover = ids
        return _themes(groups, None, ids, words, texts, leftover, min_size, shown)
    # One thread: with OpenMP's default of one per CPU, k-means on a busy 2-CPU server took
    # 14.8 s for 10,000 answers instead of 3.1 s (threads spinning while they wait for CPU).
    with threadpool_limits(limits=1):
        features = _features([words[i] for i in usable])
        labels = _cluster(features, len(usable))
    groups = [[usable[j] for j in np.flatnonzero(labels == k)] for k in np.unique(labels)]
    positions = {i: j for j, i in enumerate(usable)}
    reduced = features[[positions[i] for i in usable]]
    return _themes(groups, (reduced, positions), ids, words, texts, leftover, min_size, shown)


def _features(words: list[list[str]]) -> np.ndarray:
    """The answers as unit vectors in DIMENSIONS dimensions (see the module docstring)."""
    docs = [" ".join(w) for w in words]
    tops = [" ".join(sorted({t for word in w for t in topics_of(word)})) or "-" for w in words]
    lemma_tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, token_pattern=r"\S+")
    char_tfidf = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2, max_features=MAX_GRAMS
    )
    topic_vec = TfidfVectorizer(token_pattern=r"\S+", use_idf=False)
    parts = []
    for vectorizer, corpus, weight in (
        (lemma_tfidf, docs, WEIGHT_WORDS),
        (char_tfidf, docs, WEIGHT_CHARS),
        (topic_vec, tops, WEIGHT_TOPICS),
    ):
        try:
            parts.append(normalize(vectorizer.fit_transform(corpus)) * weight**0.5)
        except ValueError:  # no term in two answers: this kind says nothing here
            parts.append(csr_matrix((len(docs), 1)))
    matrix = hstack(parts).tocsr()
    dims = min(DIMENSIONS, matrix.shape[1] - 1, len(docs) - 1)
    if dims < 2:
        return np.asarray(normalize(matrix.toarray()))
    reduced = TruncatedSVD(dims, n_iter=4, random_state=SEED).fit_transform(matrix)
    return np.asarray(normalize(reduced))


def _cluster(features: np.ndarray, n: int) -> np.ndarray:
    """k-means labels for the k (2..MAX_THEMES, at most n / MIN_SIZE) with the best
    silhouette: the number of themes is what the answers support, not a setting.

    k is chosen on a sample of SELECTION_SAMPLE answers (of 10,000, the themes a sample of
    3,000 shows are the same; k-means over every k on all of them was half the time), and
    the chosen k is then fitted on all answers.
    """
    rng = np.random.default_rng(SEED)
    sample = rng.choice(n, SELECTION_SAMPLE, replace=False) if n > SELECTION_SAMPLE else None
    part = features if sample is None else features[sample]
    scored = part if len(part) <= SILHOUETTE_SAMPLE else part[:SILHOUETTE_SAMPLE]
    best: tuple[float, int, np.ndarray] | None = None
    for k in range(2, max(2, min(MAX_THEMES, len(part) // MIN_SIZE)) + 1):
        labels = KMeans(k, n_init=3, random_state=SEED).fit_predict(part)
        if len(set(labels[: len(scored)])) < 2:
            continue
        quality = float(silhouette_score(scored, labels[: len(scored)], metric="cosine"))
        if best is None or quality > best[0]:
            best = (quality, k, labels)
    if best is None:
        return np.zeros(n, dtype=int)
    if sample is None:
        return best[2]
    return np.asarray(KMeans(best[1], n_init=2, random_state=SEED).fit_predict(features))


def _themes(
    groups: list[list[int]],
    space: tuple[np.ndarray, dict[int, int]] | None,
    ids: list[int],
    words: list[list[str]],
    texts: dict[int, str],
    leftover: list[int],
    min_size: int,
    shown: dict[str, str],
) -> list[Theme]:
    """Themes from groups of answer positions: small groups join `leftover` as "overig".
    Terms are shown in the form most answers wrote them (`shown`, lemma → word)."""
    frequency = Counter(w for ws in words for w in set(ws))
    themes, other = [], list(leftover)
    for group in sorted(groups, key=len, reverse=True):
        lemmas = _terms(group, words, frequency, len(words)) if len(group) >= min_size else []
        if not lemmas:  # too small, or its answers share no word: nothing to name it by
            other.extend(ids[i] for i in group)
            continue
        terms = [shown.get(word, word) for word in lemmas]
        examples = _examples(group, space, ids)
        themes.append(
            Theme(
                label=", ".join(terms[:3]).capitalize(),
                terms=tuple(terms),
                answer_ids=tuple(ids[i] for i in group),
                examples=examples,
                **_mood([score(texts[ids[i]]) for i in group]),
            )
        )
    if other:
        themes.append(
            Theme(
                label="",
                terms=(),
                answer_ids=tuple(other),
                examples=(),
                **_mood([score(texts[a]) for a in other]),
                other=True,
            )
        )
    return themes


def _terms(group: list[int], words: list[list[str]], frequency: Counter[str], n: int) -> list[str]:
    """The words that set a group apart: share of its answers that use a word, times how
    rare the word is overall; a word inside a better one ("druk" in "werkdruk") is left out.
    A word's typos in the group count with it ('salris' for 'salaris'). Only words of two
    answers or more: a label is shown to the OR and sent to the audience in a follow-up, and
    a word only one colleague used could point to them."""
    inside = Counter(w for i in group for w in set(words[i]))

    def weight(word: str, count: int) -> float:
        return -(count / len(group)) * float(np.log(1 + n / frequency[word]))

    candidates = sorted(inside, key=lambda w: (weight(w, inside[w]), w))[:CANDIDATES]
    typos = {w: _typos(w, inside) for w in candidates}
    # A word counts with its typos, unless it is the typo: a spelling more answers used wins.
    counts = {
        w: inside[w] + sum(inside[t] for t in typos[w])
        for w in candidates
        if all(inside[t] <= inside[w] for t in typos[w])
    }
    ranked = sorted(
        (w for w, c in counts.items() if c >= 2), key=lambda w: (weight(w, counts[w]), w)
    )
    chosen: list[str] = []
    taken: set[str] = set()
    for word in ranked:
        if word not in taken and not any(word in c or c in word for c in chosen):
            chosen.append(word)
            taken.update(typos[word])
        if len(chosen) == TERMS:
            break
    return chosen


def _typos(word: str, counts: Counter[str]) -> list[str]:
    """The other words of a group that look like typos of `word`: same first letter, about
    the same length, rapidfuzz ratio ≥ TYPO_SCORE."""
    if len(word) < TYPO_MIN_LENGTH:
        return []
    near = process.extract(
        word, list(counts), scorer=fuzz.ratio, score_cutoff=TYPO_SCORE, limit=None, processor=None
    )
    return [
        other
        for other, _, _ in near
        if other != word and other[0] == word[0] and abs(len(other) - len(word)) <= 1
    ]


def _examples(
    group: list[int], space: tuple[np.ndarray, dict[int, int]] | None, ids: list[int]
) -> tuple[int, ...]:
    """The answers nearest the group's centre: they say what most of the others say."""
    if space is None:
        return tuple(ids[i] for i in group[:EXAMPLES])
    features, positions = space
    rows = features[[positions[i] for i in group]]
    centre = rows.mean(axis=0)
    order = np.argsort(-(rows @ centre), kind="stable")[:EXAMPLES]
    return tuple(ids[group[j]] for j in order)


def _mood(scores: list[float]) -> dict[str, Any]:
    """A group's sentiment and how many of its answers lean each way."""
    return {"sentiment": overall(scores), "leaning": leaning(scores)}
