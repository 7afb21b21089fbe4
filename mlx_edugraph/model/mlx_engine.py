"""The local labeling engine: load the model once, turn worksheet images into predictions.

No UI code here: the CLI and the TUI both call it. MLX streams are per thread, so the
thread that creates an `MlxEngine` must be the one that calls `label`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlx_edugraph.labels.answer import DEFAULT_MAX_TOKENS, answer_end, page_prediction
from mlx_edugraph.labels.confidence import token_offsets
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.model import vlm
from mlx_edugraph.model.choice import ModelChoice
from mlx_edugraph.model.grammar import Grammar
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS, LoadedWorksheet, WorksheetRef, load
from mlx_edugraph.prediction import Prediction, Provenance, Timings
from mlx_edugraph.stopping import StopCheck, Stopped

EMBED_DEPTH = 0
"""Where the page vector comes from: the hidden states entering the language model's first
layer, at the image tokens (the vision tower's output placed in the prompt). The prefill
computes them anyway. Of the depths measured on two builds of the taught tiny model, only this
one kept every copy of a page above every page of another kind in both (docs/similar.md)."""


@dataclass
class Generation:
    """The raw result of decoding one worksheet."""

    text: str
    tokens: list[int]
    logprobs: list[float]
    truncated: bool
    timings: Timings
    embedding: np.ndarray | None = None


class MlxEngine:
    """The local model, loaded once, labeling worksheet pages (the `Engine` protocol)."""

    in_flight = 0
    """`label` runs on the thread that made the engine: MLX streams are per thread."""

    def __init__(
        self,
        choice: ModelChoice,
        *,
        ontology: Ontology | None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        reuse_prefix: bool = True,
        constrain: bool = True,
        fast_forward: bool = True,
        answer_tokens: int | None = None,
        embed: bool = True,
        stop: StopCheck | None = None,
    ):
        if choice.path is None:
            raise ValueError("MlxEngine runs a local model, not servers")
        started = time.perf_counter()
        self.vlm = vlm.load(choice.path, choice.adapter)
        self.load_s = time.perf_counter() - started
        self.ontology = ontology
        self.max_pixels = max_pixels
        self.max_tokens = max_tokens
        # Asked before each forward pass: a page stopped half-way raises `Stopped`, unsaved.
        self.stop = stop
        # The shared prompt prefix's KV cache, built with the first worksheet.
        self.reuse_prefix = reuse_prefix
        self._prefix: vlm.Prefix | None = None
        if answer_tokens is not None and constrain:
            raise ValueError("answer_tokens (a fixed answer length) needs constrain=False")
        self.answer_tokens = answer_tokens
        # Tokens the grammar forces go to the model in one pass (same text, fewer passes).
        self.fast_forward = fast_forward
        self.grammar = (
            Grammar(self.vlm.tokenizer, vlm.vocab_size(self.vlm), ontology) if constrain else None
        )
        self._stop_ids = self.vlm.stop_token_ids
        self.embed_depth = EMBED_DEPTH if embed else None
        prompt = choice.prompt
        if prompt is None:
            self.prompt = vlm.render_prompt(self.vlm)
            template_hash = hashlib.sha256(vlm.chat_template(self.vlm).encode()).hexdigest()
            prompt_version = f"template-{template_hash[:12]}"
        else:
            # A supplied prompt (a base model's evaluation) makes another labeler: its results
            # are kept apart from the model's own in the store (the choice's fingerprint).
            self.prompt = vlm.render_prompt(
                self.vlm, template=prompt.template, system=prompt.system
            )
            prompt_version = choice.prompt_version
        self.provenance = Provenance(
            model=choice.path,
            model_fingerprint=choice.fingerprint,
            model_version=choice.version,
            ontology_version=ontology.version if ontology else "unverified",
            prompt_version=prompt_version,
        )

    def generate(self, sheet: LoadedWorksheet) -> Generation:
        """Greedy-decode one worksheet, stopping at end of turn or the answer's closing brace.

        With `answer_tokens` set it decodes exactly that many tokens instead (benchmarks of
        random-weight models, whose answers would otherwise end anywhere).
        """
        started = time.perf_counter()
        vlm.reset_peak_memory()
        encoded = vlm.encode(self.vlm, self.prompt, sheet.image)
        constraint = (
            self.grammar.state(vlm.apply_token_mask, fast_forward=self.fast_forward)
            if self.grammar
            else None
        )
        forward_started = time.perf_counter()
        prefix = self._prefix_for(encoded)
        fixed = self.answer_tokens is not None
        states = [] if self.embed_depth is None else [vlm.ImageStates(self.embed_depth)]
        steps = vlm.generate(
            self.vlm,
            encoded,
            max_tokens=self.answer_tokens if fixed else self.max_tokens,
            prefix=prefix,
            constraint=constraint,
            states=states,
        )
        tokens: list[int] = []
        logprobs: list[float] = []
        times: list[float] = []
        passes = 0
        truncated = True
        text = ""
        forward_s = time.perf_counter() - forward_started
        while True:
            if self.stop is not None and self.stop():
                steps.close()  # the model's layers as they were, before the stop goes up
                raise Stopped
            waited = time.perf_counter()
            step = next(steps, None)
            forward_s += time.perf_counter() - waited
            if step is None:
                break
            times.append(step.at)
            passes += not step.forced
            if step.token in self._stop_ids and not fixed:
                truncated = False
                break
            tokens.append(step.token)
            logprobs.append(step.logprob)
            text = vlm.decode(self.vlm, tokens)
            if answer_end(text) is not None and not fixed:
                truncated = False
                break
        steps.close()
        if constraint is not None:
            forward_s -= constraint.host_s  # llguidance's mask work is ours, not the model's
        finished = time.perf_counter()
        decode_s = times[-1] - times[0] if len(times) > 1 else 0.0
        timings = Timings(
            prompt_tokens=encoded.prompt_tokens,
            visual_tokens=vlm.visual_tokens(self.vlm, encoded),
            prefill_s=(times[0] - started) if times else finished - started,
            generated_tokens=len(times),
            decode_passes=max(passes - 1, 0),
            decode_tps=(len(times) - 1) / decode_s if decode_s > 0 else 0.0,
            total_s=finished - started,
            peak_memory_gb=vlm.peak_memory_gb(),
            forward_s=forward_s,
        )
        embedding = pooled(states[0]) if states and states[0].rows is not None else None
        return Generation(text, tokens, logprobs, truncated, timings, embedding)

    def _prefix_for(self, encoded: vlm.Encoded) -> vlm.Prefix | None:
        if self.reuse_prefix and self._prefix is None:
            self._prefix = vlm.build_prefix(self.vlm, encoded)
            self.reuse_prefix = self._prefix is not None
        return self._prefix if self._prefix and self._prefix.fits(encoded) else None

    def embed(self, sheet: LoadedWorksheet) -> np.ndarray:
        """The page's vector alone: the prefill that labeling runs, without decoding (pages
        labeled through servers, images `similar` is asked about)."""
        if self.embed_depth is None:
            raise ValueError("this engine was made with embed=False")
        return pooled(self.image_states(sheet, [self.embed_depth])[0])

    def image_states(self, sheet: LoadedWorksheet, depths: list[int]) -> list[vlm.ImageStates]:
        """The image tokens' hidden states at several depths from one prefill (measurements)."""
        encoded = vlm.encode(self.vlm, self.prompt, sheet.image)
        states = [vlm.ImageStates(depth) for depth in depths]
        steps = vlm.generate(
            self.vlm, encoded, max_tokens=0, prefix=self._prefix_for(encoded), states=states
        )
        for _ in steps:
            pass
        return states

    @property
    def prefix_tokens(self) -> int:
        """Prompt tokens each page takes from the cached prefix (0 before the first page)."""
        return len(self._prefix.tokens) if self._prefix else 0

    def label_file(self, path: str | Path, page: int = 0) -> Prediction:
        """Load one image file (or PDF page, 1-based) under the resolution cap and label it."""
        return self.label(load(WorksheetRef(Path(path), page), max_pixels=self.max_pixels))

    def label(self, sheet: LoadedWorksheet) -> Prediction:
        """Label one loaded worksheet page (with its vector, unless made with embed=False)."""
        generation = self.generate(sheet)
        ends = token_offsets(generation.tokens, lambda ids: vlm.decode(self.vlm, ids))
        prediction = page_prediction(
            sheet,
            generation.text,
            truncated=generation.truncated,
            ontology=self.ontology,
            token_ends=ends,
            logprobs=generation.logprobs,
            timings=generation.timings,
            provenance=self.provenance,
        )
        prediction.embedding = generation.embedding
        return prediction


def pooled(states: vlm.ImageStates) -> np.ndarray:
    """The mean of the image tokens' hidden states scaled to length 1, in float16 (what the
    store keeps): similarity is cosine, so the length carries nothing, and stored unit rows
    spare the index a pass over every vector when it loads."""
    mean = states.rows.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm else mean).astype(np.float16)
