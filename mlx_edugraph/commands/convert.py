"""`mlx-edugraph convert`: the merged EduGraph checkpoint to a verified 4-bit MLX model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlx_edugraph.convert.quantization import BITS, DTYPES, GROUP_SIZES, RECIPES
from mlx_edugraph.errors import ExitCode, UserError
from mlx_edugraph.model.location import SOURCE_REPO


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        nargs="?",
        default=SOURCE_REPO,
        help=f"Hugging Face repo id or local folder of a merged Qwen3-VL "
        f"checkpoint (default {SOURCE_REPO})",
    )
    parser.add_argument("--revision", help="branch, tag or commit of the repository")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default: the user data folder, where `label` and `tui` look)",
    )
    parser.add_argument(
        "--bits", type=int, choices=BITS, help="bits per quantized weight (default 4)"
    )
    parser.add_argument(
        "--group-size",
        type=int,
        choices=GROUP_SIZES,
        help="weights sharing one scale and bias (default 64)",
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        help="mlx-vlm mixed-bit recipe, e.g. mixed_3_6: 3 bits, 6 for sensitive "
        "layers (instead of --bits/--group-size)",
    )
    parser.add_argument(
        "--dtype", choices=DTYPES, help="dtype of the unquantized parts (default: the checkpoint's)"
    )
    parser.add_argument(
        "--no-quantize",
        dest="quantize",
        action="store_false",
        help="convert without quantizing (all weights in --dtype)",
    )
    parser.add_argument(
        "--quantize-vision",
        action="store_true",
        help="quantize the vision tower too (by default it keeps --dtype)",
    )
    parser.add_argument(
        "--awq",
        action="store_true",
        help="activation-aware scaling before quantizing, calibrated on "
        "worksheets (generated ones unless --calibration)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="DIR",
        help="folder of real worksheet images or PDFs for --awq",
    )
    parser.add_argument(
        "--adapter",
        type=Path,
        metavar="DIR",
        help="PEFT LoRA adapter to merge into the model before quantizing",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output folder (only once the new one is done)",
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip comparing the converted model with the unquantized one",
    )


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.convert.converter import convert
    from mlx_edugraph.convert.errors import ConvertError

    options = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        result = convert(**options)
    except ConvertError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        print("\ninterrupted: no model was written; the destination is as it was", file=sys.stderr)
        return ExitCode.INTERRUPTED
    print("\n".join(result.lines()))
    _cache_ontology()
    return ExitCode.OK


def _cache_ontology() -> None:
    """Fetch the pinned ontology release into the cache while online, so that `label`, `tui`
    and `eval` check labels without the network from now on; a failure only warns."""
    from mlx_edugraph.labels.ontology_source import resolve_ontology

    resolution = resolve_ontology()
    if resolution.ontology is None:
        print(f"warning: {resolution.warning}", file=sys.stderr)
    else:
        print(f"ontology:       {resolution.ontology.version} ({resolution.source})")
