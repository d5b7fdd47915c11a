-- :checkhealth draft
local M = {}

function M.check()
  local draft = require("draft")
  vim.health.start("draft-ls")
  local cmd = draft.server_cmd(vim.fn.getcwd())
  if not cmd then
    vim.health.error("draft-ls not found", { "pipx install draft, or set cmd in setup()" })
  else
    local version = vim.fn.system({ cmd[1], "--version" })
    if vim.v.shell_error == 0 then
      vim.health.ok(vim.trim(version) .. " (" .. cmd[1] .. ")")
    else
      vim.health.error(cmd[1] .. " --version failed: " .. vim.trim(version))
    end
  end

  vim.health.start("draftd")
  local url = (draft.config.settings.daemonUrl or os.getenv("DRAFT_DAEMON_URL") or "http://127.0.0.1:7878")
  local answer = vim.fn.system({ "curl", "-fsS", "--max-time", "2", url .. "/v1/health" })
  if vim.v.shell_error == 0 then
    vim.health.ok("draftd answers at " .. url .. ": " .. vim.trim(answer))
  else
    vim.health.warn("draftd does not answer at " .. url, { "draft up (or a save) starts one on this machine" })
  end

  vim.health.start("Docker")
  vim.fn.system({ "docker", "info", "--format", "{{.ServerVersion}}" })
  if vim.v.shell_error == 0 then
    vim.health.ok("the Docker engine answers")
  else
    vim.health.error("the Docker engine is not running", { "start it: sudo systemctl start docker" })
  end
end

return M
