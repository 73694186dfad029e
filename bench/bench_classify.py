"""Case classifier on the 963 real Teddy Cup messages: huizhili's model against the published baseline.

The baseline is recreated in the same run as the published reference describes it: TF-IDF over
jieba's words of title and detail, and scikit-learn's LinearSVC with default settings. Both are
scored by stratified 5-fold cross-validation (same folds, fixed seed) and by a held-out check:
trained on a stratified 80 %, scored on the 20 % neither has seen. Train and predict times are
measured on the held-out check; huizhili's ``train`` includes its own 5-fold cross-validation
(for the calibration and the scores it records). Calibration: every message's confidence from
a model trained (with ``train``) on the other folds, grouped in bins of confidence.

The messages contain citizens' real names: they are read from ../shared and never copied.

Run: .venv/bin/python bench/bench_classify.py [--folds 5] [--seed 0]
"""

import argparse
import logging
import time
from pathlib import Path

import jieba
import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from huizhili.cases.classifier import cross_validate, train

TEDDY = Path(__file__).parents[1].parent / "shared" / "data" / "cases" / "teddy2020c" / "messages_train.csv"
THRESHOLD = 0.6
"""The confidence below which a person decides, for the share of messages routed automatically."""


def baseline():
    """The published reference: TF-IDF of jieba words and a default LinearSVC."""
    return make_pipeline(TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, lowercase=False), LinearSVC())


def scores(truth, predicted) -> tuple[float, float]:
    return f1_score(truth, predicted, average="macro"), accuracy_score(truth, predicted)


def baseline_cross_validation(texts, labels, folds: int, seed: int) -> np.ndarray:
    predicted = np.empty(len(labels), dtype=object)
    for fitted, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        predicted[held_out] = baseline().fit(texts[fitted], labels[fitted]).predict(texts[held_out])
    return predicted


def out_of_fold_confidence(texts, labels, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each message's top category and its confidence from huizhili models trained on the other folds."""
    predicted = np.empty(len(labels), dtype=object)
    confidence = np.empty(len(labels))
    for fitted, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        model = train(list(texts[fitted]), list(labels[fitted]))
        for i, prediction in zip(held_out, model.predict(list(texts[held_out])), strict=True):
            predicted[i], confidence[i] = prediction.label, prediction.confidence
    return predicted, confidence


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=TEDDY)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    jieba.setLogLevel(logging.WARNING)

    messages = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    texts = (messages["留言主题"] + "\n" + messages["留言详情"]).to_numpy()
    labels = messages["label"].to_numpy()
    print(f"{len(texts)} messages, {len(set(labels))} categories, {args.folds}-fold stratified, seed {args.seed}\n")

    ours = cross_validate(list(texts), list(labels), args.folds, args.seed)
    base = baseline_cross_validation(texts, labels, args.folds, args.seed)
    fit_texts, test_texts, fit_labels, test_labels = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=args.seed
    )
    base_model, base_train_s = timed(baseline().fit, fit_texts, fit_labels)
    base_predicted, base_predict_s = timed(base_model.predict, test_texts)
    our_model, our_train_s = timed(train, list(fit_texts), list(fit_labels))
    our_predictions, our_predict_s = timed(our_model.predict, list(test_texts))
    our_predicted = [prediction.label for prediction in our_predictions]

    print(f"{'model':<44} {'CV macro-F1':>11} {'CV acc':>7} {'held-out F1':>11} {'acc':>6} {'train s':>8} {'ms/msg':>7}")
    rows = [
        ("baseline: jieba TF-IDF + LinearSVC()", scores(labels, base), scores(test_labels, base_predicted), base_train_s, base_predict_s),
        ("huizhili: words + chars 1-2, SVM, calibrated", (ours.macro_f1, ours.accuracy), scores(test_labels, our_predicted), our_train_s, our_predict_s),
    ]
    for name, (cv_f1, cv_acc), (held_f1, held_acc), train_s, predict_s in rows:
        print(f"{name:<44} {cv_f1:>11.3f} {cv_acc:>7.3f} {held_f1:>11.3f} {held_acc:>6.3f} {train_s:>8.2f} {1000 * predict_s / len(test_texts):>7.2f}")

    base_per_class = f1_score(labels, base, average=None, labels=sorted(ours.per_class))
    print(f"\n{'category (CV F1)':<16} {'baseline':>9} {'huizhili':>9}")
    for (label, f1), base_f1 in zip(sorted(ours.per_class.items()), base_per_class, strict=True):
        print(f"{label:<16} {base_f1:>9.3f} {f1:>9.3f}")

    predicted, confidence = out_of_fold_confidence(texts, labels, args.folds, args.seed)
    correct = predicted == labels
    print(f"\n{'confidence':<12} {'messages':>8} {'mean conf':>9} {'accuracy':>8}")
    edges = [0.0, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0001]
    for low, high in zip(edges, edges[1:], strict=False):
        inside = (confidence >= low) & (confidence < high)
        if inside.any():
            print(f"{low:.2f}-{min(high, 1):.2f}    {inside.sum():>8} {confidence[inside].mean():>9.3f} {correct[inside].mean():>8.3f}")
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean() for b in np.unique(bins))
    routed = confidence >= THRESHOLD
    print(f"expected calibration error (10 bins) {ece:.3f}; at confidence >= {THRESHOLD}: {routed.mean():.0%} of messages, accuracy {correct[routed].mean():.3f}; below: accuracy {correct[~routed].mean():.3f}")


if __name__ == "__main__":
    main()
