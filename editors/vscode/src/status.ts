// The status bar item, as a pure function of the server's `draft/status` notification.

export interface DraftStatus {
  app: string;
  environment: string;
  phase: "idle" | "queued" | "uploading" | "building" | "pushing" | "deploying" | "ready" | "failed" | string;
  message: string;
  url?: string;
  buildId?: string;
  elapsedMs: number;
  /** Where an ended build's time went, as the server words it: "upload 0.01 s, sync 0.05 s, ready 0.11 s". */
  timings?: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** The command a click runs, with its arguments. */
  command?: { command: string; arguments: unknown[] };
}

const WORKING = new Set(["queued", "uploading", "building", "pushing", "deploying"]);

export function renderStatus(status: DraftStatus | undefined): StatusView {
  if (!status || status.phase === "idle") {
    return { text: "$(rocket) Draft", tooltip: "Draft: nothing deployed yet", command: { command: "draft.up", arguments: [] } };
  }
  const seconds = (status.elapsedMs / 1000).toFixed(1);
  if (WORKING.has(status.phase)) {
    return {
      text: `$(sync~spin) Draft: ${status.phase}`,
      tooltip: `${status.app}: ${status.message} (${seconds} s)`,
      command: { command: "draft.logs", arguments: [] },
    };
  }
  if (status.phase === "ready") {
    return {
      text: `$(check) Draft: ${status.url ?? "ready"}`,
      tooltip: `${status.app} is ready${status.url ? " at " + status.url : ""} — click to open` +
        (status.timings ? `\n${status.timings}` : ""),
      command: status.url ? { command: "vscode.open", arguments: [status.url] } : undefined,
    };
  }
  return {
    text: "$(error) Draft: failed",
    tooltip: `${status.app}: ${status.message} — click for the build output`,
    command: { command: "draft.showOutput", arguments: [] },
  };
}
