"""Convert the EduGraph checkpoint from Hugging Face layout to MLX."""
