-- Draft for Neovim: starts draft-ls and renders what it says. Every decision lives in the
-- language server; this file only wires it to Neovim's built-in LSP client.
local M = {}

M.state = { phase = "idle", message = "", url = nil, app = nil, progress = nil }

local defaults = {
  cmd = nil, -- default: <root>/.venv/bin/draft-ls, else draft-ls on PATH
  settings = { deployOnSave = true, environment = nil, daemonUrl = nil },
  filetypes = {
    "toml", "yaml", "json", "python", "javascript", "typescript", "go", "java", "kotlin",
    "ruby", "php", "cs", "rust", "swift", "clojure", "erlang", "elixir", "dockerfile",
  },
  root_markers = {
    "draft.toml", "chart", "project.clj", "deps.edn", "mix.exs", "rebar.config", "go.mod",
    "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "pom.xml",
    "package.json", "composer.json", "requirements.txt", "pyproject.toml", "setup.py", "Pipfile",
    "Gemfile", "Cargo.toml", "Package.swift", ".git",
  },
}

M.config = vim.deepcopy(defaults)

--- The draft-ls to run: the configured one, the project's venv, or the one on PATH.
function M.server_cmd(root)
  if M.config.cmd then
    return M.config.cmd
  end
  for _, dir in ipairs({ root, vim.fn.getcwd() }) do
    if dir then
      local candidate = vim.fs.joinpath(dir, ".venv", "bin", "draft-ls")
      if vim.fn.executable(candidate) == 1 then
        return { candidate }
      end
    end
  end
  if vim.fn.executable("draft-ls") == 1 then
    return { "draft-ls" }
  end
  return nil
end

local function on_status(_, params)
  M.state.phase = params.phase
  M.state.message = params.message or ""
  M.state.app = params.app
  M.state.url = params.url or (params.phase == "ready" and M.state.url) or nil
  M.state.timings = params.timings
  vim.schedule(function()
    vim.cmd("redrawstatus")
    vim.api.nvim_exec_autocmds("User", { pattern = "DraftStatus", modeline = false, data = params })
  end)
end

local function request(client, method, params, callback)
  local send = vim.fn.has("nvim-0.11") == 1 and function(...)
    return client:request(...)
  end or function(...)
    return client.request(...)
  end
  send(method, params, callback, 0)
end

--- After a create (the code action's edit, or :DraftCreate): write the files the edit made,
--- which Neovim leaves in modified buffers (a deploy reads the disk; `u` in a buffer still
--- undoes its text), then let the server say the next step.
local function created(info, client)
  local folder = vim.uri_to_fname(info.folder)
  for _, file in ipairs(info.files or {}) do
    local buf = vim.uri_to_bufnr(vim.uri_from_fname(vim.fs.joinpath(folder, file)))
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].modified then
      vim.api.nvim_buf_call(buf, function()
        vim.cmd("silent noautocmd write")
      end)
    end
  end
  local params = { command = "draft.created", arguments = { info } }
  request(client, "workspace/executeCommand", params, function(err)
    if err then
      vim.notify("Draft: " .. (err.message or tostring(err)), vim.log.levels.ERROR)
    end
  end)
end

local function client_config(root)
  local cmd = M.server_cmd(root)
  if not cmd then
    vim.notify(
      "Draft: draft-ls was not found. Install Draft (pipx install draft) or set cmd in "
        .. 'require("draft").setup({ cmd = { "/path/to/draft-ls" } }).',
      vim.log.levels.ERROR
    )
    return nil
  end
  return {
    name = "draft",
    cmd = cmd,
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    init_options = { draft = M.config.settings },
    settings = { draft = M.config.settings },
    handlers = { ["draft/status"] = on_status },
    -- The create code action's command: Neovim runs it here, after applying the action's edit.
    commands = {
      ["draft.created"] = function(command, ctx)
        created(command.arguments[1], vim.lsp.get_client_by_id(ctx.client_id))
      end,
    },
  }
end

--- The Draft client attached to `bufnr` (default: the current buffer), or any Draft client.
function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = "draft", bufnr = bufnr or 0 })
  if #clients == 0 then
    clients = vim.lsp.get_clients({ name = "draft" })
  end
  return clients[1]
end

local function root_uri(client)
  local root = client and client.config.root_dir or vim.fn.getcwd()
  return vim.uri_from_fname(root)
end

--- Run one of the server's commands; `callback(result)` gets its answer.
function M.execute(command, arguments, callback)
  local client = M.client()
  if not client then
    vim.notify("Draft: the language server is not running for this buffer.", vim.log.levels.WARN)
    return
  end
  local params = { command = command, arguments = arguments or { root_uri(client) } }
  request(client, "workspace/executeCommand", params, function(err, result)
    if err then
      vim.notify("Draft: " .. (err.message or tostring(err)), vim.log.levels.ERROR)
      return
    end
    if callback then
      callback(result or {}, client)
    end
  end)
end

--- A statusline component: "Draft: building", "Draft: ready http://…", "Draft: failed".
--- With `{ timings = true }` a ready status says where the time went: "(sync 0.05 s, ready 0.11 s)".
function M.status(opts)
  local state = M.state
  if state.phase == "idle" then
    return ""
  end
  if state.phase == "ready" then
    local timings = opts and opts.timings and state.timings and (" (" .. state.timings .. ")") or ""
    return "Draft: ready " .. (state.url or "") .. timings
  end
  if state.phase == "failed" then
    return "Draft: failed"
  end
  return "Draft: " .. state.phase .. (state.progress and (" " .. state.progress .. "%") or "")
end

local function create()
  M.execute("draft.create", nil, function(result, client)
    if result.folder then
      created(result, client)
    end
  end)
end

local logs_timer = nil

local function logs()
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].filetype = "draftlog"
  vim.api.nvim_buf_set_name(buf, "draft://logs/" .. buf)
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
  local function refresh()
    if not vim.api.nvim_buf_is_valid(buf) then
      if logs_timer then
        logs_timer:stop()
        logs_timer = nil
      end
      return
    end
    M.execute("draft.logs", nil, function(result)
      if vim.api.nvim_buf_is_valid(buf) then
        vim.api.nvim_buf_set_lines(buf, 0, -1, false, result.lines or {})
      end
    end)
  end
  refresh()
  if logs_timer then
    logs_timer:stop()
  end
  logs_timer = vim.uv.new_timer()
  logs_timer:start(2000, 2000, vim.schedule_wrap(refresh))
end

local function commands()
  local command = vim.api.nvim_create_user_command
  command("DraftCreate", create, { desc = "Draft: write a Dockerfile, chart and draft.toml" })
  command("DraftUp", function()
    M.execute("draft.up")
  end, { desc = "Draft: build and deploy the app" })
  command("DraftLogs", logs, { desc = "Draft: the app's output, followed" })
  command("DraftConnect", function()
    M.execute("draft.connect", nil, function(result)
      vim.notify("Draft: " .. (result.url or "no URL"))
    end)
  end, { desc = "Draft: a URL that reaches the app" })
  command("DraftDelete", function()
    M.execute("draft.delete", nil, function(result)
      vim.notify(result.deleted and "Draft: deleted" or "Draft: nothing was deployed")
    end)
  end, { desc = "Draft: remove the deployed app" })
  command("DraftStatus", function()
    M.execute("draft.status", nil, function(result)
      vim.notify(("Draft: %s/%s on %s: %s %s"):format(
        result.app or "?", result.environment or "?", result.target or "?",
        result.state or "?", result.url or ""
      ))
    end)
  end, { desc = "Draft: where the app runs" })
  command("DraftToggleDeployOnSave", function()
    M.execute("draft.toggleDeployOnSave", {}, function(result)
      vim.notify("Draft: deploy on save " .. (result.deployOnSave and "on" or "off"))
    end)
  end, { desc = "Draft: switch deploy on save" })
end

local function progress_autocmd()
  vim.api.nvim_create_autocmd("LspProgress", {
    group = vim.api.nvim_create_augroup("draft-progress", { clear = true }),
    callback = function(event)
      local client = vim.lsp.get_client_by_id(event.data.client_id)
      if not client or client.name ~= "draft" then
        return
      end
      local value = event.data.params.value or {}
      M.state.progress = value.kind ~= "end" and value.percentage or nil
      vim.cmd("redrawstatus")
    end,
  })
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  commands()
  progress_autocmd()
  if vim.lsp.config and vim.lsp.enable then -- Neovim >= 0.11
    local config = client_config(nil)
    if config then
      vim.lsp.config("draft", config)
      vim.lsp.enable("draft")
    end
  else -- Neovim 0.10
    vim.api.nvim_create_autocmd("FileType", {
      group = vim.api.nvim_create_augroup("draft-start", { clear = true }),
      pattern = M.config.filetypes,
      callback = function(event)
        local root = vim.fs.root(event.buf, M.config.root_markers)
        local config = client_config(root)
        if config and root then
          config.root_dir = root
          vim.lsp.start(config, { bufnr = event.buf })
        end
      end,
    })
  end
end

return M
