"""Stage 4a, the local model: the mlx-vlm seam (`vlm`), the MLX engine that turns a page into
a prediction, the answer grammar, and a model's identity, location and prompt."""
