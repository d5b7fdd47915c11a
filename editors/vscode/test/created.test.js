// What the client saves after a create: the files the server says the edit made.
const test = require("node:test");
const assert = require("node:assert/strict");
const { createdPaths, isCreated } = require("../out/unit/created.js");

test("the created files are the folder's files the server listed", () => {
  const created = { folder: "file:///home/me/my%20app", app: "tufted-lamb", pack: "python", files: ["Dockerfile", "chart/templates/service.yaml", "draft.toml"] };
  assert.ok(isCreated(created));
  assert.deepEqual(createdPaths(created), ["/home/me/my app/Dockerfile", "/home/me/my app/chart/templates/service.yaml", "/home/me/my app/draft.toml"]);
});

test("anything else is not a create's result (a failed command, another command's answer)", () => {
  assert.equal(isCreated(undefined), false);
  assert.equal(isCreated({ phase: "failed" }), false);
  assert.equal(isCreated({ folder: "file:///w", files: "draft.toml" }), false);
});
