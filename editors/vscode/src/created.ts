// The files a create made, from the server's `draft.created` argument (or `draft.create`'s result).
import * as path from "path";
import { fileURLToPath } from "url";

export interface Created {
  /** The app folder, as a file URI. */
  folder: string;
  app?: string;
  pack?: string;
  /** The files the create edit made, relative to the folder. */
  files: string[];
}

export function isCreated(value: unknown): value is Created {
  const v = value as Created | undefined;
  return !!v && typeof v.folder === "string" && Array.isArray(v.files);
}

/** Absolute paths of the created files. */
export function createdPaths(created: Created): string[] {
  const folder = fileURLToPath(created.folder);
  return created.files.map((file) => path.join(folder, ...file.split("/")));
}
