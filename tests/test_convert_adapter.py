"""`--adapter`: a PEFT LoRA adapter merged before quantizing equals base + (alpha / r) B A."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from mlx_edugraph.convert.converter import convert
from mlx_edugraph.convert.errors import ConvertError

TARGETS = ("self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj")
RANK, ALPHA = 4, 8.0


def write_adapter(
    folder: Path, checkpoint: Path, *, use_rslora: bool = False, bad: str | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A PEFT adapter folder for the language model's `TARGETS`; returns (A, B) by module.

    `bad` names a module whose lora_A gets one input column too many.
    """
    base = load_file(checkpoint / "model.safetensors")
    rng = np.random.default_rng(0)
    tensors, factors = {}, {}
    layers = json.loads((checkpoint / "config.json").read_text())["text_config"][
        "num_hidden_layers"
    ]
    for layer in range(layers):
        for target in TARGETS:
            module = f"model.language_model.layers.{layer}.{target}"
            out_dims, in_dims = base[f"{module}.weight"].shape
            in_dims += module == bad
            a = rng.normal(0, 0.2, (RANK, in_dims)).astype(np.float32)
            b = rng.normal(0, 0.2, (out_dims, RANK)).astype(np.float32)
            tensors[f"base_model.model.{module}.lora_A.weight"] = a
            tensors[f"base_model.model.{module}.lora_B.weight"] = b
            factors[module] = (a, b)
    folder.mkdir(parents=True)
    save_file(tensors, folder / "adapter_model.safetensors", metadata={"format": "pt"})
    (folder / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "r": RANK,
                "lora_alpha": ALPHA,
                "use_rslora": use_rslora,
                "target_modules": [t.split(".")[1] for t in TARGETS],
                "lora_dropout": 0.0,
                "bias": "none",
                "task_type": "CAUSAL_LM",
            }
        )
    )
    return factors


def mlx_name(module: str) -> str:
    return module.replace("model.language_model.", "language_model.model.") + ".weight"


@pytest.mark.parametrize("use_rslora", [False, True])
def test_merged_weights_are_base_plus_scaled_b_a(
    tiny_checkpoint: Path,
    tmp_path: Path,
    use_rslora: bool,
) -> None:
    factors = write_adapter(tmp_path / "adapter", tiny_checkpoint, use_rslora=use_rslora)
    result = convert(
        str(tiny_checkpoint),
        tmp_path / "out",
        quantize=False,
        dtype="float32",
        adapter=tmp_path / "adapter",
        verify=False,
    )
    base = load_file(tiny_checkpoint / "model.safetensors")
    merged = load_file(result.out / "model.safetensors")
    scale = ALPHA / (math.sqrt(RANK) if use_rslora else RANK)
    for module, (a, b) in factors.items():
        expected = base[f"{module}.weight"].astype(np.float64) + scale * (b @ a)
        np.testing.assert_allclose(merged[mlx_name(module)], expected, rtol=0, atol=1e-6)
        assert np.abs(merged[mlx_name(module)] - base[f"{module}.weight"]).max() > 0.1
    untouched = "model.language_model.layers.0.self_attn.k_proj"
    np.testing.assert_array_equal(merged[mlx_name(untouched)], base[f"{untouched}.weight"])


def test_quantized_with_adapter_verifies_against_the_merged_model(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    write_adapter(tmp_path / "adapter", tiny_checkpoint)
    result = convert(str(tiny_checkpoint), tmp_path / "out", adapter=tmp_path / "adapter")
    # Against the unmerged checkpoint this measures agreement 0% and KL ~0.023 nats; the
    # random model's near-uniform distributions make top-1 fragile, KL is the sharper check.
    check = result.verification
    assert check is not None and check.mean_kl < 0.005 and check.top1_agreement >= 0.5
    record = json.loads((result.out / "mlx_edugraph.json").read_text())
    assert record["adapter"]["r"] == RANK and record["adapter"]["modules"] == 3 * 2
    assert len(record["adapter"]["sha256"]) == 64


def test_mismatched_adapter_is_refused_naming_the_tensor(
    tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:
    module = "model.language_model.layers.1.mlp.down_proj"
    write_adapter(tmp_path / "adapter", tiny_checkpoint, bad=module)
    with pytest.raises(ConvertError) as error:
        convert(str(tiny_checkpoint), tmp_path / "out", adapter=tmp_path / "adapter")
    assert f"base_model.model.{module}.lora_A.weight" in str(error.value)
    assert f"base weight {module}.weight" in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("config", "extra", "message"),
    [
        ({"use_dora": True}, {}, "DoRA adapters are not supported"),
        ({"peft_type": "IA3"}, {}, "is a IA3 adapter"),
        (
            {},
            {"base_model.model.lm_head.weight": np.zeros((2, 2), np.float32)},
            "tensor base_model.model.lm_head.weight is not a LoRA factor",
        ),
        ({"r": 8}, {}, "has rank 4, adapter_config.json says r=8"),
    ],
)
def test_unsupported_adapters_are_refused(
    tiny_checkpoint: Path,
    tmp_path: Path,
    config: dict,
    extra: dict,
    message: str,
) -> None:
    folder = tmp_path / "adapter"
    write_adapter(folder, tiny_checkpoint)
    if extra:
        save_file(
            {**load_file(folder / "adapter_model.safetensors"), **extra},
            folder / "adapter_model.safetensors",
        )
    settings = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**settings, **config}))
    with pytest.raises(ConvertError, match=message):
        convert(str(tiny_checkpoint), tmp_path / "out", adapter=folder)


def test_adapter_for_a_module_the_model_lacks(
    tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "adapter"
    write_adapter(folder, tiny_checkpoint)
    tensors = {
        key.replace("layers.1.", "layers.7."): value
        for key, value in load_file(folder / "adapter_model.safetensors").items()
    }
    save_file(tensors, folder / "adapter_model.safetensors")
    with pytest.raises(
        ConvertError,
        match="targets model.language_model.layers.7.mlp.down_proj,"
        " which is not a linear layer of this checkpoint",
    ):
        convert(str(tiny_checkpoint), tmp_path / "out", adapter=folder)
