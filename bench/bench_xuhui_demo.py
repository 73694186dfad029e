"""The Xuhui demo on real streets: how long it takes to load, and one life-circle run over the district.

Loads the demo into fresh embedded databases (median of 5), builds the walk network from its
streets, runs the life circle for 徐汇区 in process three times, then the whole command a user
types — ``huizhili lifecircle run --area 徐汇区``, a job with its maps and report — once.

Run: .venv/bin/python bench/bench_xuhui_demo.py
"""

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from huizhili.base.demo import load_xuhui
from huizhili.network.finder import NetworkCache
from huizhili.network.lifecircle import run_life_circle
from huizhili.policy import Scope
from huizhili.storage.engine import create_engine, migrate, session_factory, transaction

CLI = Path(__file__).parents[1] / ".venv" / "bin" / "huizhili"


def fresh_demo(folder: Path) -> tuple[float, object]:
    """Seconds to load the demo into a new database in ``folder``, and its session factory."""
    engine = create_engine(f"sqlite:///{folder / 'huizhili.sqlite'}")
    migrate(engine)
    sessions = session_factory(engine)
    started = time.perf_counter()
    with transaction(sessions) as session:
        load_xuhui(session)
    return time.perf_counter() - started, sessions


def main() -> None:
    loads = []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as folder:
            loads.append(fresh_demo(Path(folder))[0])
    print(f"demo load (load_xuhui, fresh SQLite): median {statistics.median(loads):.2f} s of {len(loads)}")
    with tempfile.TemporaryDirectory() as folder:
        _, sessions = fresh_demo(Path(folder))
        with sessions() as session:
            started = time.perf_counter()
            graph = NetworkCache(Path(folder) / "cache").graph(session)
            built = time.perf_counter() - started
        print(f"walk network: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges, built in {built:.2f} s")
        runs = []
        for _ in range(3):
            with transaction(sessions) as session:
                result = run_life_circle(session, graph, created_by="bench", area="徐汇区", scope=Scope.system())
            runs.append(result.seconds)
        print(f"run_life_circle 徐汇区: {len(result.origins):,} {result.origins.source} origins, kinds {', '.join(result.distances)}, "
              f"{result.method}: {', '.join(f'{r:.3f}' for r in runs)} s (the first compiles the search)")
        env = {**os.environ, "HUIZHILI_DATA_DIR": folder}
        started = time.perf_counter()
        output = subprocess.run([str(CLI), "lifecircle", "run", "--area", "徐汇区"], env=env, check=True, capture_output=True, text=True).stdout
        print(f"huizhili lifecircle run --area 徐汇区 (job, maps, report): {time.perf_counter() - started:.2f} s")
        print(output)


if __name__ == "__main__":
    main()
