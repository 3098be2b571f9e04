"""The classifier: multinomial naive Bayes (scikit-learn's ``MultinomialNB``) over the
hashed tokens of ``features``, and its state as bytes.

Naive Bayes learns by counting, so training more (``partial_fit``) just adds to the counts:
a retraining never forgets the corpus, and an operator's examples weigh ``weight`` corpus
messages each. The state is those counts, written as a NumPy ``.npz`` of plain arrays
(only the non-zero counts) and read back with pickling refused: a state from the metadata
store is data, never code, and does not depend on scikit-learn's private attributes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.naive_bayes import MultinomialNB

from .features import N_FEATURES, vectors

CLASSES = ("ham", "spam")
FORMAT = 1
ALPHA = 0.1
# The score squeezes the log-odds per token, so a long message is not surer than a short
# one just for being long (naive Bayes alone says 0 or 1 to almost everything).
_TEMPERATURE = 1.0


class SpamModel:
    def __init__(self, classifier: MultinomialNB | None = None) -> None:
        self._nb = classifier or MultinomialNB(alpha=ALPHA)

    @property
    def trained(self) -> bool:
        return hasattr(self._nb, "classes_")

    def learn(
        self, documents: Sequence[list[str]], labels: Sequence[str], weight: float = 1.0
    ) -> None:
        """Adds tokenised ``documents`` labelled "spam" or "ham" to what it knows."""
        unknown = set(labels) - set(CLASSES)
        if unknown:
            raise ValueError(f"labels must be spam or ham, not {sorted(unknown)}")
        if not documents:
            return
        weights = np.full(len(documents), weight, dtype=np.float64)
        self._nb.partial_fit(vectors(documents), list(labels), CLASSES, sample_weight=weights)

    def scores(self, documents: Sequence[list[str]]) -> list[float]:
        """How spammy each tokenised document is, from 0 to 1."""
        if not self.trained:
            raise ValueError("the model has learnt nothing yet")
        joint = self._nb.predict_joint_log_proba(vectors(documents))
        spam = list(self._nb.classes_).index("spam")
        found = []
        for row, document in zip(joint, documents, strict=True):
            odds = (row[spam] - row[1 - spam]) / math.sqrt(max(len(document), 1))
            # Bounded so a score is never exactly 0 or 1: a threshold of 1 means never.
            found.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, odds / _TEMPERATURE)))))
        return found

    # -- state ---------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        if not self.trained:
            raise ValueError("the model has learnt nothing yet")
        counts: csr_matrix = csr_matrix(self._nb.feature_count_)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            format=np.array([FORMAT]),
            n_features=np.array([N_FEATURES]),
            classes=np.array(list(self._nb.classes_)),
            class_count=self._nb.class_count_,
            indptr=counts.indptr,
            indices=counts.indices,
            data=counts.data,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, state: bytes) -> SpamModel:
        """The model ``to_bytes`` wrote; ValueError for anything else."""
        try:
            with np.load(io.BytesIO(state), allow_pickle=False) as arrays:
                if int(arrays["format"][0]) != FORMAT or int(arrays["n_features"][0]) != N_FEATURES:
                    raise ValueError("a spam-filter state of another format")
                classes = [str(c) for c in arrays["classes"]]
                class_count = arrays["class_count"].astype(np.float64)
                counts = csr_matrix(
                    (arrays["data"], arrays["indices"], arrays["indptr"]),
                    shape=(len(classes), N_FEATURES),
                )
        except (OSError, KeyError, EOFError) as error:
            raise ValueError(f"not a spam-filter state: {error!r}") from None
        if tuple(sorted(classes)) != CLASSES or np.any(class_count <= 0):
            raise ValueError("not a spam-filter state: its classes are not spam and ham")
        # Rebuilt through the public API: one row per class holding its mean counts,
        # weighted by its message count, gives back exactly the counts.
        rows = csr_matrix(counts.multiply(1.0 / class_count[:, None]))
        classifier = MultinomialNB(alpha=ALPHA)
        classifier.partial_fit(rows, classes, CLASSES, sample_weight=class_count)
        return cls(classifier)
