"""The one place Draft talks to Helm's engine for charts (helm-python-sdk, `helm_python`).

helm-python-sdk binds Helm's own Go SDK; it is young, so everything Draft uses
goes through these few functions, errors come out as `HelmError` with Helm's
own message, and tests/test_chart.py pins the behaviour we rely on. Release
operations against a cluster live in `draftd.targets.helm_release`.

helm-python-sdk runs Helm's Go runtime (≈ 80 MB resident) in whichever process imports
it, for as long as that process lives. So these functions run it in a helper process
(`python -m draft.helm`, `draft.helper_process`), started on the first call and leaving
after 10 s without one: the language server, draftd and the CLI never hold Helm themselves,
and hold nothing of it while nobody edits a chart.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from draft import helper_process
from draft.diagnostics import Severity
from draft.errors import DraftError

_SEVERITIES = {1: Severity.INFORMATION, 2: Severity.WARNING, 3: Severity.ERROR, 4: Severity.ERROR}


class HelmError(DraftError):
    """Helm refused a chart, its values or a `--set` expression."""


@dataclass(frozen=True)
class LintFinding:
    severity: Severity
    path: str
    """Relative to the chart, as Helm names it: `values.yaml`, `templates/`, `Chart.yaml`."""
    message: str


def render(
    chart_dir: Path, values: dict[str, Any], *, release: str, namespace: str
) -> dict[str, str]:
    """The chart's manifests (template path inside the chart → text), as `helm template`."""
    arguments = {"chart_dir": str(chart_dir), "release": release, "namespace": namespace}
    rendered: dict[str, str] = HELM.call("render", {**arguments, "values": values})
    return rendered


def lint(chart_dir: Path, values: dict[str, Any] | None = None) -> list[LintFinding]:
    """Helm's lint findings in strict mode (`helm lint --strict`)."""
    found = HELM.call("lint", {"chart_dir": str(chart_dir), "values": values or {}})
    return [LintFinding(Severity(severity), path, message) for severity, path, message in found]


def parse_set(entry: str) -> dict[str, Any]:
    """One `helm --set` expression (`a.b=1,c[0]=x`) as nested values, typed as Helm types them."""
    parsed: dict[str, Any] = HELM.call("parse_set", {"entry": entry})
    return parsed


def chart_name(chart_dir: Path) -> str:
    """The `name` of Chart.yaml, read without Helm (it prefixes rendered template paths)."""
    try:
        text = (chart_dir / "Chart.yaml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return chart_dir.name
    match = re.search(r"^name:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    return match.group(1) if match else chart_dir.name


def _message(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# -- in the helper process ----------------------------------------------------------------


def _engine() -> Any:
    """helm-python-sdk, imported on first use (it starts Helm's Go runtime)."""
    import helm_python

    return helm_python


def _render_here(
    chart_dir: Path, values: dict[str, Any], *, release: str, namespace: str
) -> dict[str, str]:
    helm_python = _engine()
    try:
        chart = helm_python.Chart.load(str(chart_dir))
        try:
            rendered: dict[str, str] = chart.render(
                values, name=release, namespace=namespace, is_install=True
            )
        finally:
            chart.close()
    except helm_python.HelmError as error:
        raise HelmError(_message(error), "Fix the chart or its values.") from error
    prefix = f"{chart_name(chart_dir)}/"
    return {path.removeprefix(prefix): text for path, text in rendered.items()}


def _lint_here(chart_dir: Path, values: dict[str, Any] | None = None) -> list[LintFinding]:
    helm_python = _engine()
    try:
        result = helm_python.lint(str(chart_dir), values or {}, strict=True)
    except helm_python.HelmError as error:
        raise HelmError(_message(error), "Fix the chart.") from error
    return [
        LintFinding(
            _SEVERITIES.get(int(m.get("severity", 3)), Severity.ERROR),
            str(m.get("path", "")),
            str(m.get("error", "")).strip(),
        )
        for m in result.get("messages", [])
    ]


def _parse_set_here(entry: str) -> dict[str, Any]:
    hint = 'Write it as "key=value", e.g. "image.pullPolicy=Always".'
    helm_python = _engine()
    try:
        parsed: dict[str, Any] = helm_python.parse_set_string(entry)
    except helm_python.HelmError as error:
        raise HelmError(
            f"`{entry}` is not a valid --set expression: {_message(error)}", hint
        ) from error
    if not parsed:  # Helm drops an expression it cannot read, e.g. "a[=1", without a word
        raise HelmError(f"`{entry}` is not a valid --set expression: it sets nothing", hint)
    return parsed


def _perform(operation: str, arguments: dict[str, Any]) -> Any:
    if operation == "render":
        chart_dir = Path(arguments.pop("chart_dir"))
        return _render_here(chart_dir, arguments.pop("values"), **arguments)
    if operation == "lint":
        found = _lint_here(Path(arguments["chart_dir"]), arguments["values"])
        return [(f.severity.value, f.path, f.message) for f in found]
    if operation == "parse_set":
        return _parse_set_here(arguments["entry"])
    raise ValueError(f"unknown operation {operation!r}")


HELM = helper_process.HelperProcess("draft.helm", HelmError, "Helm's helper process")
"""Helm's engine, in the helper process (see the module's docstring)."""

if __name__ == "__main__":
    sys.exit(helper_process.main(_perform))
