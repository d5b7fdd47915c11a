"""The chart values Draft sets for a deploy, shared by `draft check` and draftd.

`set` entries from draft.toml come first, in order, as `helm --set` would apply
them; then the image Draft just built and the build id, which always win so a
deploy runs exactly what was built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from draft import helm


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
