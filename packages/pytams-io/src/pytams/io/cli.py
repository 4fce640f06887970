"""``pytams inspect PATH`` and ``pytams plot PATH`` (entry-point group ``pytams.commands``)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytams.core.errors import MissingComponentError
from pytams.core.stop import StopReason

if TYPE_CHECKING:
    from pytams.core.diagnostics import ScoreDiagnostics
    from pytams.core.result import TAMSResult
    from pytams.io.explore import ExploredDatabase, RunStatus


def register_inspect(commands: Any) -> None:
    """Add ``pytams inspect PATH``: status, iterations, level, weight, estimate of a database."""
    parser = commands.add_parser(
        "inspect", help="show the state of a database (finished or running)"
    )
    parser.add_argument(
        "path",
        type=Path,
        help="the database directory ([database] path; with [tams] repeats > 1, the folder "
        "of the repeat-NNNN databases: each, then their mean)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the run's summary as JSON (the keys of 'pytams run --json', and state)",
    )
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="with --json, add 'score_diagnostics': the variance ratio and level-crossing "
        "check of the score (docs/theory.md, 'Is the score good?'); the text output always "
        "shows them",
    )
    _add_allow_pickle(parser)
    parser.set_defaults(handler=_inspect)


def register_plot(commands: Any) -> None:
    """Add ``pytams plot PATH``: PNGs of the scores, level and weight, and return times."""
    parser = commands.add_parser(
        "plot", help="plot a database: scores of the ensemble, level and weight (PNG)"
    )
    parser.add_argument("path", type=Path, help="the database directory ([database] path)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="directory of the PNG files (default: the database directory)",
    )
    _add_allow_pickle(parser)
    parser.set_defaults(handler=_plot)


def _add_allow_pickle(parser: Any) -> None:
    """Add ``--allow-pickle``: read the Python pickles a trusted database holds."""
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read the Python pickles the database holds (exotic states): unpickling can run "
        "any code, so only for a database you trust",
    )


def _inspect(args: argparse.Namespace) -> int:
    from pytams.core.config import database_of
    from pytams.io.explore import open_database

    args.path = database_of(args.path)  # an input file: its [database] path
    if _repeat_directories(args.path):
        return _inspect_repeats(args)
    db = open_database(args.path, allow_pickle=args.allow_pickle)
    status = db.status()
    if args.json:
        summary = _summary(db, status)
        if args.diagnostics and status.complete:
            summary["score_diagnostics"] = _score_diagnostics(db, status).to_dict()
        print(json.dumps(summary, indent=2))
        return 0
    wall = "unknown" if status.wall_time is None else f"{status.wall_time:.1f} s"
    level = "-" if math.isnan(status.level) else f"{status.level:.6g}"
    lines = [
        f"database     {db.path}",
        f"status       {status.state}" + _pending_note(status),
        f"model        {status.model}",
        f"seed         {status.seed}",
        f"trajectories {status.ntrajectories} in the ensemble, {status.stored} stored",
        f"iterations   {status.iterations}",
        f"level        {level}",
        f"weight       {status.weight:.6g}",
        f"converged    {status.converged}/{status.ntrajectories}",
        *_estimate_lines(status),
        f"model steps  {status.model_steps}",
        f"wall time    {wall} (start to last write)",
    ]
    lines += _diagnostic_lines(db.metadata or {})
    if status.complete:
        lines += _score_diagnostics(db, status).lines()
    print("\n".join(lines))
    return 0


def _repeat_directories(path: Path) -> list[Path]:
    """The ``repeat-NNNN`` databases of a run with ``[tams] repeats`` > 1 (none: not one)."""
    from pytams.io.store import MAIN_FILE

    if not path.is_dir() or (path / MAIN_FILE).exists():
        return []
    return sorted(p for p in path.glob("repeat-[0-9][0-9][0-9][0-9]") if p.is_dir())


def _inspect_repeats(args: argparse.Namespace) -> int:
    """``pytams inspect`` of a multi-repeat database: one line per repeat, then their summary."""
    from pytams.io.explore import open_database

    dirs = _repeat_directories(args.path)
    dbs = [open_database(d, allow_pickle=args.allow_pickle) for d in dirs]
    statuses = [db.status() for db in dbs]
    pairs = zip(dbs, statuses, strict=True)
    each = [_summary(db, status) | {"path": str(db.path)} for db, status in pairs]
    planned = int((dbs[0].metadata or {}).get("config", {}).get("tams", {}).get("repeats", 0))
    planned = max(planned, len(dbs))
    state = _repeats_state(dirs, statuses, planned)
    combined = _of_repeats(each) if state == "finished" else None
    if args.json:
        head: dict[str, Any] = (
            combined.to_dict()
            if combined is not None
            else {"probability": None, "std_error": None, "ci_low": None, "ci_high": None}
        )
        out = head | {"complete": combined is not None, "state": state, "repeats": each}
        if combined is not None and args.diagnostics:
            out["score_diagnostics"] = _repeats_diagnostics(dbs, each).to_dict()
        print(json.dumps(out, indent=2))
        return 0
    lines = [
        f"database     {args.path} ({len(dbs)} of {planned} repeats stored)",
        f"status       {state}",
        f"  {'repeat':<12} {'estimate':>11} {'std error':>9}  state",
    ]
    for d, status in zip(dirs, statuses, strict=True):
        shown = status.complete and math.isfinite(status.estimate)
        estimate = f"{status.estimate:11.4e}" if shown else f"{'-':>11}"
        error = f"{status.std_error:9.2e}" if shown else f"{'-':>9}"
        lines.append(f"  {d.name:<12} {estimate} {error}  {status.state}")
    if combined is not None:
        lines += [f"over the {len(dbs)} repeats (mean and its standard error):"]
        lines += ["  " + line for line in combined.summary().splitlines()]
        lines += _repeats_diagnostics(dbs, each).lines()
    else:
        lines.append("no estimate over the repeats: the run is incomplete (resume it)")
    print("\n".join(lines))
    return 0


def _repeats_diagnostics(
    dbs: list[ExploredDatabase], each: list[dict[str, Any]]
) -> ScoreDiagnostics:
    """The diagnostics of finished repeats: their empirical variance ratio, pooled crossings."""
    from pytams.core.curve import RunHistory
    from pytams.core.diagnostics import diagnose_repeats

    return diagnose_repeats(
        [math.nan if s["probability"] is None else float(s["probability"]) for s in each],
        ntrajectories=int(each[0]["ntrajectories"]),
        stop_reasons=[str(s["stop_reason"]) for s in each],
        histories=[RunHistory(db) for db in dbs],
    )


def _repeats_state(dirs: list[Path], statuses: list[RunStatus], planned: int) -> str:
    """``"finished"`` when every planned repeat is complete, else what is missing."""
    for d, status in zip(dirs, statuses, strict=True):
        if not status.complete:
            return f"incomplete run ({d.name}: {status.state}): not an estimate"
    if len(dirs) < planned:
        return f"incomplete run ({len(dirs)} of {planned} repeats stored): not an estimate"
    return "finished"


def _of_repeats(summaries: list[dict[str, Any]]) -> TAMSResult:
    """The summary of the repeats, as ``pytams run`` makes it (`TAMSResult.of_repeats`)."""
    from pytams.core.result import TAMSResult

    def nan(value: Any) -> float:
        return math.nan if value is None else float(value)

    results = [
        TAMSResult(
            probability=nan(s["probability"]),
            std_error=nan(s["std_error"]),
            ci_low=nan(s["ci_low"]),
            ci_high=nan(s["ci_high"]),
            iterations=int(s["iterations"]),
            kills=int(s["kills"]),
            levels=tuple(s["levels"]),
            weights=tuple(s["weights"]),
            converged=int(s["converged"]),
            ntrajectories=int(s["ntrajectories"]),
            model_steps=int(s["model_steps"]),
            wall_time=nan(s["wall_time"]),
            stop_reason=str(s["stop_reason"]),
            seed=int(s["seed"] or 0),
        )
        for s in summaries
    ]
    wall_time = math.fsum(r.wall_time for r in results if math.isfinite(r.wall_time))
    return TAMSResult.of_repeats(results, wall_time)


def _pending_note(status: RunStatus) -> str:
    """What the status line adds when the last iteration's clones are not all stored."""
    if not status.pending:
        return ""
    if status.stop_reason is None:
        return " (an iteration is in progress)"
    return " (within an iteration: resume to finish it)"


def _estimate_lines(status: RunStatus) -> list[str]:
    """The stored estimate, its standard error and 95% interval (none for an incomplete run)."""
    if not status.complete or math.isnan(status.estimate):
        return []
    return [
        f"estimate     {status.estimate:.6g}",
        f"std error    {status.std_error:.3g}",
        f"95% CI       [{status.ci_low:.4g}, {status.ci_high:.4g}]",
    ]


def _summary(db: ExploredDatabase, status: RunStatus) -> dict[str, Any]:
    """The run's summary with the keys of ``pytams run --json``, and ``state``.

    Read from the outcome the run stored; an incomplete run has null estimate fields.
    """
    outcome = db.outcome or {}
    iterations = db.iterations
    summary: dict[str, Any] = {
        "probability": _finite(status.estimate),
        "std_error": _finite(status.std_error),
        "ci_low": _finite(status.ci_low),
        "ci_high": _finite(status.ci_high),
        "iterations": outcome.get("iterations", status.iterations),
        "kills": sum(len(record.killed) for record in iterations),
        "converged": outcome.get("converged", status.converged),
        "ntrajectories": status.ntrajectories,
        "model_steps": outcome.get("model_steps", status.model_steps),
        "wall_time": outcome.get("wall_time", status.wall_time),
        "stop_reason": status.stop_reason,
        "complete": status.complete,
        "seed": status.seed,
        "levels": _levels(db, status),
        "weights": [record.weight for record in iterations],
        "state": status.state,
    }
    if status.complete:
        from pytams.core.curve import RunHistory

        summary["exceedance_curve"] = RunHistory(db).exceedance_curve().to_dict()
    return summary


def _score_diagnostics(db: ExploredDatabase, status: RunStatus) -> ScoreDiagnostics:
    """The variance ratio and level-crossing check of a finished run (`pytams.core.diagnostics`)."""
    from pytams.core.curve import RunHistory
    from pytams.core.diagnostics import diagnose_history

    return diagnose_history(
        RunHistory(db) if status.complete else None,
        probability=status.estimate,
        std_error=status.std_error,
        ntrajectories=status.ntrajectories,
        stop_reason=str(status.stop_reason),
    )


def _levels(db: ExploredDatabase, status: RunStatus) -> list[float]:
    """The levels of the iterations, and the level of an extinction (as the run reports)."""
    levels = [record.level for record in db.iterations]
    if status.stop_reason == StopReason.EXTINCTION.value and db.ensemble:
        tams = (db.metadata or {}).get("config", {}).get("tams", {})
        k = int(tams.get("kills_per_iteration", 1))
        levels.append(sorted(t.max_score for t in db.ensemble)[k - 1])
    return levels


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _diagnostic_lines(metadata: dict[str, Any]) -> list[str]:
    """The weighted first crossings of ``[tams] diagnostic_levels``, when the run stored them."""
    rows = (metadata.get("diagnostics") or {}).get("levels") or []
    if not rows:
        return []

    def show(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [
        "level crossings (weighted; times of the first crossing):",
        f"  {'level':>10} {'crossings':>9} {'probability':>11} {'std error':>9} "
        f"{'mean time':>10} {'std time':>9} {'median':>9}",
    ]
    for row in rows:
        lines.append(
            f"  {show(row['level'], '10.4g')} {row['crossings']:>9d} "
            f"{show(row['probability'], '11.4e')} {show(row['std_error'], '9.2e')} "
            f"{show(row['mean_time'], '10.4g')} {show(row['std_time'], '9.3g')} "
            f"{show(row['median_time'], '9.4g')}"
        )
    return lines


def _incomplete_mark(status: RunStatus) -> str | None:
    """What the figures of a run that claims no estimate say (None for a complete run)."""
    return None if status.complete else f"incomplete run ({status.state}): not an estimate"


def _plot_return_times(db: Any, output: Path, plt: Any) -> Path | None:
    """return_time.png: r(a) = -T / ln(1 - p(a)) with its 95% band (tams runs)."""
    fig = _return_time_figure(db, plt)
    if fig is None:
        return None
    path = output / "return_time.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _return_time_figure(db: ExploredDatabase, plt: Any) -> Any | None:
    """The return-time figure (None without a curve); marked when the run is incomplete."""
    from pytams.core.curve import RunHistory
    from pytams.core.errors import StorageError

    try:
        history = RunHistory(db)
    except StorageError:
        return None  # no ensemble yet, or within an iteration: no curve
    if history.variant != "tams":
        return None  # no fixed duration T, no return times
    curve = history.exceedance_curve()
    keep = (curve.probability > 0.0) & (curve.probability < 1.0)
    if not keep.any():
        return None
    levels = curve.levels[keep]
    times = curve.return_times(history.horizon)[keep]
    low, high = curve.return_time_band(history.horizon)[:, keep]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.fill_between(levels, low, high, color="tab:blue", alpha=0.25, step="post", label="95%")
    ax.step(levels, times, where="post", color="tab:blue", label="return time")
    ax.set_yscale("log")
    ax.set_xlabel("level a (score)")
    ax.set_ylabel(f"return time -T / ln(1 - p(a)), T = {history.horizon:g}")
    title = "return time of the level from one run (Lestang et al. weights)"
    mark = _incomplete_mark(db.status())
    ax.set_title(title if mark is None else f"{mark}\n{title}")
    ax.legend()
    return fig


def _plot(args: argparse.Namespace) -> int:
    try:
        import matplotlib
    except ImportError as exc:
        msg = "'pytams plot' needs matplotlib: pip install 'pytams-io[plot]'"
        raise MissingComponentError(msg) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pytams.io.explore import open_database

    db = open_database(args.path, allow_pickle=args.allow_pickle)
    output: Path = args.output if args.output is not None else db.path
    output.mkdir(parents=True, exist_ok=True)
    ds = db.to_xarray(states=False)
    written = []

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i in range(ds.sizes["trajectory"]):
        ax.plot(
            ds["model_time"][i],
            ds["score"][i],
            lw=0.8,
            color="tab:red" if bool(ds["converged"][i]) else "tab:blue",
            alpha=0.7,
        )
    ax.set_xlabel("time")
    ax.set_ylabel("score")
    ax.set_title(f"ensemble ({int(ds['converged'].sum())}/{ds.sizes['trajectory']} converged)")
    path = output / "score.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    written.append(path)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(ds["iteration"], ds["level"], marker=".", lw=1)
    top.set_ylabel("level z_j")
    bottom.semilogy(ds["iteration"], ds["weight"], marker=".", lw=1)
    bottom.set_ylabel("weight W_j")
    bottom.set_xlabel("iteration")
    path = output / "iterations.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    written.append(path)
    returns = _plot_return_times(db, output, plt)
    if returns is not None:
        written.append(returns)
    print("wrote " + ", ".join(str(p) for p in written))
    mark = _incomplete_mark(db.status())
    if mark is not None:
        print(mark)
    return 0
