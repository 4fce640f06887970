"""The ``pytams-config`` directive: the configuration reference, generated from the code.

Every key is a field of a dataclass of `pytams.core.config.SECTIONS`; its metadata holds the
documentation (``doc``), the fix suggested on a wrong value (``fix``) and whether it is a
native key (``public``). ``LEGACY_KEYS`` maps the original pyTAMS keys to native fields. The
page therefore cannot drift from the parser.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from pytams.core.config import FREE_SECTIONS, LEGACY_KEYS, SECTIONS, UNSUPPORTED_KEYS


def _kind(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "integer", float: "number", bool: "boolean", str: "string"}
    return " or ".join(names.get(k, getattr(k, "__name__", str(k))) for k in kinds)


def _default(field: Any) -> str:
    if field.default is MISSING:
        return "**required**"
    if field.default is None:
        return "absent"
    value = field.default
    if isinstance(value, bool):
        return f"``{str(value).lower()}``"
    if isinstance(value, str):
        return f'``"{value}"``'
    return f"``{value!r}``"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def reference_lines() -> list[str]:
    """The reference as reStructuredText lines."""
    lines: list[str] = []
    for section, cls in SECTIONS.items():
        title = f"[{section}]"
        lines += [title, "~" * len(title), "", _cell(cls.__doc__ or ""), ""]
        lines += [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 18 12 12 58",
            "",
            "   * - key",
            "     - type",
            "     - default",
            "     - meaning (and the fix suggested for a wrong value)",
        ]
        for field in fields(cls):
            if not field.metadata.get("public", True):
                continue
            meta = field.metadata
            lines += [
                f"   * - ``{field.name}``",
                f"     - {_kind(meta['kind'])}",
                f"     - {_default(field)}",
                f"     - {_cell(meta['doc'])} *Fix:* {_cell(meta['fix'])}",
            ]
        lines.append("")
    for section in FREE_SECTIONS:
        title = f"[{section}]"
        lines += [title, "~" * len(title), ""]
        if section == "model":
            lines += [
                "Free-form: every key is handed to the model's ``_setup``. The key "
                '``class = "package.module:Class"`` (or ``"file.py:Class"``, relative '
                "to the TOML file) names the model; a top-level "
                '``model = "package.module:Class"`` does the same.',
                "",
            ]
        else:
            lines += [
                "Free-form: passed to the dask runner of pytams-runners (``backend`` "
                "chooses the cluster: local, address or slurm; the other keys are "
                "keyword arguments of the cluster class, e.g. dask-jobqueue's "
                "``SLURMCluster``).",
                "",
            ]
    title = "Keys of the original pyTAMS"
    lines += [
        title,
        "~" * len(title),
        "",
        "Input files of the original pyTAMS run unchanged: these keys are accepted "
        "with their original meaning.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 30 30 40",
        "",
        "   * - pyTAMS key",
        "     - native key",
        "     - meaning",
    ]
    for (section, key), native in LEGACY_KEYS.items():
        field = {f.name: f for f in fields(SECTIONS[section])}[native]
        public = field.metadata.get("public", True)
        target = f"``[{section}] {native}``" if public else "(pyTAMS only)"
        meaning = _cell(field.metadata["doc"])
        if key == "nworker_iter":
            meaning += (
                " In pyTAMS it is also the number of kills per iteration, so it sets "
                "``[tams] kills_per_iteration`` when that key is absent."
            )
        lines += [f"   * - ``[{section}] {key}``", f"     - {target}", f"     - {meaning}"]
    for (section, key), (harmless, why) in UNSUPPORTED_KEYS.items():
        when = "any value" if harmless is None else f"a value other than ``{harmless!r}``"
        meaning = f"No effect here; {when} is warned about: {_cell(why)}."
        lines += [f"   * - ``[{section}] {key}``", "     - (none)", f"     - {meaning}"]
    private = [
        (section, f)
        for section, cls in SECTIONS.items()
        for f in fields(cls)
        if not f.metadata.get("public", True)
        and not any(native == f.name for native in LEGACY_KEYS.values())
    ]
    for section, field in private:
        lines += [
            f"   * - ``[{section}] {field.name}``",
            "     - (same key)",
            f"     - {_cell(field.metadata['doc'])}",
        ]
    lines.append("")
    return lines


class ConfigReference(SphinxDirective):
    """``.. pytams-config::`` (no arguments)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        """Parse the generated reference into the document."""
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(
            StringList(reference_lines(), source="pytams-config"),
            self.content_offset,
            container,
            match_titles=True,
        )
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directive."""
    app.add_directive("pytams-config", ConfigReference)
    return {"version": "1.0", "parallel_read_safe": True}
