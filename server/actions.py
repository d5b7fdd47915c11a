"""Code actions: scaffolding a workspace folder without draft.toml, and certain quick fixes.

The create action is a workspace edit (the editor shows it, applies it, can undo it) followed by
the command `draft.created`. An editor leaves the files an edit creates unsaved, and a deploy
reads the disk: Draft's clients take `draft.created` on its way to the server to save the files
the edit created, then the server shows the next step. A save of one of those files is the
create being written, not a change to deploy; a deploy while one is still unsaved (empty on
disk) names it instead of failing on an empty draft.toml.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types

from draft import config, detect, names, packs, scaffold
from draft.errors import DraftError
from server.convert import fix_of, lsp_range
from server.draft_files import path_of
from server.state import DraftServer

CREATE = "draft.create"
CREATED = "draft.created"


def register(server: DraftServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Source],
            resolve_provider=True,
        ),
    )
    async def code_actions(
        ls: DraftServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        actions = [
            quick_fix(params.text_document.uri, diagnostic)
            for diagnostic in params.context.diagnostics
            if fix_of(diagnostic) is not None
        ]
        folder = ls.folder_of(params.text_document.uri)
        if folder is not None and not (folder / config.CONFIG_FILE).exists():
            actions += await asyncio.to_thread(create_actions, folder, ls.resolves_edits)
        return actions or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: DraftServer, action: types.CodeAction) -> types.CodeAction:
        """The create action's edit, computed when the editor asks (to preview or apply it)."""
        data = action.data if isinstance(action.data, dict) else {}
        folder = path_of(str(data.get("folder", "")))
        if folder is None or "pack" not in data:
            return action
        pack = packs.find_pack(str(data["pack"]))
        name = names.generate()
        planned = await asyncio.to_thread(scaffold.plan, pack, name)
        action.edit, skipped = workspace_edit(folder, planned)
        created = {
            "folder": folder.as_uri(),
            "app": name,
            "pack": pack.name,
            "files": _remember(ls, folder, planned, skipped),
        }
        action.command = types.Command(title="Draft: created", command=CREATED, arguments=[created])
        return action

    @server.command(CREATE)
    async def create(ls: DraftServer, *args: Any) -> dict[str, Any]:
        """`draft.create [folderUri] [pack]`: scaffold as an edit the editor applies. Draft's
        clients then save the files the edit made and run `draft.created`, as after the action."""
        folder = path_of(str(args[0])) if args and args[0] else ls.default_folder()
        if folder is None:
            raise DraftError("Open a folder first: Draft scaffolds a workspace folder.")
        pack_name = str(args[1]) if len(args) > 1 and args[1] else None
        pack = packs.find_pack(pack_name) if pack_name else detect.best(folder).pack
        name = names.generate()
        planned = await asyncio.to_thread(scaffold.plan, pack, name)
        edit, skipped = workspace_edit(folder, planned)
        created = _remember(ls, folder, planned, skipped)
        result = {
            "folder": folder.as_uri(),
            "app": name,
            "pack": pack.name,
            "files": created,
            "skipped": [str(p) for p in skipped],
        }
        if ls.applies_file_edits:
            applied = await ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=f"Draft: create ({pack.title})")
            )
            if not applied.applied:
                reason = applied.failure_reason
                raise DraftError(f"The editor did not apply Draft's files: {reason}")
        else:  # this editor cannot create files through an edit: write them, as the CLI does
            await asyncio.to_thread(
                scaffold.write, folder, pack, "", [p for p in planned if p.path not in skipped]
            )
            await next_step(ls, result)
        return result

    @server.command(CREATED)
    async def created(ls: DraftServer, *args: Any) -> dict[str, Any]:
        """`draft.created {folder, app, pack, files}`, run after the create edit (Draft's
        clients first save the files it made)."""
        return await next_step(ls, args[0] if args and isinstance(args[0], dict) else {})


async def next_step(ls: DraftServer, created: dict[str, Any]) -> dict[str, Any]:
    """After a create, what to do next, as `draft create` says it; first, when the editor left
    files of it unsaved, that they need saving."""
    folder = path_of(str(created.get("folder", "")))
    files = [str(f) for f in created.get("files", [])]
    unsaved = [] if folder is None else await asyncio.to_thread(_unsaved, ls, folder, files)
    if folder is not None:  # forget the files written meanwhile (with or without a didSave)
        ls.unsaved_created(folder)
    head = f"Created {created.get('app', 'the app')} from the {created.get('pack', '?')} pack"
    if unsaved:
        one = len(unsaved) == 1
        message = (
            f"{head}, but {_names(unsaved)} {'is' if one else 'are'} not saved yet: save "
            f"{'it' if one else 'them'} ({ls.save_all}), then save a file to deploy the app."
        )
    else:
        message = f"{head} — save a file to deploy it, or run {ls.up_command}."
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=message))
    return {"message": message, "unsaved": unsaved}


def _remember(
    ls: DraftServer, folder: Path, planned: list[scaffold.PlannedFile], skipped: list[Path]
) -> list[str]:
    """The files the create edit makes, relative to `folder`. Those with text are remembered
    until seen saved: on disk, an empty one is still unsaved (a file a pack means to be empty,
    such as an `__init__.py`, is never waited for)."""
    created = [p for p in planned if p.path not in skipped]
    for file in created:
        if file.content:
            ls.created[folder / file.path] = folder
    return [str(p.path) for p in created]


def _unsaved(ls: DraftServer, folder: Path, files: list[str]) -> list[str]:
    """The created files with text that are still missing or empty on disk."""
    return [
        f
        for f in files
        if folder / f in ls.created
        and (not (folder / f).is_file() or (folder / f).stat().st_size == 0)
    ]


def unsaved_message(ls: DraftServer, root: Path, unsaved: list[Path]) -> str:
    """One sentence that names the created files a deploy cannot use yet, and what to do."""
    names = [str(p.relative_to(root)) for p in unsaved]
    one = len(names) == 1
    return (
        f"{_names(names)} {'is' if one else 'are'} not saved yet (Draft created "
        f"{'it' if one else 'them'}): save {'it' if one else 'them'} ({ls.save_all}), then save "
        "again to deploy."
    )


def _names(files: list[str]) -> str:
    """draft.toml and Dockerfile first, three at most by name ("… and 9 more files")."""
    first = {"draft.toml": 0, "Dockerfile": 1}
    ordered = sorted(files, key=lambda f: (first.get(f, 2), f))
    if len(ordered) <= 3:
        return ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} and {ordered[-1]}"
    return f"{', '.join(ordered[:3])} and {len(ordered) - 3} more files"


def quick_fix(uri: str, diagnostic: types.Diagnostic) -> types.CodeAction:
    fix = fix_of(diagnostic)
    assert fix is not None
    return types.CodeAction(
        title=fix.title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=True,
        edit=types.WorkspaceEdit(
            changes={uri: [types.TextEdit(range=lsp_range(fix.range), new_text=fix.new_text)]}
        ),
    )


def create_actions(folder: Path, resolvable: bool) -> list[types.CodeAction]:
    """One "create" action per detected pack, best first: resolved to its edit on demand when
    the editor can, else running the `draft.create` command (which sends the same edit)."""
    title = "Draft: create Dockerfile, chart and draft.toml ({} detected)"
    actions = []
    for found in detect.detect(folder):
        arguments = [folder.as_uri(), found.pack.name]
        action = types.CodeAction(
            title=title.format(detect.label(found)), kind=types.CodeActionKind.Source
        )
        if resolvable:
            action.data = {"folder": arguments[0], "pack": arguments[1]}
        else:
            action.command = types.Command(
                title="Draft: create", command=CREATE, arguments=arguments
            )
        actions.append(action)
    return actions


def workspace_edit(
    folder: Path, planned: list[scaffold.PlannedFile]
) -> tuple[types.WorkspaceEdit, list[Path]]:
    """File creations with their text; files that exist are left alone, as `draft create` does."""
    changes: list[Any] = []
    skipped: list[Path] = []
    for file in planned:
        target = folder / file.path
        if target.exists():
            skipped.append(file.path)
            continue
        uri = target.as_uri()
        changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False)))
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                edits=[
                    types.TextEdit(
                        range=types.Range(
                            start=types.Position(line=0, character=0),
                            end=types.Position(line=0, character=0),
                        ),
                        new_text=file.content.decode("utf-8"),
                    )
                ],
            )
        )
    return types.WorkspaceEdit(document_changes=changes), skipped
