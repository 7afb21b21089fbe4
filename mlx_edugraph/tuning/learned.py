"""When `tune` stops: once the training answers are learned, or at the cap on steps.

Learned means one whole pass over the training pages in which the model, fed each page's
prompt and the reviewed answer so far, put the reviewed next token first at every position of
every answer among the tokens the answer grammar allows there (teacher-forced token accuracy
1.0 under the grammar: constrained greedy decoding, as `label` runs it, then writes the
answers exactly as reviewed), with each page's answer loss under the grammar below
`LOSS_LEVEL` so the margin is not a hair's breadth. Under the grammar, because that is how the
answers are written: a word the grammar forces (the rest of a term once its first tokens name
it) cannot come out wrong, however unlikely the bare model finds it. The held-out pages play
no part: they stay the proof.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOSS_LEVEL = 0.1
"""Mean cross-entropy per answer token (nats) a learned page must be under: the reviewed token
has about 90% of the probability on average."""


@dataclass
class UntilLearned:
    """Hears each step's metrics; says when a whole pass has been learned.

    `steps_per_pass` steps from the start of this process's training make one pass: mlx-vlm's
    trainer draws a fresh permutation of the pages for each pass from where it started (a
    resumed run starts its own passes).
    """

    steps_per_pass: int
    unlearned: int | None = None
    """Steps of the last whole pass whose pages were not learned (None before one ended)."""
    _seen: int = 0
    _pass: list[bool] = field(default_factory=list)

    def learned(self, info: dict) -> bool:
        """True when the step just reported ends a pass in which every page was learned."""
        self._seen += 1
        accuracy = info.get("train_grammar_token_accuracy", info["train_token_accuracy"])
        loss = info.get("train_grammar_loss", info["train_loss"])
        self._pass.append(accuracy >= 1.0 and loss < LOSS_LEVEL)
        if self._seen % self.steps_per_pass:
            return False
        self.unlearned, self._pass = self._pass.count(False), []
        return self.unlearned == 0

    def refusal(self, cap: int) -> str:
        """Why a run that reached the cap unlearned is not used: the proof's reason."""
        return (
            f"the training answers were not learned by step {cap}, the cap ({self.unlearned} "
            f"of {self.steps_per_pass} training "
            "step(s) of the last pass still came out otherwise): where reviews of alike pages "
            "disagree, settle them; else allow more with --epochs or --steps"
        )


def rule_text(steps_per_pass: int, cap: int) -> str:
    """The stopping rule and the cap, as `tune` prints them."""
    return (
        f"training stops when a whole pass ({steps_per_pass} step(s)) reproduces every training "
        f"answer token for token (loss under {LOSS_LEVEL} per token), or at step {cap} at most"
    )
