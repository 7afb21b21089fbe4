"""mlx-edugraph: label K-4 math worksheets with EduGraph competence terms, on-device with MLX."""

__version__ = "0.1.0"
