"""draft-ls: the language server adapting Draft's core to LSP."""
