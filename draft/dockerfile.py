"""Where a Dockerfile will be refused by the cluster its chart deploys to, at the line.

The kubelet refuses to start a container whose pod says `runAsNonRoot` when the image's USER
is a name (`node`, `www-data`: it cannot check a name is not root) or root, unless the pod
sets `runAsUser`; and a port the app does not listen on fails every probe. Neither shows on
the docker target. These checks compare the Dockerfile's final stage (USER, EXPOSE) with what
the chart renders (the pod's securityContext, the container's ports) or, for a pack, with its
pack.toml (which fills the shared chart).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]
from ruamel.yaml import YAML

from draft import helm
from draft.diagnostics import Diagnostic, Range, Severity
from draft.packs import Pack

ROOT_USERS = ("0", "root")
_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")


@dataclass(frozen=True)
class PodFacts:
    """What the chart runs the app's container with."""

    run_as_non_root: bool
    run_as_user: int | None
    container_ports: tuple[int, ...]


@dataclass(frozen=True)
class _Line:
    instruction: str
    value: str
    line: int
    content: str

    def range_of(self, text: str) -> Range:
        """The range of `text` in the instruction's first line (else the whole first line)."""
        first = self.content.splitlines()[0] if self.content else ""
        start = first.find(text) if text else -1
        if start < 0:
            return Range.of(self.line, 0, self.line, len(first))
        return Range.of(self.line, start, self.line, start + len(text))


def pack_facts(pack: Pack) -> PodFacts:
    """What the shared chart runs a pack's container with: pack.toml's user and port."""
    return PodFacts(True, pack.user.uid, (pack.port,))


def chart_facts(
    chart_dir: Path, *, release: str, namespace: str, extra_values: dict[str, Any] | None = None
) -> PodFacts | None:
    """The first workload's first container, as Helm renders the chart (None: it renders no
    workload, or does not render: the chart's own checks report that)."""
    try:
        manifests = helm.render(chart_dir, extra_values or {}, release=release, namespace=namespace)
    except helm.HelmError:
        return None
    yaml = YAML(typ="safe", pure=True)
    for name in sorted(manifests):
        try:
            documents = list(yaml.load_all(manifests[name]))
        except Exception:  # a template that renders invalid YAML: the chart's checks say so
            continue
        for document in documents:
            facts = _facts_of(document)
            if facts is not None:
                return facts
    return None


def _facts_of(document: Any) -> PodFacts | None:
    if not isinstance(document, dict) or document.get("kind") not in _WORKLOADS:
        return None
    spec = document.get("spec") or {}
    if document["kind"] != "Pod":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or spec).get("template") or {}
        spec = spec.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers or not isinstance(containers[0], dict):
        return None
    pod_context = spec.get("securityContext") or {}
    context = {**pod_context, **(containers[0].get("securityContext") or {})}
    user = context.get("runAsUser")
    ports = tuple(
        int(port["containerPort"])
        for port in containers[0].get("ports") or []
        if isinstance(port, dict) and isinstance(port.get("containerPort"), int)
    )
    return PodFacts(
        bool(context.get("runAsNonRoot")), user if isinstance(user, int) else None, ports
    )


def _final_stage(text: str) -> list[_Line]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    lines = [
        _Line(str(item["instruction"]).upper(), str(item["value"]), int(item["startline"]),
              str(item["content"]))
        for item in parser.structure
        if item["instruction"] != "COMMENT"
    ]  # fmt: skip
    starts = [i for i, line in enumerate(lines) if line.instruction == "FROM"]
    return lines[starts[-1] :] if starts else lines


def check(path: Path, text: str, facts: PodFacts | None) -> list[Diagnostic]:
    """The Dockerfile's problems on the cluster `facts` describe (none without facts)."""
    if facts is None:
        return []
    try:
        stage = _final_stage(text)
    except Exception:  # the parser's own errors are of many kinds; the build reports them
        return []
    if not stage:
        return []
    return [*_user_problems(path, stage, facts), *_port_problems(path, stage, facts)]


def _warn(path: Path, where: Range, code: str, message: str) -> Diagnostic:
    return Diagnostic(path, where, Severity.WARNING, code, message)


def _user_problems(path: Path, stage: list[_Line], facts: PodFacts) -> list[Diagnostic]:
    users = [line for line in stage if line.instruction == "USER"]
    if not users:
        if facts.run_as_non_root and facts.run_as_user is None:
            return [
                _warn(path, stage[0].range_of(""), "dockerfile-no-user",
                      "This stage sets no USER, so the app runs as the base image's user; with "
                      "the chart's runAsNonRoot the cluster refuses to start it if that is root "
                      "or a name. Add a numeric USER (e.g. USER 10001:10001).")
            ]  # fmt: skip
        return []
    last = users[-1]
    user = last.value.strip().split(":")[0]
    where = last.range_of(last.value.strip())
    if "$" in user:
        return []  # `USER $APP_UID`: the build resolves it; Draft cannot tell what to
    if user in ROOT_USERS and facts.run_as_non_root and facts.run_as_user is None:
        return [
            _warn(path, where, "dockerfile-user-root",
                  f"USER {last.value.strip()} runs the app as root: the chart's runAsNonRoot "
                  "makes the cluster refuse to start it. Use a numeric non-root USER "
                  "(e.g. USER 10001:10001).")
        ]  # fmt: skip
    if not re.fullmatch(r"[0-9]+", user):
        if facts.run_as_non_root and facts.run_as_user is None:
            return [
                _warn(path, where, "dockerfile-user-named",
                      f"USER {last.value.strip()} is a name: with the chart's runAsNonRoot the "
                      "kubelet cannot check it is not root and refuses to start the container "
                      "(\"image has non-numeric user\"). Use its number (e.g. USER 1000:1000), "
                      "or set securityContext.runAsUser in the chart's values.yaml.")
            ]  # fmt: skip
        return []
    # compared as text: `int` refuses a USER of more than 4,300 digits with ValueError
    if facts.run_as_user is not None and (user.lstrip("0") or "0") != str(facts.run_as_user):
        return [
            _warn(path, where, "dockerfile-user-mismatch",
                  f"The chart runs the app as user {facts.run_as_user} (securityContext."
                  f"runAsUser), not this USER {user}: on the cluster, files the image gives "
                  f"user {user} are not the app's. Make them agree.")
        ]  # fmt: skip
    return []


def _port_problems(path: Path, stage: list[_Line], facts: PodFacts) -> list[Diagnostic]:
    if not facts.container_ports:
        return []
    exposes = [line for line in stage if line.instruction == "EXPOSE"]
    exposed: set[int] = set()
    for line in exposes:
        for word in line.value.split():
            number = _number(word.split("/")[0])
            if number is None:
                return []  # `EXPOSE $PORT`: Draft cannot tell
            exposed.add(number)
    if not exposes or set(facts.container_ports) & exposed:
        return []
    wanted = ", ".join(str(p) for p in facts.container_ports)
    last = exposes[-1]
    return [
        _warn(path, last.range_of(last.value.strip()), "dockerfile-port-mismatch",
              f"EXPOSE {last.value.strip()}, but the chart's containerPort is {wanted}: the "
              "probes and the Service reach the app there, so on the cluster it never becomes "
              "ready. Make EXPOSE, the app's port and containerPort in values.yaml agree.")
    ]  # fmt: skip


def _number(word: str) -> int | None:
    """`word` as a whole number when it is one in ASCII digits, short enough to be a port
    (`str.isdigit` takes "²", which `int` refuses, and `int` refuses 5,000 digits)."""
    return int(word) if re.fullmatch(r"[0-9]{1,20}", word) else None
