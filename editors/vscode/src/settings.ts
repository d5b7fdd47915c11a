// The server's settings (initializationOptions and didChangeConfiguration) from the editor's.

export interface EditorSettings {
  daemonUrl: string;
  environment: string;
  deployOnSave: boolean;
}

export function serverSettings(settings: EditorSettings): { draft: Record<string, unknown> } {
  return {
    draft: {
      deployOnSave: settings.deployOnSave,
      environment: settings.environment || "",
      daemonUrl: settings.daemonUrl || "",
    },
  };
}
