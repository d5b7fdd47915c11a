"""Deploy on save, and the commands that drive an app's deployment.

A save inside a Draft app starts `draft.deploy.up` after the environment's
`watch_delay`; a newer save cancels the wait or stops following the deploy in
flight (draftd supersedes its build). Progress goes out as standard work-done
progress, every phase change as `draft/status`, build output as log messages,
the outcome as one message with the URL or the reason. `draft.up` awaits its
deploy; when a save supersedes it, the command answers "superseded", not an error.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from draft import config
from draft.errors import DraftError
from server.actions import unsaved_message
from server.draft_files import app_root_of, path_of
from server.state import DraftServer

if TYPE_CHECKING:
    from draft.client import DraftdClient
    from draft.deploy import Status, Trigger

STATUS = "draft/status"
PERCENT = {"queued": 5, "uploading": 15, "building": 35, "pushing": 70, "deploying": 85}


def register(server: DraftServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: DraftServer, params: types.DidSaveTextDocumentParams) -> None:
        path = path_of(params.text_document.uri)
        if path is not None and ls.created.pop(path, None) is not None:
            return  # the editor writing a file the create edit made: nothing to deploy yet
        if not ls.settings.deploy_on_save:
            return
        folder = ls.folder_of(params.text_document.uri)
        root = app_root_of(path, folder) if path is not None else None
        if root is None:
            return
        previous = ls.deploys.pop(root, None)
        if previous is not None:
            previous.cancel()
        saved = path.relative_to(root) if path is not None else "a file"
        ls.window_log_message(
            types.LogMessageParams(type=types.MessageType.Log, message=f"{saved} saved: deploying")
        )
        ls.deploys[root] = asyncio.ensure_future(deploy(ls, root, "save"))

    @server.command("draft.up")
    async def command_up(ls: DraftServer, *args: Any) -> dict[str, Any]:
        root = _app(ls, args)
        previous = ls.deploys.pop(root, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.ensure_future(deploy(ls, root, "command", delay=False))
        ls.deploys[root] = task
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:  # the editor cancelled the command: stop its deploy too
            task.cancel()
            raise
        if task.cancelled():  # a save (or another draft.up) started a newer deploy: it reports
            return await asyncio.to_thread(_superseded, ls, root)
        result = task.result()
        return result.to_json() if result is not None else {"phase": "failed"}

    @server.command("draft.status")
    async def command_status(ls: DraftServer, *args: Any) -> dict[str, Any]:
        env = _environment(ls, _app(ls, args))
        async with await _daemon(ls) as client:
            found = await client.app(env.name, env.environment)
        where = f" at {found['url']}" if found.get("url") else ""
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info,
                message=f"{env.name} ({env.environment}) on {found.get('target')}: "
                f"{found.get('state')}{where}",
            )
        )
        return dict(found)

    @server.command("draft.logs")
    async def command_logs(ls: DraftServer, *args: Any) -> dict[str, Any]:
        env = _environment(ls, _app(ls, args))
        async with await _daemon(ls) as client:
            lines = [line async for line in client.logs(env.name, env.environment, tail=200)]
        for line in lines:  # editors show log messages in their output panel
            ls.window_log_message(types.LogMessageParams(type=types.MessageType.Log, message=line))
        return {"lines": lines}

    @server.command("draft.connect")
    async def command_connect(ls: DraftServer, *args: Any) -> dict[str, Any]:
        env = _environment(ls, _app(ls, args))
        async with await _daemon(ls) as client:
            url = await client.connect(env.name, env.environment)
        ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Info, message=f"{env.name}: {url}")
        )
        return {"url": url}

    @server.command("draft.delete")
    async def command_delete(ls: DraftServer, *args: Any) -> dict[str, Any]:
        env = _environment(ls, _app(ls, args))
        async with await _daemon(ls) as client:
            answer = await client.delete(env.name, env.environment)
            return {"deleted": answer["deleted"]}

    @server.command("draft.history")
    async def command_history(ls: DraftServer, *args: Any) -> list[dict[str, Any]]:
        env = _environment(ls, _app(ls, args))
        async with await _daemon(ls) as client:
            return [dict(entry) for entry in await client.history(env.name, env.environment)]

    @server.command("draft.toggleDeployOnSave")
    def toggle(ls: DraftServer, *args: Any) -> dict[str, Any]:
        ls.settings.deploy_on_save = not ls.settings.deploy_on_save
        state = "on" if ls.settings.deploy_on_save else "off"
        ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Info, message=f"Deploy on save: {state}")
        )
        return {"deployOnSave": ls.settings.deploy_on_save}


async def _daemon(ls: DraftServer) -> DraftdClient:
    # The HTTP client (aiohttp) is loaded on the first deploy, not at start: a server that
    # only checks files stays small.
    from draft.client import ensure_daemon

    return await ensure_daemon(ls.settings.daemon_url)


def _app(ls: DraftServer, args: tuple[Any, ...]) -> Path:
    path = path_of(str(args[0])) if args and args[0] else ls.default_folder()
    root = app_root_of(path) if path is not None else None
    if root is None:
        raise DraftError("This is not a Draft app: no draft.toml here or above.",
                         "Run the command Draft: Create first.")  # fmt: skip
    return root


def _environment(ls: DraftServer, root: Path) -> config.Environment:
    return config.load(root, ls.settings.environment)


def _superseded(ls: DraftServer, root: Path) -> dict[str, Any]:
    """`draft.up`'s answer when a newer deploy took over: not an error, that deploy reports."""
    try:
        env = _environment(ls, root)
        app, environment = env.name, env.environment
    except DraftError:
        app, environment = root.name, ls.settings.environment or ""
    return {
        "app": app,
        "environment": environment,
        "phase": "superseded",
        "message": "a newer deploy of the app took over",
        "elapsedMs": 0,
    }


async def deploy(
    ls: DraftServer, root: Path, trigger: Trigger, *, delay: bool = True
) -> Status | None:
    """One deploy of the app in `root`, reported to the editor; None when it did not start."""
    unsaved = ls.unsaved_created(root)
    if unsaved:
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Warning, message=unsaved_message(ls, root, unsaved)
            )
        )
        return None
    try:
        env = await asyncio.to_thread(_environment, ls, root)
    except DraftError as error:
        _failed(ls, root, root.name, str(error))
        return None
    if delay and env.watch_delay:
        await asyncio.sleep(env.watch_delay)
    token = str(uuid.uuid4())
    progress = await _begin(ls, token, env.name)
    last_phase = ""

    def on_status(status: Status) -> None:
        nonlocal last_phase
        if status.kind == "log":
            ls.window_log_message(
                types.LogMessageParams(type=types.MessageType.Log, message=status.message)
            )
            return
        if status.kind == "phase" and status.phase != last_phase:
            last_phase = status.phase
            ls.protocol.notify(STATUS, status.to_json())
            if progress and status.phase in PERCENT:
                ls.work_done_progress.report(
                    token,
                    types.WorkDoneProgressReport(
                        message=status.message, percentage=PERCENT[status.phase]
                    ),
                )

    from draft.deploy import up

    try:
        result = await up(
            root,
            environment=ls.settings.environment,
            trigger=trigger,
            on_status=on_status,
            daemon_url=ls.settings.daemon_url,
        )
    except asyncio.CancelledError:
        if progress:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message="superseded"))
        raise
    except DraftError as error:
        if progress:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=str(error)))
        _failed(ls, root, env.name, str(error), env.environment)
        return None
    if progress:
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=result.message))
    if result.phase == "ready":
        ls.last_failure.pop(root, None)
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info, message=f"{env.name} is ready at {result.url}"
            )
        )
    elif result.phase == "failed":
        _message_once(ls, root, f"{env.name} failed to deploy: {result.message}")
    return result


async def _begin(ls: DraftServer, token: str, app: str) -> bool:
    """Start work-done progress, when the client supports it."""
    if not ls.shows_progress:
        return False
    try:
        await ls.window_work_done_progress_create_async(
            types.WorkDoneProgressCreateParams(token=token)
        )
    except Exception:  # the client refused: deploy without a progress bar
        return False
    ls.work_done_progress.begin(
        token,
        types.WorkDoneProgressBegin(
            title=f"Draft: deploying {app}", percentage=0, cancellable=False
        ),
    )
    return True


def _failed(ls: DraftServer, root: Path, app: str, reason: str, environment: str = "") -> None:
    ls.protocol.notify(
        STATUS,
        {
            "app": app,
            "environment": environment,
            "phase": "failed",
            "message": reason,
            "elapsedMs": 0,
        },
    )
    _message_once(ls, root, reason)


def _message_once(ls: DraftServer, root: Path, message: str) -> None:
    """The same failure again (draftd still down, say) is logged, not shown again."""
    if ls.last_failure.get(root) == message:
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=message))
        return
    ls.last_failure[root] = message
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
