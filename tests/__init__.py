"""mlx-edugraph's tests."""
