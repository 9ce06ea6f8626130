"""Architecture search for a MiDaS-like depth network, with nbperf as the latency model.

An optuna study (TPE sampler with a fixed seed, so a run is reproducible) picks the encoder
width and depth, the decoder features and the input resolution of ``nbperf.nas.midas_like``;
every candidate is built in memory, loaded with ``nbperf.load`` and estimated with
``nbperf.estimate`` (the default math cost model). Two objectives: estimated latency (minimise)
and MACs (maximise, a proxy for model capacity), with a floor on MACs as a constraint; the
output is the Pareto front of the feasible candidates.

    python examples/nas_midas.py                         # defaults: npu4000, MACs >= 5 G
    python examples/nas_midas.py --trials 60 --arch npu3720 --min-gmacs 8 --seed 1

Needs optuna: pip install 'nbperf[nas]' (or pip install optuna).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import nbperf
from nbperf.nas import midas_like, parameter_count

DEFAULT_TRIALS = 40  # ~85 s on a 2-core machine: an estimate takes 2-3 s, and TPE repeats a few points

# The search space: encoder base width (stage widths w, 2w, 4w, 8w), blocks per encoder stage,
# decoder (fusion) channels and square input resolution (a multiple of 32, MiDaS's stride).
WIDTHS = (32, 48, 64, 80, 96)
DEPTHS = (1, 2, 3)
DECODER_FEATURES = (32, 64, 96, 128)
RESOLUTIONS = (256, 320, 384, 448, 512)


@dataclass(frozen=True)
class Point:
    """One evaluated architecture."""

    width: int
    depth: int
    decoder_features: int
    resolution: int
    latency_ms: float
    gmacs: float
    params_m: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                   help=f"optuna trials (default {DEFAULT_TRIALS}: under 2 minutes on 2 cores)")
    p.add_argument("--arch", default="npu4000", help="nbperf arch preset or YAML file (default npu4000)")
    p.add_argument("--min-gmacs", type=float, default=5.0,
                   help="feasibility floor: candidates below this many GMACs are infeasible (default 5)")
    p.add_argument("--seed", type=int, default=0, help="TPE sampler seed (default 0)")
    p.add_argument("--precision", choices=("fp16", "int8"), default=None,
                   help="estimate precision (default: fp16, as the float model is)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every trial")
    args = p.parse_args(argv)
    if args.trials < 1:
        p.error("--trials must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import optuna
    except ImportError:
        print("nas_midas.py needs optuna: pip install 'nbperf[nas]'", file=sys.stderr)
        return 2
    try:
        nbperf.load_arch(args.arch)  # a bad --arch is one clear error, not every trial failing
    except nbperf.NbperfError as e:
        print(f"nas_midas.py: {e}", file=sys.stderr)
        return 2

    cache: dict[tuple[int, int, int, int], Point] = {}  # TPE repeats points; estimate each once
    estimate_s = 0.0

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        nonlocal estimate_s
        key = (trial.suggest_categorical("width", WIDTHS), trial.suggest_categorical("depth", DEPTHS),
               trial.suggest_categorical("decoder_features", DECODER_FEATURES),
               trial.suggest_categorical("resolution", RESOLUTIONS))
        point = cache.get(key)
        if point is None:
            start = time.perf_counter()
            # weightless: nbperf reads only shapes, and no weight bytes makes building free
            model = midas_like(*key, weights="external")
            est = nbperf.estimate(nbperf.load(model), args.arch, precision=args.precision)
            estimate_s += time.perf_counter() - start
            point = cache[key] = Point(*key, est.latency_ms, est.macs / 1e9, parameter_count(model) / 1e6)
        trial.set_user_attr("constraint", args.min_gmacs - point.gmacs)  # <= 0: feasible
        if args.verbose:
            print(f"  trial {trial.number:3d}: width {key[0]:3d} depth {key[1]} decoder {key[2]:3d} "
                  f"res {key[3]:3d} -> {point.latency_ms:8.3f} ms {point.gmacs:7.2f} GMACs", flush=True)
        return point.latency_ms, point.gmacs

    def constraints(trial: optuna.trial.FrozenTrial) -> tuple[float]:
        return (trial.user_attrs.get("constraint", float("inf")),)

    print(f"nas_midas: {args.trials} trials on {args.arch}, latency min / GMACs max, "
          f"GMACs >= {args.min_gmacs:g}, TPE seed {args.seed}", flush=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # constraints_func is marked experimental in optuna; the warning would repeat every run
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=args.seed, constraints_func=constraints)
        study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler,
                                    study_name="nas_midas")
        # a candidate nbperf cannot place (a model error) fails that trial, not the search
        study.optimize(objective, n_trials=args.trials, catch=(nbperf.NbperfError,))
    wall = time.perf_counter() - start

    front = _pareto_points(study, cache)
    failed = sum(t.state == optuna.trial.TrialState.FAIL for t in study.trials)
    feasible = sum(1 for t in study.trials if t.user_attrs.get("constraint", 1.0) <= 0)
    print()
    if front:
        print(f"Pareto front ({len(front)} architectures; {feasible} of {len(study.trials)} trials "
              f"feasible):")
        print(_table(front))
    else:
        print(f"no feasible architecture: no trial reached {args.min_gmacs:g} GMACs; "
              f"lower --min-gmacs or run more --trials")
    n = len(study.trials)
    print(f"\n{n} trials, {len(cache)} estimates ({n - len(cache) - failed} repeated points from the cache, "
          f"{failed} failed) in {wall:.1f} s: {n / wall:.2f} trials/s, {len(cache) / wall:.2f} estimates/s "
          f"({estimate_s / max(len(cache), 1):.2f} s per build + load + estimate)")
    return 0


def _pareto_points(study: object, cache: dict[tuple[int, int, int, int], Point]) -> list[Point]:
    """The study's feasible Pareto front, one row per architecture (TPE may repeat a point), by latency."""
    keys = {(t.params["width"], t.params["depth"], t.params["decoder_features"], t.params["resolution"])
            for t in study.best_trials}  # type: ignore[attr-defined]
    return sorted((cache[k] for k in keys), key=lambda p: (p.latency_ms, -p.gmacs))


def _table(points: Sequence[Point]) -> str:
    header = f"{'latency ms':>10}  {'GMACs':>7}  {'params M':>8}  {'width':>5}  {'depth':>5}  " \
             f"{'decoder':>7}  {'resolution':>10}"
    rows = [f"{p.latency_ms:10.3f}  {p.gmacs:7.2f}  {p.params_m:8.2f}  {p.width:5d}  {p.depth:5d}  "
            f"{p.decoder_features:7d}  {f'{p.resolution}x{p.resolution}':>10}" for p in points]
    return "\n".join([header, "-" * len(header), *rows])


if __name__ == "__main__":
    sys.exit(main())
