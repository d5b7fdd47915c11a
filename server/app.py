"""draft-ls: the server with its features registered."""

from __future__ import annotations

from lsprotocol import types

from server import actions, assist, checks, deploys
from server.state import DraftServer


def build() -> DraftServer:
    server = DraftServer()

    @server.feature(types.INITIALIZED)
    def initialized(ls: DraftServer, params: types.InitializedParams) -> None:
        capabilities = ls.client_capabilities
        text = capabilities.text_document
        window = capabilities.window
        edits = capabilities.workspace.workspace_edit if capabilities.workspace else None
        ls.pulls_diagnostics = bool(text and text.diagnostic)
        resolve = text.code_action.resolve_support if text and text.code_action else None
        ls.resolves_edits = bool(resolve and "edit" in resolve.properties)
        ls.shows_progress = bool(window and window.work_done_progress)
        ls.applies_file_edits = bool(
            edits
            and edits.document_changes
            and edits.resource_operations
            and types.ResourceOperationKind.Create in edits.resource_operations
        )

    @server.feature(types.INITIALIZE)
    def initialize(ls: DraftServer, params: types.InitializeParams) -> None:
        ls.settings.update(params.initialization_options)
        ls.neovim = bool(params.client_info and params.client_info.name == "Neovim")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: DraftServer, params: types.DidChangeConfigurationParams) -> None:
        ls.settings.update(params.settings)

    checks.register(server)
    assist.register(server)
    actions.register(server)
    deploys.register(server)
    return server
