// End to end in real VS Code: code-server in headless Chromium, driven by Playwright.
// Driven by tests/editors/test_vscode_e2e.py, which passes everything through the environment:
//   CODE_SERVER, VSIX, APP (a copy of examples/python), DRAFT_LS, DAEMON_URL, WORK (scratch),
//   PLAYWRIGHT (path of playwright-core), SCREENSHOTS (folder for the README's pictures),
//   CREATE_WITH ("action": the code action, the default; "palette": Draft: Create).
// Prints one JSON line with what it saw; exits non-zero on failure.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";

const env = process.env;
const require = createRequire(import.meta.url);
const { chromium } = require(env.PLAYWRIGHT);
const seen = {};

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const extensions = path.join(env.WORK, "extensions");
const userData = path.join(env.WORK, "user-data");
fs.mkdirSync(path.join(userData, "User"), { recursive: true });
fs.writeFileSync(
  path.join(userData, "User", "settings.json"),
  JSON.stringify({
    "draft.server.path": env.DRAFT_LS,
    "draft.daemonUrl": env.DAEMON_URL,
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": false,
    "files.autoSave": "off",
    "workbench.tips.enabled": false,
    "extensions.ignoreRecommendations": true,
    "telemetry.telemetryLevel": "off",
  }),
);
execFileSync(env.CODE_SERVER, ["--extensions-dir", extensions, "--user-data-dir", userData, "--install-extension", env.VSIX], { stdio: "pipe" });

const port = await freePort();
const server = spawn(env.CODE_SERVER, [
  "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check",
  "--extensions-dir", extensions, "--user-data-dir", userData, env.APP,
], { stdio: ["ignore", "pipe", "pipe"], env: { ...env, DRAFT_NO_AUTOSTART: "1" } });
let serverLog = "";
server.stdout.on("data", (d) => (serverLog += d));
server.stderr.on("data", (d) => (serverLog += d));

var browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  await waitFor(async () => {
    try { return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok; } catch { return false; }
  }, "code-server", 60_000);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(env.APP)}`);
  await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });

  // The extension activated: its status bar item is there.
  const draftItem = page.locator(".statusbar-item", { hasText: "Draft" }).first();
  await draftItem.waitFor({ timeout: 90_000 });
  seen.activated = true;

  // Open app.py, as a new user would, then create: the code action (Source Action…) or the
  // command palette's Draft: Create, as CREATE_WITH says.
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "app.py" }).first().dblclick();
  await page.locator(".tab.active", { hasText: "app.py" }).waitFor({ timeout: 30_000 });
  const line = () => page.locator(".editor-group-container.active .view-line", { hasText: "Hello World!" }).first();
  await line().waitFor({ timeout: 30_000 });
  await line().click();
  if (env.CREATE_WITH === "palette") {
    await page.keyboard.press("F1");
    await page.keyboard.type("Draft: Create");
    await page.waitForSelector(".quick-input-list .monaco-list-row", { timeout: 30_000 });
    seen.offered = await page.locator(".quick-input-list .monaco-list-row").allInnerTexts();
    await page.keyboard.press("Enter");
  } else {
    // Source actions are not in the light bulb; they are in Source Action… (and the context menu).
    const action = page.locator(".action-widget .monaco-list-row", { hasText: "Draft: create" }).first();
    await waitFor(async () => {
      await page.keyboard.press("F1");
      await page.keyboard.type("Source Action");
      await page.waitForSelector(".quick-input-list .monaco-list-row", { timeout: 30_000 });
      await page.keyboard.press("Enter");
      return action.waitFor({ timeout: 5_000 }).then(() => true, () => false);
    }, "the create code action (draft-ls may still be starting)", 60_000);
    seen.offered = await page.locator(".action-widget .monaco-list-row").allInnerTexts();
    await page.screenshot({ path: path.join(env.SCREENSHOTS, "vscode-create.png") });
    await action.click();
  }
  // The extension saves the files the edit made (no Save All), then draft-ls says what is next.
  await waitFor(() => fs.existsSync(path.join(env.APP, "draft.toml")) && fs.statSync(path.join(env.APP, "draft.toml")).size > 0,
    "draft.toml written", 60_000);
  const next = page.locator(".notification-list-item-message", { hasText: "save a file to deploy it" }).first();
  await next.waitFor({ timeout: 30_000 });
  seen.next = await next.innerText();
  const explorer = page.locator(".explorer-folders-view .monaco-list-row", { hasText: "draft.toml" });
  await explorer.first().waitFor({ timeout: 30_000 });
  seen.explorer = await page.locator(".explorer-folders-view .monaco-list-row").allInnerTexts();
  seen.dirtyTabs = await page.locator(".tab.dirty").allInnerTexts();
  seen.statusBeforeSave = await draftItem.innerText();

  // Edit app.py and save it: that one save deploys.
  await page.locator(".tab", { hasText: "app.py" }).first().click();
  await line().click();
  await page.keyboard.press("End");
  await page.keyboard.press("Shift+Home");
  await page.keyboard.type('return "Hello, VS Code!"');
  await page.locator(".editor-group-container.active .view-line", { hasText: "Hello, VS Code!" }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press("Control+S");

  const url = await waitFor(async () => {
    // The first deploy is that of the save of app.py (saving the created files deploys
    // nothing), so the first URL shown serves the new text.
    const text = await draftItem.innerText().catch(() => "");
    seen.lastStatus = text;
    const match = text.match(/http:\/\/127\.0\.0\.1:\d+/);
    return match ? match[0] : undefined;
  }, "the status bar to show the URL of the new text", 240_000);
  seen.url = url;
  seen.statusText = await draftItem.innerText();
  seen.served = await (await fetch(url)).text();
  await page.screenshot({ path: path.join(env.SCREENSHOTS, "vscode-ready.png") });

  seen.dockerfile = fs.readFileSync(path.join(env.APP, "Dockerfile"), "utf8");

  // The create stays undoable, saved and deployed: Undo in draft.toml takes it back (after the
  // code action, every file of the edit; after Draft: Create, which VS Code applies file by
  // file, draft.toml).
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "draft.toml" }).first().dblclick();
  await page.locator(".tab.active", { hasText: "draft.toml" }).waitFor({ timeout: 30_000 });
  await page.locator(".editor-group-container.active .view-line").first().click();
  await page.keyboard.press("Control+Z");
  const created = ["draft.toml", "Dockerfile", "chart/Chart.yaml"];
  const remaining = () => created.filter((f) => fs.existsSync(path.join(env.APP, f)));
  await waitFor(() => !remaining().includes("draft.toml"), "Undo to remove draft.toml", 30_000);
  await waitFor(() => remaining().length === 0, "Undo to remove every created file", 5_000).catch(() => {});
  seen.remainingAfterUndo = remaining();
  console.log(JSON.stringify(seen));
} catch (error) {
  for (const page of browser.contexts().flatMap((c) => c.pages())) {
    await page.screenshot({ path: path.join(env.WORK, "failure.png") }).catch(() => {});
    seen.notifications = await page.locator(".notification-list-item-message").allInnerTexts().catch(() => []);
  }
  console.log(JSON.stringify({ ...seen, error: String(error), serverLog: serverLog.slice(-3000) }));
  process.exitCode = 1;
} finally {
  await browser.close();
  server.kill();
}
