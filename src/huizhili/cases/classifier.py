"""The category of a citizen's message, learnt from messages already categorised.

Chinese is written without spaces, so a message is read two ways at once: as jieba's words,
and as single characters and character pairs, which still match where jieba cuts a place name
or a new word wrongly. Each kind of term is weighted by TF-IDF (sublinear term frequency); a
linear SVM scores every category, and one temperature fitted on out-of-fold scores turns the
scores into probabilities (what scikit-learn's ``CalibratedClassifierCV(ensemble=False)``
does, with a softmax shared by every category instead of one sigmoid each), so that a rule such
as "below 0.6 a person decides" means what it says. The configuration was chosen once, by
cross-validation (``bench/bench_classify.py``, ``BENCHMARKS.md``), and is the same for every
data set.

A model file is a zip of JSON and ``.npy`` arrays, read with ``allow_pickle=False``: a file a
user is handed cannot run code when it is loaded, as a pickled model could.
"""

import functools
import io
import logging
import os
import re
import unicodedata
import warnings
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import pydantic
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from huizhili.errors import ValidationError
from huizhili.spreadsheet import csv_text

with warnings.catch_warnings():
    # jieba 0.42 imports pkg_resources, which setuptools 67.5 to 80 deprecate with a warning
    # on import (https://github.com/fxsjy/jieba/issues/1026); jieba has had no release since.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated as an API")
    import jieba

log = logging.getLogger(__name__)

FORMAT = "huizhili-case-classifier"
"""The ``format`` a model file's manifest names."""
FORMAT_VERSION = 1
"""The version of the model file layout this module writes and reads."""
TOP = 3
"""Categories a prediction offers, likeliest first."""
FOLDS = 5
"""Cross-validation folds of :func:`train`; each category needs at least this many messages."""
PREDICTION_COLUMN = "prediction"
CONFIDENCE_COLUMN = "confidence"

# The one configuration, chosen by 5-fold cross-validation on the shared Teddy Cup messages
# (BENCHMARKS.md): character pairs weigh twice the words; terms seen in one message are dropped.
_CHAR_NGRAMS = (1, 2)
_CHAR_WEIGHT = 2.0
_MIN_MESSAGES_PER_TERM = 2
_SVM_C = 10.0
_JIEBA_HMM = True

_MANIFEST = "model.json"
_SPACES = re.compile(r"\s+")

_Documents = list[tuple[list[str], list[str]]]
"""Each message's words and character n-grams."""


class Candidate(NamedTuple):
    """One category offered for a message, with its probability."""

    label: str
    confidence: float


@dataclass(frozen=True)
class Prediction:
    """The likeliest categories of one message, likeliest first; confidences sum to at most 1."""

    candidates: tuple[Candidate, ...]

    @property
    def label(self) -> str:
        """The likeliest category."""
        return self.candidates[0].label

    @property
    def confidence(self) -> float:
        """The probability of the likeliest category."""
        return self.candidates[0].confidence


class CrossValidation(pydantic.BaseModel):
    """Scores of a stratified k-fold cross-validation: every message predicted by a model that never saw it."""

    folds: int
    seed: int
    messages: int
    macro_f1: float
    accuracy: float
    per_class: dict[str, float]
    """F1 of each category."""


class TrainingRecord(pydantic.BaseModel):
    """What a model was trained on, kept in its file so a user can judge it."""

    messages: int
    trained_at: datetime
    cross_validation: CrossValidation


class _TextSettings(pydantic.BaseModel):
    """How a message becomes terms; kept in the model file so a loaded model reads text as it was trained."""

    normalization: Literal["NFKC, lower case, whitespace collapsed"]
    jieba_version: str
    jieba_hmm: bool
    char_ngrams: tuple[int, int]


class _BlockManifest(pydantic.BaseModel):
    """One kind of term in the model file: its terms in column order and its weight."""

    name: Literal["words", "characters"]
    weight: pydantic.PositiveFloat
    terms: list[str]


class _Manifest(pydantic.BaseModel):
    """The JSON part of a model file."""

    format: str
    version: int
    labels: list[str]
    text: _TextSettings
    blocks: list[_BlockManifest]
    temperature: pydantic.PositiveFloat
    training: TrainingRecord


@dataclass(frozen=True)
class _Block:
    """One kind of term (words or character n-grams) as features: columns, idf and weight."""

    name: Literal["words", "characters"]
    terms: tuple[str, ...]
    idf: NDArray[np.float64]
    weight: float
    column: dict[str, int] = field(init=False, repr=False, compare=False)
    """Each term's column, built once so that predicting one message does not rebuild it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", {term: i for i, term in enumerate(self.terms)})


class Classifier:
    """A trained model: reads messages the way it was trained and gives each its likeliest categories.

    Made by :func:`train` or :func:`load`; ``labels`` are its categories, ``record`` what it
    was trained on and how well it cross-validated.
    """

    def __init__(
        self,
        *,
        labels: Sequence[str],
        text: _TextSettings,
        blocks: Sequence[_Block],
        coef: NDArray[np.float64],
        intercept: NDArray[np.float64],
        temperature: float,
        record: TrainingRecord,
    ) -> None:
        self.labels = tuple(labels)
        self.record = record
        self._text = text
        self._blocks = tuple(blocks)
        self._coef = coef
        self._intercept = intercept
        self._temperature = temperature

    def probabilities(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Each message's probability of every category, in the order of ``labels``.

        Parameters
        ----------
        texts
            Messages (title and detail joined, as the model was trained).

        Returns
        -------
        numpy.ndarray
            One row per message, one column per label; each row sums to 1.
        """
        documents = [_terms(text, self._text) for text in texts]
        features = _features(self._blocks, documents)
        scores = features @ self._coef.T + self._intercept
        return np.asarray(softmax(scores / self._temperature, axis=1), dtype=np.float64)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """The :data:`TOP` likeliest categories of each message, with calibrated probabilities.

        Parameters
        ----------
        texts
            Messages (title and detail joined, as the model was trained).

        Returns
        -------
        list of Prediction
            One per message, in order.
        """
        probabilities = self.probabilities(texts)
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :TOP]
        return [
            Prediction(tuple(Candidate(self.labels[j], float(row[j])) for j in best))
            for row, best in zip(probabilities, order, strict=True)
        ]


def train(texts: Sequence[str], labels: Sequence[str]) -> Classifier:
    """A classifier learnt from categorised messages, its cross-validated scores recorded in it.

    The messages are cross-validated first (:data:`FOLDS` folds, seed 0); the out-of-fold scores
    give the calibration and the scores kept in :attr:`Classifier.record`; the model is then
    fitted on every message.

    Parameters
    ----------
    texts
        Messages (title and detail joined).
    labels
        Each message's category.

    Returns
    -------
    Classifier

    Raises
    ------
    ValidationError
        If texts and labels differ in number, a label is empty, there are fewer than two
        categories, or a category has fewer than :data:`FOLDS` messages.
    """
    label_names, y = _indexed_labels(labels, texts, FOLDS)
    settings = _text_settings()
    documents = [_terms(text, settings) for text in texts]
    scores = _out_of_fold_scores(documents, y, len(label_names), FOLDS, seed=0)
    cross_validation = _scores(label_names, y, scores, FOLDS, seed=0)
    blocks, coef, intercept = _fit(documents, y, len(label_names))
    record = TrainingRecord(
        messages=len(y), trained_at=datetime.now(UTC), cross_validation=cross_validation
    )
    log.info(
        "trained on %d messages in %d categories; cross-validated macro-F1 %.3f",
        len(y),
        len(label_names),
        cross_validation.macro_f1,
    )
    return Classifier(
        labels=label_names,
        text=settings,
        blocks=blocks,
        coef=coef,
        intercept=intercept,
        temperature=_fit_temperature(scores, y),
        record=record,
    )


def cross_validate(
    texts: Sequence[str], labels: Sequence[str], folds: int = FOLDS, seed: int = 0
) -> CrossValidation:
    """Stratified k-fold scores of the classifier on these messages, to judge it before trusting it.

    Parameters
    ----------
    texts
        Messages (title and detail joined).
    labels
        Each message's category.
    folds
        Number of folds (at least 2); each category needs at least this many messages.
    seed
        Seed of the shuffle that deals messages into folds.

    Returns
    -------
    CrossValidation
        Macro-F1, accuracy and each category's F1 over all out-of-fold predictions.

    Raises
    ------
    ValidationError
        As :func:`train`, or if ``folds`` is under 2.
    """
    if folds < 2:
        message = f"cross-validation needs at least 2 folds, not {folds}"
        raise ValidationError(message)
    label_names, y = _indexed_labels(labels, texts, folds)
    settings = _text_settings()
    documents = [_terms(text, settings) for text in texts]
    scores = _out_of_fold_scores(documents, y, len(label_names), folds, seed)
    return _scores(label_names, y, scores, folds, seed)


def save(classifier: Classifier, path: Path) -> None:
    """Write a classifier as one zip of JSON and ``.npy`` arrays, which loading cannot run as code.

    The file is written under a temporary name beside ``path`` and moved into place, so a
    process loading the model never reads half a file.

    Parameters
    ----------
    classifier
        The model to write.
    path
        The model file; replaced if it exists.
    """
    manifest = _Manifest(
        format=FORMAT,
        version=FORMAT_VERSION,
        labels=list(classifier.labels),
        text=classifier._text,
        blocks=[
            _BlockManifest(name=block.name, weight=block.weight, terms=list(block.terms))
            for block in classifier._blocks
        ],
        temperature=classifier._temperature,
        training=classifier.record,
    )
    arrays = {
        "coef": classifier._coef,
        "intercept": classifier._intercept,
        **{f"idf_{block.name}": block.idf for block in classifier._blocks},
    }
    # Opened as an ordinary file, not by tempfile, so the model gets the user's usual permissions.
    partial = path.with_name(f".{path.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_MANIFEST, manifest.model_dump_json(indent=1))
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(f"{name}.npy", buffer.getvalue())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def load(path: Path) -> Classifier:
    """A classifier read from a file :func:`save` wrote, without unpickling anything.

    Parameters
    ----------
    path
        The model file.

    Returns
    -------
    Classifier
        Predicts exactly as the saved one did.

    Raises
    ------
    ValidationError
        If the file is not a huizhili classifier model of this format version, is damaged, or
        holds a pickled array.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _Manifest.model_validate_json(archive.read(_MANIFEST))
            _check_format(path, manifest)
            names = ["coef", "intercept", *(f"idf_{block.name}" for block in manifest.blocks)]
            arrays = {
                name: np.load(io.BytesIO(archive.read(f"{name}.npy")), allow_pickle=False)
                for name in names
            }
    except ValidationError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as error:
        # pydantic's and numpy's refusals (a pickled array among them) are ValueErrors.
        message = f"{path.name}: not a readable huizhili classifier model ({type(error).__name__}: {error})"
        raise ValidationError(message) from error
    _check_shapes(path, manifest, arrays)
    blocks = [
        _Block(b.name, tuple(b.terms), arrays[f"idf_{b.name}"], b.weight) for b in manifest.blocks
    ]
    if manifest.text.jieba_version != version("jieba"):
        log.warning(
            "%s was trained with jieba %s, this is %s: a few words may be cut differently",
            path.name,
            manifest.text.jieba_version,
            version("jieba"),
        )
    return Classifier(
        labels=manifest.labels,
        text=manifest.text,
        blocks=blocks,
        coef=arrays["coef"],
        intercept=arrays["intercept"],
        temperature=manifest.temperature,
        record=manifest.training,
    )


def train_csv(path: Path, text_cols: Sequence[str], label_col: str) -> Classifier:
    """A classifier trained on a CSV of categorised messages, its text columns joined in order.

    Parameters
    ----------
    path
        A UTF-8 CSV with a header line (a byte-order mark is allowed).
    text_cols
        Columns whose text, joined, is the message (e.g. title, detail).
    label_col
        The column with each message's category.

    Returns
    -------
    Classifier

    Raises
    ------
    ValidationError
        If the file cannot be read as CSV, a column is missing, a row's category is empty
        (naming its line, the header being line 1), or as :func:`train`.
    """
    frame = _read_csv(path, [*text_cols, label_col])
    labels = [label.strip() for label in frame[label_col]]
    for line, label in enumerate(labels, start=2):
        if not label:
            message = f"{path.name}: line {line}: empty {label_col}"
            raise ValidationError(message)
    return train(_joined(frame, text_cols), labels)


def classify_csv(
    classifier: Classifier, path: Path, text_cols: Sequence[str], out_path: Path
) -> list[Prediction]:
    """Categorise every message of a CSV: its rows, in order, with prediction and confidence added.

    Cells are written through :func:`huizhili.spreadsheet.csv_text`, so no text from a citizen
    becomes a spreadsheet formula.

    Parameters
    ----------
    classifier
        A trained model.
    path
        A UTF-8 CSV with a header line.
    text_cols
        Columns whose text, joined, is the message, as when the model was trained.
    out_path
        The CSV to write: the input's columns, then ``prediction`` (the likeliest category) and
        ``confidence`` (its probability, to three decimals).

    Returns
    -------
    list of Prediction
        One per row, in order, with all :data:`TOP` candidates.

    Raises
    ------
    ValidationError
        If the file cannot be read as CSV, a text column is missing, or it already has a
        ``prediction`` or ``confidence`` column.
    """
    frame = _read_csv(path, text_cols)
    taken = [column for column in (PREDICTION_COLUMN, CONFIDENCE_COLUMN) if column in frame.columns]
    if taken:
        message = f"{path.name}: already has a column {', '.join(taken)}; rename it so it is not overwritten"
        raise ValidationError(message)
    predictions = classifier.predict(_joined(frame, text_cols))
    rows = [
        {
            **row,
            PREDICTION_COLUMN: prediction.label,
            CONFIDENCE_COLUMN: round(prediction.confidence, 3),
        }
        for row, prediction in zip(frame.to_dict("records"), predictions, strict=True)
    ]
    columns = [*map(str, frame.columns), PREDICTION_COLUMN, CONFIDENCE_COLUMN]
    out_path.write_text(csv_text(rows, columns), encoding="utf-8", newline="")
    return predictions


def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """Every cell of a CSV as text, refusing a file without the columns asked for."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as error:
        message = f"{path.name}: the CSV is empty (no header line)"
        raise ValidationError(message) from error
    except UnicodeDecodeError as error:
        message = f"{path.name}: not UTF-8 text (save it as CSV UTF-8)"
        raise ValidationError(message) from error
    except pd.errors.ParserError as error:
        message = f"{path.name}: unreadable CSV: {error}"
        raise ValidationError(message) from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        message = f"{path.name}: no column {', '.join(missing)} (columns: {', '.join(map(str, frame.columns))})"
        raise ValidationError(message)
    return frame


def _joined(frame: pd.DataFrame, text_cols: Sequence[str]) -> list[str]:
    """Each row's text columns joined by a newline, the form the classifier reads."""
    return [
        "\n".join(cells) for cells in zip(*(frame[column] for column in text_cols), strict=True)
    ]


def _indexed_labels(
    labels: Sequence[str], texts: Sequence[str], folds: int
) -> tuple[list[str], NDArray[np.intp]]:
    """The sorted category names and each message's index among them, refusing sets too small to cross-validate."""
    if len(texts) != len(labels):
        message = f"{len(texts)} messages but {len(labels)} labels"
        raise ValidationError(message)
    stripped = [label.strip() for label in labels]
    if "" in stripped:
        message = f"message {stripped.index('')} has an empty label"
        raise ValidationError(message)
    names, y = np.unique(np.asarray(stripped, dtype=str), return_inverse=True)
    if len(names) < 2:
        message = f"at least two categories are needed to learn from, not {len(names)}"
        raise ValidationError(message)
    counts = np.bincount(y, minlength=len(names))
    scarce = [
        f"{name} ({count})" for name, count in zip(names, counts, strict=True) if count < folds
    ]
    if scarce:
        message = f"each category needs at least {folds} messages to cross-validate; too few: {', '.join(scarce)}"
        raise ValidationError(message)
    return [str(name) for name in names], y


def _text_settings() -> _TextSettings:
    """The text settings of a model trained now, with the jieba installed."""
    return _TextSettings(
        normalization="NFKC, lower case, whitespace collapsed",
        jieba_version=version("jieba"),
        jieba_hmm=_JIEBA_HMM,
        char_ngrams=_CHAR_NGRAMS,
    )


@functools.cache
def _segmenter() -> "jieba.Tokenizer":
    """A jieba tokenizer of our own on its shipped dictionary, built without its cache file or log lines.

    jieba's shared tokenizer logs to stderr when first used, reads a cache from the system's
    temporary folder (where anyone may have left one), and any code in the process may add words
    to it; this one always cuts the same text into the same words.
    """
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(tokenizer.get_dict_file())
    tokenizer.initialized = True
    return tokenizer


def _terms(text: str, settings: _TextSettings) -> tuple[list[str], list[str]]:
    """A message's jieba words and character n-grams, after normalising width, case and spaces."""
    normal = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()
    words = [
        word for word in _segmenter().cut(normal, HMM=settings.jieba_hmm) if not word.isspace()
    ]
    low, high = settings.char_ngrams
    grams = [normal[i : i + n] for n in range(low, high + 1) for i in range(len(normal) - n + 1)]
    return words, grams


def _fit_block(
    name: Literal["words", "characters"], documents: list[list[str]], weight: float
) -> _Block:
    """Terms found in at least two messages, with scikit-learn's smoothed idf."""
    frequency = Counter(term for document in documents for term in set(document))
    terms = tuple(
        sorted(term for term, count in frequency.items() if count >= _MIN_MESSAGES_PER_TERM)
    )
    counts = np.array([frequency[term] for term in terms], dtype=np.float64)
    idf = np.log((1 + len(documents)) / (1 + counts)) + 1
    return _Block(name, terms, idf, weight)


def _block_features(block: _Block, documents: list[list[str]]) -> sparse.csr_matrix:
    """Sublinear TF-IDF of one kind of term, each row of unit length, times the block's weight."""
    columns = [[block.column[t] for t in document if t in block.column] for document in documents]
    indptr = np.cumsum([0, *map(len, columns)])
    indices = np.fromiter(
        (c for row in columns for c in row), dtype=np.int64, count=int(indptr[-1])
    )
    matrix = sparse.csr_matrix(
        (np.ones(len(indices)), indices, indptr), shape=(len(documents), len(block.terms))
    )
    matrix.sum_duplicates()
    matrix.data = (1 + np.log(matrix.data)) * block.idf[matrix.indices]
    return _unit_rows(matrix) * block.weight


def _features(blocks: Sequence[_Block], documents: _Documents) -> sparse.csr_matrix:
    """The feature rows of messages: words and character n-grams side by side, each row of unit length."""
    parts = [
        _block_features(block, [document[kind] for document in documents])
        for kind, block in enumerate(blocks)
    ]
    return _unit_rows(sparse.hstack(parts, format="csr"))


def _unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Rows scaled to unit length (empty rows left empty), as scikit-learn's ``normalize``, but for no rows too."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1 / norms) @ matrix


def _fit(
    documents: _Documents, y: NDArray[np.intp], n_labels: int
) -> tuple[list[_Block], NDArray[np.float64], NDArray[np.float64]]:
    """Terms and SVM weights learnt from these messages; a two-category model scores both, as softmax needs."""
    blocks = [
        _fit_block("words", [words for words, _ in documents], 1.0),
        _fit_block("characters", [grams for _, grams in documents], _CHAR_WEIGHT),
    ]
    svm = LinearSVC(C=_SVM_C, dual=True, random_state=0)
    svm.fit(_features(blocks, documents), y)
    coef = np.asarray(svm.coef_, dtype=np.float64)
    intercept = np.asarray(svm.intercept_, dtype=np.float64)
    if n_labels == 2:
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    return blocks, coef, intercept


def _out_of_fold_scores(
    documents: _Documents, y: NDArray[np.intp], n_labels: int, folds: int, seed: int
) -> NDArray[np.float64]:
    """Every message's category scores from a model fitted on the other folds."""
    scores = np.zeros((len(y), n_labels))
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(
        np.zeros(len(y)), y
    )
    for fitted, held_out in splits:
        blocks, coef, intercept = _fit([documents[i] for i in fitted], y[fitted], n_labels)
        held_out_features = _features(blocks, [documents[i] for i in held_out])
        scores[held_out] = held_out_features @ coef.T + intercept
    return scores


def _scores(
    label_names: list[str], y: NDArray[np.intp], scores: NDArray[np.float64], folds: int, seed: int
) -> CrossValidation:
    """Macro-F1, accuracy and per-category F1 of out-of-fold predictions."""
    predicted = scores.argmax(axis=1)
    per_class = f1_score(y, predicted, average=None, labels=list(range(len(label_names))))
    return CrossValidation(
        folds=folds,
        seed=seed,
        messages=len(y),
        macro_f1=float(np.mean(per_class)),
        accuracy=float(accuracy_score(y, predicted)),
        per_class={name: float(f1) for name, f1 in zip(label_names, per_class, strict=True)},
    )


def _fit_temperature(scores: NDArray[np.float64], y: NDArray[np.intp]) -> float:
    """The temperature whose softmax of out-of-fold scores gives the true categories the highest likelihood."""

    def loss(log_temperature: float) -> float:
        log_p = log_softmax(scores / np.exp(log_temperature), axis=1)
        return float(-log_p[np.arange(len(y)), y].mean())

    result = minimize_scalar(loss, bounds=(-7.0, 3.0), method="bounded")
    return float(np.exp(result.x))


def _check_format(path: Path, manifest: _Manifest) -> None:
    """Refuse a model file of another program, or of a layout this version does not read."""
    if manifest.format != FORMAT or manifest.version != FORMAT_VERSION:
        message = f"{path.name}: a {manifest.format} file of version {manifest.version}; this huizhili reads {FORMAT} version {FORMAT_VERSION}"
        raise ValidationError(message)
    if [block.name for block in manifest.blocks] != ["words", "characters"]:
        message = f"{path.name}: term blocks {[block.name for block in manifest.blocks]}, not words then characters"
        raise ValidationError(message)


def _check_shapes(path: Path, manifest: _Manifest, arrays: dict[str, NDArray[np.float64]]) -> None:
    """Refuse a model file whose arrays do not fit its labels and terms."""
    terms = {f"idf_{block.name}": len(block.terms) for block in manifest.blocks}
    n_labels = len(manifest.labels)
    shapes = {"coef": (n_labels, sum(terms.values())), "intercept": (n_labels,)}
    for name, shape in {**shapes, **{name: (n,) for name, n in terms.items()}}.items():
        array = arrays[name]
        if array.shape != shape or array.dtype != np.float64:
            message = (
                f"{path.name}: {name}.npy holds {array.dtype} {array.shape}, not float64 {shape}"
            )
            raise ValidationError(message)
