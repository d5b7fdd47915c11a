"""Tasks around a deploy, from the app's optional `.draft-tasks.toml` (the original Draft's file):

    [pre-up]             # run here, in the app's folder, before anything is uploaded
    generate = "python gen.py"
    [post-deploy]        # run inside the deployed container or pod
    migrate = "python manage.py migrate"
    [cleanup]            # run here by `draft delete`
    forget = "rm -f .cache/state"

Commands are split like a shell would (no shell features; write `sh -c '…'` for those). A
task's output streams like build output; a failed task names itself and its exit code.
"""

from __future__ import annotations

import shlex
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from draft import limits, tomlpos
from draft.config import syntax_problem, too_deep
from draft.diagnostics import Diagnostic, Range, Severity
from draft.errors import DraftError

TASKS_FILE = ".draft-tasks.toml"
STAGES = ("pre-up", "post-deploy", "cleanup")


class TaskFailed(DraftError):
    """A task exited non-zero, or could not start."""


@dataclass(frozen=True)
class Task:
    stage: str
    name: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class Tasks:
    pre_up: tuple[Task, ...] = ()
    post_deploy: tuple[Task, ...] = ()
    cleanup: tuple[Task, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def parse(text: str, path: Path = Path(TASKS_FILE)) -> Tasks:
    """The tasks of a `.draft-tasks.toml` text, and every problem with it; never raises, and
    takes time linear in the text's size (`draft.limits`)."""
    with limits.bounded(len(text)):
        try:
            return _parse(text, path)
        except (limits.TooMuchWork, RecursionError) as error:
            return Tasks(diagnostics=(limits.too_complex(path, error),))


def _parse(text: str, path: Path) -> Tasks:
    where = tomlpos.index(text)
    found: list[Diagnostic] = []

    def report(at: Range | None, code: str, message: str) -> None:
        found.append(Diagnostic(path, at or Range.of(0, 0), Severity.ERROR, code, message))

    deep = too_deep(where)
    if deep is not None:
        report(deep[0], "too-deep", deep[1])
        return Tasks(diagnostics=tuple(found))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        at, message = syntax_problem(text, error, where)
        report(at, "toml-syntax", message)
        return Tasks(diagnostics=tuple(found))
    except RecursionError:
        report(None, "toml-syntax", "TOML syntax error: nested too deeply")
        return Tasks(diagnostics=tuple(found))
    stages: dict[str, list[Task]] = {stage: [] for stage in STAGES}
    for stage, table in data.items():
        if stage not in STAGES:
            known = "[pre-up], [post-deploy] or [cleanup]"
            report(
                where.key_range((stage,)), "unknown-stage", f"unknown stage {stage!r}: use {known}"
            )
            continue
        if not isinstance(table, dict):
            report(where.key_range((stage,)), "wrong-type", f"[{stage}] must be a table of tasks")
            continue
        for name, command in table.items():
            limits.step()
            place = where.value_range((stage, name))
            if not isinstance(command, str):
                report(place, "wrong-type", f"task {name!r} must be a command string")
                continue
            try:
                words = tuple(shlex.split(command))
            except ValueError as error:
                report(place, "invalid-command", f"task {name!r} is not shell words: {error}")
                continue
            if not words:
                report(place, "invalid-command", f"task {name!r} is empty")
                continue
            stages[stage].append(Task(stage, name, words))
    return Tasks(
        tuple(stages["pre-up"]), tuple(stages["post-deploy"]), tuple(stages["cleanup"]),
        tuple(found),
    )  # fmt: skip


def load(root: Path) -> Tasks:
    """The app's tasks (none without the file); a file with errors is a `DraftError`."""
    path = root / TASKS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Tasks()
    except (OSError, UnicodeDecodeError) as error:
        raise DraftError(f"Cannot read {path}: {error}.") from error
    tasks = parse(text, path)
    if tasks.diagnostics:
        first = tasks.diagnostics[0]
        raise DraftError(
            f"{TASKS_FILE} has errors, the first: {first.format(root)}",
            f"Run `draft check {root}` to see them all.",
        )
    return tasks


def run_here(task: Task, root: Path, output: Callable[[str], None]) -> None:
    """Run a pre-up or cleanup task in the app's folder, streaming its output."""
    output(f"task {task.stage}/{task.name}: {shlex.join(task.command)}")
    try:
        process = subprocess.Popen(
            task.command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace",
        )  # fmt: skip
    except OSError as error:
        raise TaskFailed(
            f"The {task.stage} task {task.name} could not start: {error.strerror}.",
            f"Fix it in {TASKS_FILE}.",
        ) from error
    assert process.stdout is not None
    for line in process.stdout:
        output(line.rstrip("\n"))
    code = process.wait()
    if code != 0:
        raise TaskFailed(
            f"The {task.stage} task {task.name} failed with exit code {code}.",
            f"Its output is above; fix it or the command in {TASKS_FILE}.",
        )
