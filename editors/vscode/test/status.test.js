// Unit tests of the client's own logic, with node's test runner (npm test).
const test = require("node:test");
const assert = require("node:assert/strict");
const { renderStatus } = require("../out/unit/status.js");
const { findServer } = require("../out/unit/discovery.js");
const { serverSettings } = require("../out/unit/settings.js");

const base = { app: "tufted-lamb", environment: "development", message: "", elapsedMs: 1234 };

test("working phases spin and name the phase; a click shows the logs", () => {
  const view = renderStatus({ ...base, phase: "building", message: "building tufted-lamb:abc" });
  assert.equal(view.text, "$(sync~spin) Draft: building");
  assert.match(view.tooltip, /building tufted-lamb:abc \(1\.2 s\)/);
  assert.equal(view.command.command, "draft.logs");
});

test("ready shows the URL and a click opens it", () => {
  const view = renderStatus({ ...base, phase: "ready", url: "http://127.0.0.1:39105" });
  assert.equal(view.text, "$(check) Draft: http://127.0.0.1:39105");
  assert.deepEqual(view.command, { command: "vscode.open", arguments: ["http://127.0.0.1:39105"] });
});

test("ready's tooltip says where the deploy's time went", () => {
  const timings = "upload 0.01 s, sync 0.05 s, ready 0.11 s";
  const view = renderStatus({ ...base, phase: "ready", url: "http://127.0.0.1:39105", timings });
  assert.equal(view.tooltip.split("\n")[1], timings);
});

test("failed shows the reason in the tooltip and a click shows the output", () => {
  const view = renderStatus({ ...base, phase: "failed", message: "The Docker engine is not running." });
  assert.equal(view.text, "$(error) Draft: failed");
  assert.match(view.tooltip, /Docker engine is not running/);
  assert.equal(view.command.command, "draft.showOutput");
});

test("the configured server path wins, even when it does not exist (the error names it)", () => {
  const found = findServer({ configured: "/opt/draft/bin/draft-ls", folders: ["/w"], pathEnv: "/usr/bin", isExecutable: () => false, platform: "linux" });
  assert.equal(found.found, undefined);
  assert.deepEqual(found.tried, ["/opt/draft/bin/draft-ls"]);
});

test("the workspace venv comes before the interpreter and PATH", () => {
  const exists = new Set(["/w/.venv/bin/draft-ls", "/usr/local/bin/draft-ls"]);
  const found = findServer({ configured: "", folders: ["/w"], interpreter: "/py/bin/python", pathEnv: "/usr/local/bin:/usr/bin", isExecutable: (f) => exists.has(f), platform: "linux" });
  assert.equal(found.found, "/w/.venv/bin/draft-ls");
  assert.deepEqual(found.tried.slice(0, 3), ["/w/.venv/bin/draft-ls", "/w/venv/bin/draft-ls", "/py/bin/draft-ls"]);
});

test("falls back to PATH", () => {
  const found = findServer({ configured: "", folders: [], pathEnv: "/a:/b", isExecutable: (f) => f === "/b/draft-ls", platform: "linux" });
  assert.equal(found.found, "/b/draft-ls");
});

test("settings reach the server under the draft key", () => {
  assert.deepEqual(serverSettings({ daemonUrl: "", environment: "staging", deployOnSave: false }), {
    draft: { deployOnSave: false, environment: "staging", daemonUrl: "" },
  });
});
