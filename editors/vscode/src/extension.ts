// Draft for VS Code: starts draft-ls and renders what it says. Decisions live in the server.
import * as fs from "fs";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from "vscode-languageclient/node";
import { Created, createdPaths, isCreated } from "./created";
import { findServer } from "./discovery";
import { serverSettings } from "./settings";
import { DraftStatus, renderStatus } from "./status";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
let lastStatus: DraftStatus | undefined;
/** The create code action's `draft.created` argument, from its resolve to its command. */
let pendingCreate: Created | undefined;

function editorSettings() {
  const config = vscode.workspace.getConfiguration("draft");
  return {
    serverPath: config.get<string>("server.path", ""),
    daemonUrl: config.get<string>("daemonUrl", ""),
    environment: config.get<string>("environment", ""),
    deployOnSave: config.get<boolean>("deployOnSave", true),
  };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function interpreterPath(): Promise<string | undefined> {
  const python = vscode.extensions.getExtension("ms-python.python");
  if (!python) {
    return undefined;
  }
  try {
    const api = python.isActive ? python.exports : await python.activate();
    const details = api?.settings?.getExecutionDetails?.(vscode.workspace.workspaceFolders?.[0]?.uri);
    return details?.execCommand?.[0];
  } catch {
    return undefined;
  }
}

function render(status: DraftStatus | undefined): void {
  lastStatus = status;
  const view = renderStatus(status);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.command = view.command ? { title: "Draft", command: view.command.command, arguments: view.command.arguments } : undefined;
  statusItem.show();
}

/** Save the files a create edit made: VS Code leaves them unsaved, and a deploy reads the disk.
 * The edit stays undoable (Undo, or the files' own history). */
async function saveCreated(created: Created): Promise<void> {
  for (const file of createdPaths(created)) {
    const uri = vscode.Uri.file(file);
    const document =
      vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uri.fsPath) ??
      (await vscode.workspace.openTextDocument(uri).then(
        (d) => d,
        () => undefined,
      ));
    if (document?.isDirty && !(await document.save())) {
      output.appendLine(`could not save ${file}`);
    }
  }
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const settings = editorSettings();
  const discovery = findServer({
    configured: settings.serverPath,
    folders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    interpreter: await interpreterPath(),
    pathEnv: process.env.PATH ?? "",
    isExecutable,
    platform: process.platform,
  });
  if (!discovery.found) {
    output.appendLine(`draft-ls was not found; tried:\n  ${discovery.tried.join("\n  ")}`);
    const choice = await vscode.window.showErrorMessage(
      "Draft: draft-ls was not found. Install Draft (pipx install draft) or set draft.server.path.",
      "Open Settings",
    );
    if (choice === "Open Settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "draft.server.path");
    }
    return;
  }
  output.appendLine(`starting ${discovery.found}`);
  const serverOptions: ServerOptions = { command: discovery.found, args: ["--stdio"] };
  let restarts = 0;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", pattern: "**/draft.toml" },
      { scheme: "file", pattern: "**/chart/**/*.{yaml,yml,json,tpl}" },
      { scheme: "file", pattern: "**/*" },
    ],
    initializationOptions: serverSettings(settings),
    outputChannel: output,
    middleware: {
      // VS Code keeps a code action command's arguments in a cache that it may release before
      // the command runs ("Actual command not found"); a command without arguments is passed
      // as is. So the create action's `draft.created` argument waits here instead.
      resolveCodeAction: async (item, token, next) => {
        const resolved = await next(item, token);
        const command = resolved?.command;
        if (resolved && command?.command === "draft.created" && isCreated(command.arguments?.[0])) {
          pendingCreate = command.arguments?.[0];
          resolved.command = { title: command.title, command: command.command };
        }
        return resolved;
      },
      // After a create (the code action's edit, then its `draft.created`; or the command
      // `draft.create`), save the files it made before the server says what comes next.
      executeCommand: async (command, args, next) => {
        if (command === "draft.created") {
          const created = isCreated(args[0]) ? args[0] : pendingCreate;
          pendingCreate = undefined;
          if (created) {
            await saveCreated(created);
            args = [created];
          }
        }
        const result = await next(command, args);
        if (command === "draft.create" && isCreated(result)) {
          await vscode.commands.executeCommand("draft.created", result);
        }
        return result;
      },
    },
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        restarts += 1;
        if (restarts > 4) {
          void vscode.window.showErrorMessage("Draft: draft-ls keeps stopping; see the Draft output.", "Show Output").then((c) => c && output.show());
          return { action: CloseAction.DoNotRestart };
        }
        void vscode.window.showWarningMessage("Draft: draft-ls stopped; restarting it.");
        return { action: CloseAction.Restart };
      },
    },
  };
  client = new LanguageClient("draft", "Draft", serverOptions, clientOptions);
  // Registered once: the client keeps it across restarts of draft-ls.
  client.onNotification("draft/status", (status: DraftStatus) => render(status));
  await client.start();
  context.subscriptions.push(client);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("Draft");
  statusItem = vscode.window.createStatusBarItem("draft.status", vscode.StatusBarAlignment.Left, 10);
  statusItem.name = "Draft";
  render(undefined);
  context.subscriptions.push(output, statusItem);
  context.subscriptions.push(vscode.commands.registerCommand("draft.showOutput", () => output.show()));
  // draft.create, draft.up, … are the server's commands: vscode-languageclient registers them
  // from the server's capabilities and forwards them to it; the server shows their outcome.
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration("draft") || !client) {
        return;
      }
      if (event.affectsConfiguration("draft.server.path")) {
        await client.stop();
        await startClient(context);
        return;
      }
      await client.sendNotification("workspace/didChangeConfiguration", { settings: serverSettings(editorSettings()) });
    }),
  );
  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}

export function currentStatus(): DraftStatus | undefined {
  return lastStatus;
}
