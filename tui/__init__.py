"""The review TUI (`mlx-edugraph tui`): a Textual app over the engine and the store."""
