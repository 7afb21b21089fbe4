"""Learning from reviews: training examples from reviewed pages, LoRA training, held-out proof,
and the model versions that result."""
