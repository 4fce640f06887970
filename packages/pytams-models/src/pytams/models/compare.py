"""``pytams compare``: run TAMS and print the estimate beside the model's known answer.

The command is registered by `pytams.models._commands` (light to import); this module is
imported only when it runs.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

from pytams.core import TAMS, TAMSResult
from pytams.core.config import Config, load_config
from pytams.core.loading import load_model_class
from pytams.models._commands import register as register  # its former home: still works
from pytams.models._known import KnownAnswer


def known_answer(config: Config, model: str | None = None) -> KnownAnswer | None:
    """The known answer of the configured model, or None when it has none."""
    reference = model or config.model_ref
    if reference is None:
        return None
    cls = load_model_class(reference)
    method = getattr(cls, "known_answer", None)
    if method is None:
        return None
    answer: KnownAnswer | None = method(dict(config.model), config.trajectory)
    return answer


def report(result: TAMSResult, answer: KnownAnswer | None) -> str:
    """The lines that put an estimate beside a known answer."""
    lines = [f"estimate      {result.probability:.6g}  (std error {result.std_error:.3g})"]
    if answer is None:
        lines.append("known answer  none for this model")
        return "\n".join(lines)
    lines.append(f"known answer  {answer.probability:.6g}  ({answer.source})")
    if answer.continuous is not None:
        lines.append(
            f"continuous    {answer.continuous:.6g}  (the continuous process; not "
            "what TAMS over the Euler chain estimates)"
        )
    if result.std_error > 0 and math.isfinite(result.probability):
        z = (result.probability - answer.probability) / result.std_error
        lines.append(
            f"ratio         {result.probability / answer.probability:.4g}  "
            f"(z = {z:+.2f} standard errors)"
        )
    return "\n".join(lines)


def run_compare(args: argparse.Namespace) -> int:
    """Run ``pytams compare`` with its parsed arguments; the exit status."""
    config = load_config(args.config, overrides=list(args.overrides), seed=args.seed)
    logging.basicConfig(level=config.tams.loglevel, stream=sys.stderr)
    result = TAMS(args.model, config).run()
    print(result.summary())
    print(report(result, known_answer(config, args.model)))
    return 0 if result.complete else 3
