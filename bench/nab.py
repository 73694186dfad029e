"""huizhili's DefaultDetector on the Numenta Anomaly Benchmark, scored by NAB's own scorer.

Two corpora: the 11 shared files in ../shared/data/sensors/nab (7 realTraffic, 4
realKnownCause, with their combined_windows.json) and NAB's full corpus of 58 files. Our
detector writes NAB's result files through ``score_csv``; then NAB's ``run.py --optimize
--score --normalize`` (threshold optimised per profile, as NAB does for every detector) scores
them in a scratch folder, so NAB's checkout is left untouched. On the shared files the
published detectors' own result files, as NAB ships them, are re-scored on the same files so
the comparison is like for like; on the full corpus they are NAB's results/final_results.json.
Because the settings were chosen on the shared files, their in-sample score flatters; the
held-out scores beside it score each shared file (and each category) at the threshold NAB's
Sweeper optimises on the other shared files alone, for every detector alike.
Detection speed is measured on the full corpus, in one process.

Setup, once (NAB's code needs a pandas older than 3; numenta/NAB is the upstream repository):
  git clone https://github.com/numenta/NAB /tmp/NAB
  python3 -m venv /tmp/nabenv
  /tmp/nabenv/bin/pip install "pandas==2.1.4" "numpy<2" simplejson

Run: .venv/bin/python bench/nab.py [--nab /tmp/NAB] [--nab-python /tmp/nabenv/bin/python]
"""

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from huizhili.sensing.detectors import DefaultDetector, score_csv

SHARED = Path(__file__).parents[1].parent / "shared" / "data" / "sensors" / "nab"
OURS = "huizhili"
PUBLISHED = [
    "ARTime",
    "numenta",
    "contextOSE",
    "knncad",
    "relativeEntropy",
    "windowedGaussian",
    "bayesChangePt",
    "random",
    "null",
]
PROFILES = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
RUN_NAB = """
import json, sys
from nab.runner import Runner
data, windows, results, thresholds, *detectors = sys.argv[1:]
runner = Runner(dataDir=data, labelPath=windows, resultsDir=results,
                profilesPath="config/profiles.json", thresholdPath=thresholds, numCPUs=2)
runner.initialize()
runner.optimize(detectors)
runner.score(detectors, json.load(open(thresholds)))
runner.normalize()
"""
"""NAB's run.py --optimize --score --normalize, minus its imports of every named detector's
code (ARTime's needs Julia, bayesChangePt's scipy), which scoring their results does not use."""
HELD_OUT = """
import json, sys
import pandas
from nab.corpus import Corpus
from nab.labeler import CorpusLabel
from nab.sweeper import Sweeper
data, windows, results, *detectors = sys.argv[1:]
label = CorpusLabel(windows, Corpus(data))
names = sorted(label.windows)
folds = {"file": [[name] for name in names],
         "category": [[n for n in names if n.split("/")[0] == c]
                      for c in sorted({n.split("/")[0] for n in names})]}
costs = json.load(open("config/profiles.json"))["standard"]["CostMatrix"]
count = sum(len(label.windows[name]) for name in names)
base, perfect = -costs["fnWeight"] * count, costs["tpWeight"] * count
out = {}
for detector in detectors:
    sweeper = Sweeper(probationPercent=0.15, costMatrix=costs)
    scores, rows = {}, {}
    for name in names:
        category, file = name.split("/")
        frame = pandas.read_csv(f"{results}/{detector}/{category}/{detector}_{file}")
        stamps = label.labels[name]["timestamp"]
        scores[name] = (stamps, frame["anomaly_score"], label.windows[name])
        rows[name] = sweeper.calcSweepScore(stamps, frame["anomaly_score"], label.windows[name], name)
    out[detector] = {}
    for kind, held_out in folds.items():
        raw = 0.0
        for held in held_out:
            rest = [row for name in names if name not in held for row in rows[name]]
            best = max(sweeper.calcScoreByThreshold(rest), key=lambda row: row.score)
            for name in held:
                raw += sweeper.scoreDataSet(*scores[name], name, best.threshold)[1].score
        out[detector][kind] = 100 * (raw - base) / (perfect - base)
print(json.dumps(out))
"""
"""Held-out scores on the shared files, with NAB's own Sweeper: each file (or each category)
is scored at the standard profile's threshold optimised on the other files alone."""


def score_corpus(
    nab: Path, python: str, data: Path, windows: Path, detectors: list[str], work: Path
) -> dict:
    """Our results for every labelled file, the published ones copied beside, NAB's scores."""
    results = work / "results"
    labelled = json.loads(windows.read_text())
    for name in labelled:
        category, file = name.split("/")
        out = results / OURS / category / f"{OURS}_{file}"
        out.parent.mkdir(parents=True, exist_ok=True)
        score_csv(data / name, out)
        for detector in detectors:
            shipped = nab / "results" / detector / category / f"{detector}_{file}"
            target = results / detector / category / shipped.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shipped, target)
    thresholds = work / "thresholds.json"
    shutil.copyfile(nab / "config" / "thresholds.json", thresholds)
    arguments = [str(data), str(windows), str(results), str(thresholds), OURS, *detectors]
    subprocess.run(
        [python, "-c", RUN_NAB, *arguments], cwd=nab, check=True, stdout=subprocess.DEVNULL
    )
    return json.loads((results / "final_results.json").read_text())


def held_out(
    nab: Path, python: str, data: Path, windows: Path, detectors: list[str], work: Path
) -> dict:
    """Each detector's held-out standard score by file and by category (see ``HELD_OUT``)."""
    arguments = [str(data), str(windows), str(work / "results"), *detectors]
    run = subprocess.run(
        [python, "-c", HELD_OUT, *arguments], cwd=nab, check=True, capture_output=True, text=True
    )
    return json.loads(run.stdout.splitlines()[-1])


def speed(data: Path, windows: Path) -> tuple[int, float, float]:
    """Points, and points per second through score_series and through update one by one."""
    series = []
    for name in json.loads(windows.read_text()):
        frame = pd.read_csv(data / name)
        stamps = pd.to_datetime(frame["timestamp"]).to_numpy().astype("datetime64[s]")
        series.append((stamps, frame["value"].to_numpy(float)))
    points = sum(len(values) for _, values in series)
    started = time.perf_counter()
    for stamps, values in series:
        DefaultDetector().score_series(stamps, values)
    bulk = points / (time.perf_counter() - started)
    started = time.perf_counter()
    for stamps, values in series:
        detector = DefaultDetector()
        seconds = stamps.astype(np.int64).astype(float).tolist()
        for t, v in zip(seconds, values.tolist(), strict=True):
            detector.update(t, v)
    one_by_one = points / (time.perf_counter() - started)
    return points, bulk, one_by_one


def table(title: str, scores: dict) -> None:
    """One row per detector, best standard score first."""
    print(f"\n{title}")
    print(f"{'detector':<20} {'standard':>9} {'low FP':>9} {'low FN':>9}")
    ranked = sorted(scores.items(), key=lambda item: -item[1]["standard"])
    for detector, profile in ranked:
        cells = " ".join(f"{profile[name]:>9.1f}" for name in PROFILES)
        print(f"{detector:<20} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, default=Path("/tmp/NAB"), help="NAB checkout")
    parser.add_argument("--nab-python", default="/tmp/nabenv/bin/python", help="NAB's Python")
    args = parser.parse_args()
    nab = args.nab.resolve()
    with tempfile.TemporaryDirectory(prefix="nab-bench-") as scratch:
        shared = score_corpus(
            nab,
            args.nab_python,
            SHARED,
            SHARED / "combined_windows.json",
            PUBLISHED,
            Path(scratch) / "shared",
        )
        shared_held_out = held_out(
            nab,
            args.nab_python,
            SHARED,
            SHARED / "combined_windows.json",
            [OURS, *(name for name in PUBLISHED if name != "null")],
            Path(scratch) / "shared",
        )
        full = score_corpus(
            nab,
            args.nab_python,
            nab / "data",
            nab / "labels" / "combined_windows.json",
            ["null"],
            Path(scratch) / "full",
        )
    published = json.loads((nab / "results" / "final_results.json").read_text())
    table(
        "Shared files (11: 7 realTraffic, 4 realKnownCause), NAB's scorer on every detector",
        shared,
    )
    print("\nShared files held out (standard profile): each file, or each category, scored at")
    print("the threshold optimised on the other shared files alone")
    print(f"{'detector':<20} {'by file':>9} {'by cat.':>9}")
    for detector, score in sorted(shared_held_out.items(), key=lambda item: -item[1]["file"]):
        print(f"{detector:<20} {score['file']:>9.1f} {score['category']:>9.1f}")
    table(
        "Full NAB corpus (58 files); published detectors from NAB's results/final_results.json",
        {OURS: full[OURS]} | {name: published[name] for name in PUBLISHED if name in published},
    )
    points, bulk, one_by_one = speed(nab / "data", nab / "labels" / "combined_windows.json")
    print(f"\nDefaultDetector speed over the full corpus ({points:,} points, one process):")
    print(f"  score_series {bulk:,.0f} points/s; update one point at a time {one_by_one:,.0f}")


if __name__ == "__main__":
    main()
