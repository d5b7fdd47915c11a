-- Draft registers nothing until require("draft").setup() is called.
if vim.g.loaded_draft then
  return
end
vim.g.loaded_draft = true
