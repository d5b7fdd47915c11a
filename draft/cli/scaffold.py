"""`draft create`, `draft check` and `draft packs`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from draft import (
    config,
    configschema,
    detect,
    names,
    packs,
    release,
    scaffold,
    tasks,
)
from draft.cli.output import Output
from draft.diagnostics import Diagnostic, Severity, sort_key
from draft.errors import ConfigError, DraftError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    create = commands.add_parser(
        "create",
        parents=[common],
        help="write a Dockerfile, a Helm chart and draft.toml",
        description="Detect the app's language and add a Dockerfile, .dockerignore, a Helm "
        "chart and draft.toml from a pack. Existing files are never overwritten.",
    )
    create.add_argument(
        "path", nargs="?", default=".", type=Path, help="the app folder (default: .)"
    )
    create.add_argument("--pack", help="use this pack instead of detecting one (see `draft packs`)")
    create.add_argument(
        "--name", help="app and release name (default: generated, e.g. tufted-lamb)"
    )
    create.set_defaults(run=run_create)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="check draft.toml and the chart's values",
        description="Report every problem in draft.toml and the chart (values.yaml, its schema, "
        "Helm lint and render, Kubernetes schemas) as path:line:col: severity: message [code].",
    )
    check.add_argument(
        "path", nargs="?", default=".", type=Path, help="the app folder (default: .)"
    )
    check.add_argument("--env", help="environment of draft.toml (default: development)")
    check.set_defaults(run=run_check)

    listing = commands.add_parser(
        "packs",
        parents=[common],
        help="list the packs",
        description=f"List built-in packs and those in {packs.PACKS_PATH_ENV} (searched first).",
    )
    listing.set_defaults(run=run_packs)


def _app_dir(path: Path) -> Path:
    if not path.is_dir():
        raise DraftError(f"{path} is not a folder.", "Pass the folder of the app.")
    return path.resolve()


def _existing_name(root: Path) -> str | None:
    """Keep the name of an app that already has a draft.toml, so the chart matches it."""
    try:
        environments = config.read(root).environments
    except ConfigError:
        return None
    return next((env.name for env in environments.values()), None)


def run_create(args: argparse.Namespace, out: Output) -> int:
    root = _app_dir(args.path)
    detection: detect.Detection | None = None
    if args.pack:
        pack = packs.find_pack(args.pack)
    else:
        detection = detect.best(root)
        pack = detection.pack
        out.line(f"Detected {pack.name}: {'; '.join(detection.evidence)}")
    name = args.name or _existing_name(root) or names.generate()
    problem = configschema.dns_label_problem(name, "name", configschema.MAX_RELEASE_NAME)
    if problem:
        suggestion = configschema.sanitize_name(name)
        raise DraftError(f"The app name is invalid: {problem}.", f"Try --name {suggestion}.")
    result = scaffold.create(root, pack, name)
    out.line(f"Created {name} from the {pack.name} pack in {root}")
    for path in result.written:
        out.line(f"  wrote    {path}")
    for path in result.skipped:
        out.line(f"  skipped  {path} (it exists)")
    out.line("Next: `draft check` to validate it, `draft up` to deploy it.")
    out.result(
        {
            "app": name,
            "pack": pack.name,
            "root": str(root),
            "detection": None
            if detection is None
            else {
                "pack": detection.pack.name,
                "score": detection.score,
                "evidence": list(detection.evidence),
            },
            "written": [str(p) for p in result.written],
            "skipped": [str(p) for p in result.skipped],
        }
    )
    return 0


def diagnostics_for(root: Path, environment: str | None) -> list[Diagnostic]:
    """Everything `draft check` reports: draft.toml's problems, then the chart's, then where
    the Dockerfile will be refused by the cluster the chart deploys to."""
    # Only `draft check` needs the schema validators: `draft up --watch` runs without them.
    from draft import chart, dockerfile

    parsed = config.read(root)
    found = list(parsed.diagnostics)
    tasks_file = root / tasks.TASKS_FILE
    if tasks_file.is_file():
        text = tasks_file.read_text(encoding="utf-8", errors="replace")
        found += tasks.parse(text, tasks_file).diagnostics
    if any(d.severity is Severity.ERROR for d in found) and not parsed.environments:
        return found
    env = parsed.environment(config.environment_name(environment))
    chart_dir = root / env.chart
    if not (chart_dir / "Chart.yaml").is_file():
        raise DraftError(
            f"{chart_dir} is not a Helm chart (it has no Chart.yaml).",
            "Fix `chart` in draft.toml, or run `draft create` to add one.",
        )
    deploy = release.deploy_values(env.set, repository=env.name, tag="check")
    found += chart.check_values(
        chart_dir, release=env.name, namespace=env.namespace, extra_values=deploy
    )
    dockerfile_path = root / env.dockerfile
    if dockerfile_path.is_file():
        facts = dockerfile.chart_facts(
            chart_dir, release=env.name, namespace=env.namespace, extra_values=deploy
        )
        text = dockerfile_path.read_text(encoding="utf-8", errors="replace")
        found += dockerfile.check(dockerfile_path, text, facts)
    return found


def run_check(args: argparse.Namespace, out: Output) -> int:
    root = _app_dir(args.path)
    found = sorted(diagnostics_for(root, args.env), key=sort_key)
    cwd = Path.cwd()
    for diagnostic in found:
        style = "red" if diagnostic.severity is Severity.ERROR else None
        out.line(diagnostic.format(relative_to=cwd), style=style)
    errors = sum(d.severity is Severity.ERROR for d in found)
    warnings = sum(d.severity is Severity.WARNING for d in found)
    out.note(f"{errors} error(s), {warnings} warning(s)" if found else "No problems found.")
    out.result(
        {"diagnostics": [d.to_json() for d in found], "errors": errors, "warnings": warnings}
    )
    return 1 if errors else 0


def run_packs(args: argparse.Namespace, out: Output) -> int:
    available = packs.all_packs()
    width = max((len(p.name) for p in available), default=0)
    for pack in available:
        where = "" if pack.builtin else f"  ({pack.source})"
        out.line(f"{pack.name:<{width}}  {pack.description}{where}")
    out.result(
        [
            {
                "name": p.name,
                "description": p.description,
                "port": p.port,
                "source": p.source,
                "path": str(p.path),
                "images": list(p.images),
            }
            for p in available
        ]
    )
    return 0
