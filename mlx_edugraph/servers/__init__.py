"""Stage 4b, the same labeling seam over OpenAI-compatible servers: requests, the response
schema, the system prompt, retries and take-out. No MLX here."""
