"""Python as a user's install of mlx-edugraph has it: without PyTorch.

Only the test extra brings torch (for the parity tests against transformers, which run inside
pytest). Where torch is importable, transformers imports it on every `import mlx_vlm`: about 5 s
of each command's start here instead of 1.5 s, and a setup no user has. The tests put this
folder on the PYTHONPATH of the processes they start (tests/conftest.py); `None` in
`sys.modules` makes `import torch` fail and `importlib.util.find_spec("torch")` answer None.
"""

import sys

for name in ("torch", "torchvision", "torchaudio"):
    sys.modules.setdefault(name, None)
