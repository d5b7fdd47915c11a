"""Secrets never reach events or logs: build args values, secret-looking Helm values, the token.

Builders and targets print what Docker and Kubernetes say, and a Dockerfile's
`RUN echo $TOKEN` would print a build arg's value; every message of a build
passes through its `Redactor` before it becomes an event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MASK = "***"
MIN_SECRET = 4
"""Shorter values ("1", "yes") are not masked: they would blank out ordinary words."""
_SECRET_KEY = re.compile(r"password|passwd|secret|token|key|credential", re.IGNORECASE)


@dataclass(frozen=True)
class Redactor:
    secrets: tuple[str, ...] = ()

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def redactor(
    build_args: Mapping[str, str], set_entries: Iterable[str], extra: Iterable[str] = ()
) -> Redactor:
    """Mask every build arg value and every `--set` value whose key sounds secret."""
    values = list(build_args.values())
    for entry in set_entries:
        key, _, value = entry.partition("=")
        if _SECRET_KEY.search(key):
            values.append(value)
    values.extend(extra)
    wanted = {value for value in values if len(value) >= MIN_SECRET}
    return Redactor(tuple(sorted(wanted, key=len, reverse=True)))
