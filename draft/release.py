"""The chart values Draft sets for a deploy, shared by `draft check` and draftd.

`set` entries from draft.toml come first, in order, as `helm --set` would apply
them; then the image Draft just built and the build id, which always win so a
deploy runs exactly what was built.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from draft import config, helm
from draft.errors import ConfigError


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `override` into a copy of `base`, tables merged, anything else replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def deploy_values(
    set_entries: Iterable[str], *, repository: str, tag: str, build_id: str = ""
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for entry in set_entries:
        values = merge(values, helm.parse_set(entry))
    image = {"image": {"repository": repository, "tag": tag}, "buildId": build_id}
    return merge(values, image)


def check_context(
    chart_dir: Path, environment: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Release name, namespace and deploy values to check a chart with, as a deploy would use
    them: from the app's draft.toml when the chart is its chart, else the chart's own name."""
    app = chart_dir.parent
    try:
        parsed = config.read(app)
        env = parsed.environments.get(config.environment_name(environment)) or next(
            iter(parsed.environments.values())
        )
    except (ConfigError, StopIteration):
        return helm.chart_name(chart_dir), "default", {}
    if (app / env.chart).resolve() != chart_dir.resolve():
        return helm.chart_name(chart_dir), "default", {}
    try:
        values = deploy_values(env.set, repository=env.name, tag="check")
    except helm.HelmError:
        values = {}  # draft.toml's own diagnostics report a bad `set`
    return env.name, env.namespace, values
