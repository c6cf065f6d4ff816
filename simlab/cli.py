"""Command line: ``simlab run|validate|compare|plot|report|list`` (DESIGN.md §3).

Exit 0 on success, 2 on invalid input with one message naming the file, line and key path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simlab.errors import ScenarioError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simlab", description="Closed-loop recommender and opinion-dynamics simulator."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario YAML and write a run folder")
    run.add_argument("scenario", nargs="?", help="scenario YAML")
    run.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run from its checkpoints")
    run.add_argument("--out", help="the run folder itself (default runs/<name>/<stamp>/)")
    run.add_argument("--replicates", type=int)
    run.add_argument("--seed", type=int)
    run.add_argument("--steps", type=int)
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted key")
    run.add_argument("--workers", type=int, default=1, help="parallel tasks (local process pool)")
    run.add_argument("--backend", choices=["local", "ray"], default="local")
    run.add_argument("--address", help="Ray cluster address (with --backend ray)")
    run.add_argument("--quiet", action="store_true", help="no progress output")

    validate = sub.add_parser("validate", help="check scenario YAMLs without running them")
    validate.add_argument("scenarios", nargs="+")

    compare = sub.add_parser("compare", help="run a scenario's variants (or load run folders) and compare them")
    compare.add_argument("targets", nargs="+", metavar="SCENARIO|RUN_DIR")
    compare.add_argument("--out", help="run folder for a scenario target")
    compare.add_argument("--quiet", action="store_true")
    compare.add_argument("--workers", type=int, default=1)

    plot = sub.add_parser("plot", help="(re)draw figures/*.png of a run folder")
    plot.add_argument("run_dir")
    report = sub.add_parser("report", help="(re)write report.html of a run folder")
    report.add_argument("run_dir")
    sub.add_parser("list", help="list registered component types")
    return parser


def _run_dir(path: str) -> Path:
    run_dir = Path(path)
    if not (run_dir / "metrics.csv").exists():
        raise ScenarioError("expected a run folder with metrics.csv, found none", file=str(run_dir))
    return run_dir


def _cmd_run(args: argparse.Namespace) -> int:
    from simlab import running as runner
    from simlab.config import parse_set

    if args.workers < 1:
        raise ScenarioError(f"expected --workers >= 1, found {args.workers}", file="--workers")
    if args.resume:
        from simlab.running.resume import resume

        result = resume(
            Path(args.resume), workers=args.workers, backend=args.backend, address=args.address, quiet=args.quiet
        )
        return 0 if result.status == "complete" else 1  # 1: some tasks failed (listed on stderr)
    if not args.scenario:
        raise ScenarioError("expected a scenario YAML (or --resume RUN_DIR)", file="simlab run")
    result = runner.run(
        args.scenario,
        out=args.out,
        replicates=args.replicates,
        seed=args.seed,
        steps=args.steps,
        device=args.device,
        overrides=parse_set(args.set),
        workers=args.workers,
        backend=args.backend,
        address=args.address,
        quiet=args.quiet,
    )
    return 0 if result.status == "complete" else 1  # 1: some tasks failed (listed on stderr)


def _cmd_validate(args: argparse.Namespace) -> int:
    from simlab.config import load_scenario

    for path in args.scenarios:
        scenario = load_scenario(path)
        n_tasks = len(scenario.tasks()) * scenario.replicates
        print(f"{path}: ok ({scenario.name}, {n_tasks} tasks x {scenario.steps} steps)")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from simlab import running as runner
    from simlab.running.summary import summarize

    frames = []
    for target in args.targets:
        path = Path(target)
        if path.is_dir():
            metrics = pd.read_csv(_run_dir(target) / "metrics.csv")
            if len(args.targets) > 1:
                metrics["variant"] = path.name + ":" + metrics["variant"].astype(str)
            frames.append(metrics)
        else:
            out = args.out if len(args.targets) == 1 else None
            result = runner.run(target, out=out, quiet=args.quiet, workers=args.workers)
            frames.append(result.metrics)
    summary = summarize(pd.concat(frames, ignore_index=True))
    table = summary.pivot(index="metric", columns="variant", values="final_mean")
    table = table[list(dict.fromkeys(summary["variant"]))]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(table)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from simlab import registry
    from simlab.config import ensure_components

    ensure_components()
    for kind, reg in registry.ALL.items():
        print(f"{kind}: {', '.join(reg.names()) or '(none)'}")
    print("policy (recommender.policy.type): top_k, epsilon_greedy, softmax")
    print("candidate sources (recommender.candidates): recent, popular, random, social, history")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "plot":
            from simlab.outputs.plotting import plot_run

            for path in plot_run(_run_dir(args.run_dir)):
                print(path)
            return 0
        if args.command == "report":
            from simlab.outputs.report import write_report

            print(write_report(_run_dir(args.run_dir)))
            return 0
        return _cmd_list(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
