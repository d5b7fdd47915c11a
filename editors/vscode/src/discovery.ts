// Where draft-ls is: a pure function of what the editor knows, so it can be tested.
import * as path from "path";

export interface DiscoveryInput {
  /** The `draft.server.path` setting ("" when unset). */
  configured: string;
  /** Workspace folders' paths. */
  folders: string[];
  /** The selected Python interpreter (Python extension), if any. */
  interpreter?: string;
  /** The PATH environment variable. */
  pathEnv: string;
  /** Whether an executable file exists there. */
  isExecutable: (file: string) => boolean;
  platform: NodeJS.Platform;
}

export type Discovery = { found: string; tried: string[] } | { found: undefined; tried: string[] };

export function findServer(input: DiscoveryInput): Discovery {
  const exe = input.platform === "win32" ? "draft-ls.exe" : "draft-ls";
  const bin = input.platform === "win32" ? "Scripts" : "bin";
  const candidates: string[] = [];
  if (input.configured) {
    candidates.push(input.configured);
  } else {
    for (const folder of input.folders) {
      candidates.push(path.join(folder, ".venv", bin, exe), path.join(folder, "venv", bin, exe));
    }
    if (input.interpreter) {
      candidates.push(path.join(path.dirname(input.interpreter), exe));
    }
    const separator = input.platform === "win32" ? ";" : ":";
    for (const dir of input.pathEnv.split(separator).filter(Boolean)) {
      candidates.push(path.join(dir, exe));
    }
  }
  const found = candidates.find((file) => input.isExecutable(file));
  return { found, tried: candidates };
}
