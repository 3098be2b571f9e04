"""The category model: TF-IDF over character n-grams (2 to 5, inside word boundaries, so
French, German and Spanish mail shares features with English: "factur", "rechnung",
"abmeld") and a multinomial logistic regression, trained on ``corpus.jsonl`` beside this
file (the project's own labelled examples) the first time a process asks for it: about half
a second once on an idle core, then 1 to 3 ms per message. Training at load time, from
text in the repository, keeps a pickled model (and its version lock) out of the package.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

CORPUS = Path(__file__).resolve().parent / "corpus.jsonl"
CATEGORIES = ("invoice", "newsletter", "notification", "personal", "support")
_lock = threading.Lock()
_model: CategoryModel | None = None


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    lang: str


def load_examples(path: Path = CORPUS) -> list[Example]:
    """The labelled examples of a JSON-lines file ({"text", "label", "lang"} per line)."""
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row: dict[str, Any] = json.loads(line)
            examples.append(Example(str(row["text"]), str(row["label"]), str(row["lang"])))
    return examples


class CategoryModel:
    """A trained classifier: ``predict`` answers (category, probability)."""

    def __init__(self, examples: list[Example]) -> None:
        self._pipeline: Pipeline = make_pipeline(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True
            ),
            LogisticRegression(C=10.0, max_iter=2000),
        )
        self._pipeline.fit([e.text for e in examples], [e.label for e in examples])

    def predict(self, text: str) -> tuple[str, float]:
        probabilities = self._pipeline.predict_proba([text])[0]
        best = int(probabilities.argmax())
        return str(self._pipeline.classes_[best]), float(probabilities[best])


def shared_model() -> CategoryModel:
    """The process's model, trained on the shipped corpus on first use."""
    global _model
    with _lock:
        if _model is None:
            _model = CategoryModel(load_examples())
        return _model
