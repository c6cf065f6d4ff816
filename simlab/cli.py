"""Command line: ``simlab run|validate|compare|plot|report|list|learnability|antidote`` (docs/design.md §3).

Exit 0 on success, 2 on invalid input with one message naming the file, line and key path, 1 when
the work failed (some tasks failed, or an output could not be written: a full disk, one line).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from simlab.core.errors import OutputError, ScenarioError

WORKERS_HELP = (
    "parallel tasks in a local process pool (default: $SIMLAB_WORKERS if set, else the usable CPU cores; "
    "capped by the memory estimate and the number of tasks)"
)


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
    run.add_argument("--workers", type=int, help=WORKERS_HELP)
    run.add_argument("--backend", choices=["local", "ray"], default="local")
    run.add_argument("--address", help="Ray cluster address (with --backend ray)")
    run.add_argument(
        "--quiet", action="store_true", help="no progress bars and no summary; only the run-folder line is printed"
    )
    run.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="memory the run may use, e.g. 2G or 512M (default: the machine's available memory); "
        "a run whose estimated peak exceeds it is refused and --workers is capped to fit",
    )

    validate = sub.add_parser("validate", help="check scenario YAMLs without running them")
    validate.add_argument("scenarios", nargs="+")

    compare = sub.add_parser(
        "compare", help="paired differences of a scenario's variants (or run folders') to a baseline, with 95%% CIs"
    )
    compare.add_argument("targets", nargs="+", metavar="SCENARIO|RUN_DIR")
    compare.add_argument(
        "--out", help="folder for compare.csv/.md and figures (for a scenario: its run folder; default: the run folder)"
    )
    compare.add_argument("--baseline", help="the variant compared against (default: the first)")
    compare.add_argument(
        "--metrics",
        help="comma-separated metric names (default: polarization, extremity, exposure, diversity, ctr, engagement)",
    )
    compare.add_argument("--steps", type=int, help="compare at step N-1 (a scenario is run for N steps)")
    compare.add_argument("--replicates", type=int, help="replicates to run (scenario) or to use (run folder)")
    compare.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted key (scenario)"
    )
    compare.add_argument("--no-figures", action="store_true", help="write the tables only")
    compare.add_argument("--quiet", action="store_true", help="no progress bars; the table is still printed")
    compare.add_argument("--workers", type=int, help=WORKERS_HELP)

    sensitivity = sub.add_parser(
        "sensitivity",
        help="a scenario's headline paired comparison across a grid of assumption settings, with one robustness figure",
        description="Runs VARIANT and BASELINE of the scenario in every cell of the grid (the grid becomes the "
        "scenario's sweep; the other variants are dropped; paired seeds throughout) and writes sensitivity.csv, "
        "sensitivity.md and figures/sensitivity.png into the run folder: in each cell, the paired difference "
        "VARIANT - BASELINE at the final step with its 95% t-interval, marked holds (interval above 0), "
        "vanishes (contains 0) or reverses (below 0). Assumption keys: docs/assumptions.md. Example: "
        "simlab sensitivity scenarios/dlrm_engagement.yaml --grid behavior.appetite_shape=linear,constant "
        "--grid behavior.b_ext=0,1,2.5 --grid behavior.b_align=1,2.5 --contrast dlrm-random",
    )
    sensitivity.add_argument("scenario", help="scenario YAML")
    sensitivity.add_argument(
        "--grid",
        action="append",
        default=[],
        required=True,
        metavar="KEY=V1,V2,...",
        help="a dotted scenario key and its values (repeat for more keys; the first varies slowest)",
    )
    sensitivity.add_argument(
        "--contrast", required=True, metavar="VARIANT-BASELINE", help="the two variants compared, e.g. dlrm-random"
    )
    sensitivity.add_argument("--metrics", help="comma-separated metric names (default: exposure_extremeness,extremity)")
    sensitivity.add_argument("--out", help="the run folder (default runs/<name>/<stamp>/)")
    sensitivity.add_argument("--steps", type=int, help="steps per run")
    sensitivity.add_argument("--replicates", type=int, help="paired replicates per cell")
    sensitivity.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted key in every cell"
    )
    sensitivity.add_argument("--no-figures", action="store_true", help="write the tables only")
    sensitivity.add_argument("--quiet", action="store_true", help="no progress bars; the table is still printed")
    sensitivity.add_argument("--workers", type=int, help=WORKERS_HELP)

    plot = sub.add_parser("plot", help="(re)draw figures/*.png of a run folder")
    plot.add_argument("run_dir")
    report = sub.add_parser("report", help="(re)write report.html of a run folder")
    report.add_argument("run_dir")
    listing = sub.add_parser("list", help="list registered component types (--settings: their settings)")
    listing.add_argument(
        "--settings",
        nargs="?",
        const="",
        metavar="NAME",
        help="print the settings reference: all, a kind (network) or one type (network.barabasi_albert)",
    )
    listing.add_argument("--markdown", action="store_true", help="with --settings: the whole reference as Markdown")

    learn = sub.add_parser(
        "learnability",
        help="can the recommender learn the scenario's world? learned share online and offline on a random feed",
    )
    learn.add_argument("scenario", help="scenario YAML (its recommender is measured, its variants are ignored)")
    learn.add_argument("--recommender", nargs="+", metavar="TYPE", help="measure these types instead (e.g. dlrm als)")
    learn.add_argument("--steps", type=int, default=40, help="steps of the random-feed run (default 40)")
    learn.add_argument("--replicates", type=int, default=1, help="replicates per recommender (default 1)")
    learn.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted key of the scenario"
    )
    learn.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="memory the measurement may use, e.g. 2G (default: the machine's available memory); "
        "a scenario whose estimated peak exceeds it is refused",
    )

    antidote = sub.add_parser(
        "antidote",
        help="optimise antidote data for a ratings file (MovieLens or CSV)",
        description="Optimise antidote data (Rastegarpanah, Gummadi & Crovella 2019) for a ratings file: synthetic "
        "users whose ratings make the refitted ALS model's predictions less polarised (or unfair). The defaults "
        "finish in about a minute on a MovieLens-100k-sized file; the result is never worse than no antidote.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    antidote.add_argument(
        "ratings_file", help="ml-100k u.data, ml-1m ratings.dat, ml-latest ratings.csv or user,item,rating CSV"
    )
    antidote.add_argument(
        "--budget", type=float, default=0.01, help="antidote users: a fraction of the users in (0, 1), or a count >= 1"
    )
    antidote.add_argument(
        "--objective",
        choices=["polarization", "individual_unfairness", "group_unfairness"],
        default="polarization",
        help="what the antidote lowers",
    )
    antidote.add_argument(
        "--method", choices=["gradient", "heuristic", "random"], default="gradient", help="how it is optimised"
    )
    antidote.add_argument(
        "--gradient", choices=["approx", "exact"], default="approx", help="the paper's approximation or the exact one"
    )
    antidote.add_argument("--rank", type=int, default=4, help="rank of the ALS model")
    antidote.add_argument("--reg", type=float, default=0.1, help="ALS ridge penalty lambda")
    antidote.add_argument("--seed", type=int, default=0, help="seed of the ALS start and the search")
    antidote.add_argument("--restarts", type=int, default=1, help="random restarts of the gradient search")
    antidote.add_argument("--max-iter", type=int, default=10, help="gradient iterations per restart at most")
    antidote.add_argument("--top-users", type=int, help="keep the users with most ratings")
    antidote.add_argument("--top-items", type=int, help="keep the most rated items")
    antidote.add_argument(
        "--curve", action="store_true", help="also the budget curve (0.5%% to 5%% of users, distinct user counts)"
    )
    antidote.add_argument("--no-curve", action="store_true", help="no budget curve (the default; kept for old scripts)")
    antidote.add_argument("--quiet", action="store_true", help="no progress lines")
    antidote.add_argument("--out", required=True, help="output folder")
    return parser


def _run_dir(path: str) -> Path:
    run_dir = Path(path)
    if not (run_dir / "metrics.csv").exists():
        raise ScenarioError("expected a run folder with metrics.csv, found none", file=str(run_dir))
    return run_dir


def _run_changes(args: argparse.Namespace) -> dict[str, object]:
    """The options of ``simlab run`` that change what is run (not allowed with --resume)."""
    return {
        "a scenario argument": args.scenario,
        "--out": args.out,
        "--set": args.set,
        **{f"--{name}": getattr(args, name) is not None for name in ("replicates", "seed", "steps", "device")},
    }


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise ScenarioError(f"expected --workers >= 1, found {workers}", file="--workers")


def _cmd_run(args: argparse.Namespace) -> int:
    from simlab import running as runner
    from simlab.config import parse_set

    _check_workers(args.workers)
    if args.resume:
        from simlab.running.resume import resume

        # a resumed run is the recorded one: anything that would change it is refused, not ignored
        given = [name for name, value in _run_changes(args).items() if value]
        if given:
            raise ScenarioError(
                f"--resume finishes the run as recorded in its folder; it cannot take {', '.join(given)} "
                "(start a new run to change the scenario)",
                file="--resume",
            )
        result = resume(
            Path(args.resume),
            workers=args.workers,
            backend=args.backend,
            address=args.address,
            quiet=args.quiet,
            max_memory=args.max_memory,
        )
        return 0 if result.status == "complete" else 1  # 1: some tasks failed (listed on stderr)
    if not args.scenario:
        raise ScenarioError("expected a scenario YAML (or --resume RUN_DIR)", file="simlab run")
    flags = {"replicates": args.replicates, "seed": args.seed, "steps": args.steps, "device": args.device}
    try:
        result = runner.run(
            args.scenario,
            out=args.out,
            **flags,
            overrides=parse_set(args.set),
            workers=args.workers,
            backend=args.backend,
            address=args.address,
            quiet=args.quiet,
            max_memory=args.max_memory,
        )
    except ScenarioError as exc:
        if exc.file == "--set" and flags.get(exc.key or "") is not None:  # a bad --steps 0: name the flag
            raise ScenarioError(exc.detail, file=f"--{exc.key}") from None
        raise
    return 0 if result.status == "complete" else 1  # 1: some tasks failed (listed on stderr)


def _cmd_validate(args: argparse.Namespace) -> int:
    from simlab.config import load_scenario
    from simlab.testing import check_plugins

    for path in args.scenarios:
        scenario = load_scenario(path)
        check_plugins(scenario)  # each plugin type through simlab.testing's contract checks
        n_tasks = len(scenario.tasks()) * scenario.replicates
        print(f"{path}: ok ({scenario.name}, {n_tasks} tasks x {scenario.steps} steps)")
    return 0


def _checked_run_options(args: argparse.Namespace) -> list[str] | None:
    """Check ``--workers`` and ``--replicates`` (exit 2 on a bad value); the ``--metrics`` names, or None."""
    _check_workers(args.workers)
    if args.replicates is not None and args.replicates < 1:
        raise ScenarioError(f"expected --replicates >= 1, found {args.replicates}", file="--replicates")
    return [n.strip() for n in args.metrics.split(",") if n.strip()] if args.metrics else None


def _cmd_compare(args: argparse.Namespace) -> int:
    from simlab.config import parse_set
    from simlab.outputs import compare

    names = _checked_run_options(args)
    metrics, folders = compare.load_targets(
        args.targets,
        out=args.out,
        steps=args.steps,
        replicates=args.replicates,
        overrides=parse_set(args.set),
        workers=args.workers,
        quiet=args.quiet,
    )
    for line in compare.consistency_warnings(metrics):
        print(f"warning: {line}", file=sys.stderr)
    table = compare.paired_differences(metrics, args.baseline, names)
    print(compare.to_text(table), end="")
    out = Path(args.out) if args.out else folders[0]
    written = compare.write_comparison(table, out)
    if not args.no_figures:
        from simlab.outputs.compare_figures import plot_comparison

        written += plot_comparison(table, metrics, out)
    if not args.quiet:
        for path in written:
            print(path)
    return 0


def _cmd_redraw(args: argparse.Namespace) -> int:
    """``simlab plot`` / ``simlab report``: the run folder locked (one writer at a time) and free
    of links before anything is written.
    """
    from simlab.running.files import locked, refuse_links

    run_dir = _run_dir(args.run_dir)
    with locked(run_dir):
        refuse_links(run_dir)
        _check_records(run_dir)
        if args.command == "plot":
            from simlab.outputs.plotting import plot_run

            for path in plot_run(run_dir):
                print(path)
        else:
            from simlab.outputs.report import write_report

            print(write_report(run_dir))
    return 0


def _check_records(run_dir: Path) -> None:
    """The run folder's manifest.json and scenario.yaml, which the figures and the report read,
    are a JSON object and a YAML mapping whose keys read there have the right kind (a damaged one
    is one line naming the file and the key, not a traceback). Each is read without following a
    link and within the scenario loader's limits (the YAML through its parser).
    """
    import json

    from simlab.config.loading import parse_yaml
    from simlab.core.limits import limit
    from simlab.running.files import open_inside

    shapes: dict[str, tuple[str, dict[str, tuple[type, str]]]] = {
        "manifest.json": (
            "a JSON object",
            {"tasks": (list, "a list"), "timings": (dict, "an object"), "resumed": (list, "a list")},
        ),
        "scenario.yaml": (
            "a YAML mapping",
            {"sweep": (dict, "a mapping"), "variants": (dict, "a mapping"), "sweep_baseline": (dict, "a mapping")},
        ),
    }
    kinds = {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a mapping",
    }
    for name, (kind, keys) in shapes.items():
        path = run_dir / name
        try:
            with open_inside(run_dir, name) as handle:
                data = handle.read(limit("document_bytes") + 1)
        except FileNotFoundError:
            continue
        document: object = None
        if len(data) <= limit("document_bytes"):
            try:
                text = data.decode("utf-8")
                document = json.loads(text) if name.endswith(".json") else parse_yaml(text, str(path))[0]
            except ValueError:  # undecodable, or not JSON
                pass
        if not isinstance(document, dict):
            raise ScenarioError(f"expected {kind}, found a damaged file", file=str(path))
        for key, (expected, word) in keys.items():
            value = document.get(key)
            if value is not None and not isinstance(value, expected):
                raise ScenarioError(
                    f"expected {word}, found {kinds.get(type(value), 'another value')} (a damaged file)",
                    file=str(path),
                    key=key,
                )
        if name == "scenario.yaml":
            for axis, values in (document.get("sweep") or {}).items():
                if not isinstance(values, list):
                    raise ScenarioError(
                        f"expected a list, found {kinds.get(type(values), 'another value')} (a damaged file)",
                        file=str(path),
                        key=f"sweep.{axis}",
                    )


def _cmd_antidote(args: argparse.Namespace) -> int:
    import pandas as pd

    from simlab.antidote.command import run_antidote

    if args.objective == "group_unfairness":
        raise ScenarioError("group_unfairness needs user groups, which ratings files do not carry", file="--objective")
    budget: float | int = int(args.budget) if args.budget >= 1 and float(args.budget).is_integer() else args.budget
    if not (isinstance(budget, int) or 0 < budget < 1):
        raise ScenarioError(f"expected --budget in (0, 1) or a count >= 1, found {args.budget}", file="--budget")
    for flag in ("rank", "restarts", "max_iter"):
        if getattr(args, flag) < 1:
            raise ScenarioError(
                f"expected an integer >= 1, found {getattr(args, flag)}", file=f"--{flag.replace('_', '-')}"
            )
    if args.curve and args.no_curve:
        raise ScenarioError("expected --curve or --no-curve, found both", file="--curve")
    started = time.perf_counter()

    def report(line: str) -> None:  # progress on stderr, with the time since the start
        if not args.quiet:
            print(f"{line} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    outcome = run_antidote(
        args.ratings_file, args.out, budget=budget, objective=args.objective, method=args.method,
        gradient=args.gradient, rank=args.rank, reg=args.reg, seed=args.seed, top_users=args.top_users,
        top_items=args.top_items, curve=args.curve, restarts=args.restarts, max_iter=args.max_iter,
        report=None if args.quiet else report,
    )  # fmt: skip
    table = outcome.table.rename(columns={"change_pct": "change (%)"})
    with pd.option_context("display.float_format", "{:.4g}".format, "display.max_colwidth", 60):
        print(table.to_string(index=False))
    if not outcome.helped:
        print(
            f"warning: no antidote lowered {args.objective} (judged by a converged refit); none was written, so "
            "'after' is the data without antidote. Try more --restarts or --max-iter, another --budget or --method.",
            file=sys.stderr,
        )
    print(f"wrote {args.out} ({time.perf_counter() - started:.0f} s)")
    return 0


def _cmd_learnability(args: argparse.Namespace) -> int:
    from simlab.config import load_scenario, parse_set
    from simlab.learnability import measure, to_markdown

    for flag in ("steps", "replicates"):
        if getattr(args, flag) < (4 if flag == "steps" else 1):
            raise ScenarioError(
                f"expected --{flag} >= {4 if flag == 'steps' else 1}, found {getattr(args, flag)}", file=f"--{flag}"
            )
    from simlab.running.resources import parse_size

    limit = parse_size(args.max_memory) if args.max_memory else None
    overrides = parse_set(args.set)
    scenario = load_scenario(args.scenario, overrides)
    types = args.recommender or [scenario.recommender.type]
    scenarios = {t: load_scenario(args.scenario, {**overrides, "recommender.type": t}) for t in types}
    reports = []
    for name, each in scenarios.items():
        for replicate in range(args.replicates):
            print(f"simlab: learnability of {name}, replicate {replicate} ({args.steps} steps) ...", file=sys.stderr)
            reports.append(measure(each, steps=args.steps, replicate=replicate, max_memory=limit))
    print(to_markdown(reports))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from simlab import registry, settings_reference

    if args.settings is not None:
        if args.markdown:
            if args.settings:
                raise ScenarioError("--markdown prints the whole reference; give no NAME", file="--settings")
            print(settings_reference.render_markdown(), end="")
            return 0
        try:
            print(settings_reference.render_text(args.settings or None))
        except KeyError as exc:
            raise ScenarioError(exc.args[0], file="--settings") from None
        return 0
    if args.markdown:
        raise ScenarioError("--markdown needs --settings", file="--markdown")
    for kind, reg in registry.ALL.items():
        print(f"{kind}: {', '.join(reg.names()) or '(none)'}")
    print("candidate sources (recommender.candidates): recent, popular, random, social, history")
    print("settings of each type: simlab list --settings [KIND | KIND.TYPE]")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from simlab import sensitivity
    from simlab.config import parse_set

    names = _checked_run_options(args)
    table, folder = sensitivity.run_sensitivity(
        args.scenario,
        sensitivity.parse_grid(args.grid),
        args.contrast,
        names=names,
        out=args.out,
        steps=args.steps,
        replicates=args.replicates,
        overrides=parse_set(args.set),
        workers=args.workers,
        quiet=args.quiet,
    )
    print(sensitivity.markdown(table), end="")
    written = [folder / sensitivity.TABLE, folder / "sensitivity.md"]
    if not args.no_figures:
        from simlab.outputs.sensitivity_figure import plot_sensitivity

        written += plot_sensitivity(folder)
    if not args.quiet:
        for path in written:
            print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``simlab`` command; returns the exit code."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except BrokenPipeError:
        # the reader went away (`simlab compare ... | head`): stop quietly, as Unix tools do.
        # stdout goes to devnull so that Python's final flush does not fail again (the recipe of
        # the Python docs, "Note on SIGPIPE"); exit 1, as Python does on EPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "sensitivity":
            return _cmd_sensitivity(args)
        if args.command == "antidote":
            return _cmd_antidote(args)
        if args.command == "learnability":
            return _cmd_learnability(args)
        if args.command in ("plot", "report"):
            return _cmd_redraw(args)
        return _cmd_list(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OutputError as exc:  # a full disk, a read-only folder: the run or command failed, inputs were fine
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise  # handled by main: a reader that went away is not an error
    except OSError as exc:  # any other OS error: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(_interrupted(exc), file=sys.stderr)
        return 130


def _interrupted(exc: KeyboardInterrupt) -> str:
    """What Ctrl-C leaves and how to go on: the run folder and the resume command."""
    from simlab.core.errors import RunInterrupted

    if not isinstance(exc, RunInterrupted):
        return "interrupted"
    text = f"interrupted; finish the run with: simlab run --resume {exc.run_dir}"
    if not exc.checkpoints:
        text += (
            " (completed tasks are kept; unfinished ones restart from step 0, as this run writes no checkpoints: "
            "set output.checkpoint_every to keep their progress)"
        )
    return text


if __name__ == "__main__":
    sys.exit(main())
