"""The `--server` options shared by `label`, `tui`, `eval` and `bench` (not a subcommand)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_server_arguments(parser: argparse.ArgumentParser, *, prompt_from: bool = True) -> None:
    """Options for labeling through OpenAI-compatible servers instead of the local model
    (`prompt_from=False` for a command that has its own `--prompt-from`)."""
    group = parser.add_argument_group(
        "servers", "label through OpenAI-compatible /v1/chat/completions servers (docs/scale.md)"
    )
    group.add_argument(
        "--server",
        action="append",
        metavar="URL",
        help="a server's base URL, e.g. http://gpu1:8000 (repeat to spread pages over several); "
        "API key from MLX_EDUGRAPH_API_KEY or OPENAI_API_KEY",
    )
    group.add_argument(
        "--model-name", help="the model to ask the servers for (default: the one they list)"
    )
    group.add_argument(
        "--system-prompt",
        choices=("auto", "send", "omit"),
        default="auto",
        help="send the EduGraph prompt as a system message: auto (only when a server shows a "
        "chat template without it, as llama-server does), send, or omit (default auto)",
    )
    if prompt_from:
        group.add_argument(
            "--prompt-from",
            type=Path,
            help="the system prompt to send: a model folder or .jinja chat template, or a text "
            "file (default: the EduGraph model's public prompt)",
        )
    group.add_argument(
        "--in-flight", type=int, default=2, help="requests in flight per server (default 2)"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds a server may stay silent before the request is retried (default 120)",
    )
    group.add_argument(
        "--retries", type=int, default=3, help="retries per page over all servers (default 3)"
    )


def remote_options(args: argparse.Namespace):
    """The parsed server options as `RemoteOptions`."""
    from mlx_edugraph.servers.pool import PoolSettings
    from mlx_edugraph.servers.server_engine import RemoteOptions

    settings = PoolSettings(
        per_server=max(1, args.in_flight),
        attempts=max(1, args.retries + 1),
        timeout_s=args.timeout,
    )
    return RemoteOptions(
        model_name=args.model_name, system_prompt=args.system_prompt, settings=settings
    )
