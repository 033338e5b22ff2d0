"""The counting method: about 6 x active parameters x tokens processed, and its upper bound.

6 = 2 operations per parameter per token forward, 4 backward. The interval around it:

- low = 0.75 x 6ND: the parameter count includes embeddings, which cost no matrix multiply per
  token, and developers round token counts up;
- high = 1.5 x 6ND: attention over long contexts adds operations 6ND leaves out (about
  12 x layers x context x width per token: +5-30% at 4-32k context), plus unreported extra
  steps. Activation recomputation is not counted: it repeats work rather than training more.

Encoder-decoder models send each token through one stack only: with per-stack tokens the count is
6 x (N_enc x D_enc + N_dec x D_dec); with only totals it is 0.5 x 6ND, interval 0.25-1.5 x 6ND
(both stacks' tokens unknown in proportion).

Upper bound with unknown tokens: 6 x active parameters x the ruleset's largest plausible token
count (the whole lineage's tokens: a fine-tune shares its base's parameter count). Its high end
alone is known; it settles models too small to reach the threshold on any plausible data.
"""

from __future__ import annotations

from gate.compute.estimate import BOUND, Estimate
from gate.errors import InputError

LOW_FACTOR = 0.75
HIGH_FACTOR = 1.5
ENC_DEC_FACTOR = 0.5
ENC_DEC_LOW = 0.25


def _check(value: float, field: str) -> float:
    if value < 0:
        raise InputError(field, f"must not be negative, got {value:g}")
    return value


def counting_estimate(active_parameters: float, tokens: float, *, source: str = "") -> Estimate:
    """Dense (or MoE with active parameters): 6 x N x D with the documented interval."""
    n = _check(active_parameters, "parameters")
    d = _check(tokens, "tokens")
    central = 6.0 * n * d
    return Estimate(
        "counting",
        LOW_FACTOR * central,
        central,
        HIGH_FACTOR * central,
        f"6 x {n:.3g} active parameters x {d:.3g} tokens{source}",
        {"active_parameters": n, "tokens": d},
    )


def encoder_decoder_estimate(
    total_parameters: float,
    tokens: float | None = None,
    *,
    encoder_parameters: float | None = None,
    decoder_parameters: float | None = None,
    encoder_tokens: float | None = None,
    decoder_tokens: float | None = None,
) -> Estimate:
    """Encoder-decoder counting: per stack when per-stack tokens are known, else 0.5 x 6ND."""
    if (
        encoder_parameters is not None
        and decoder_parameters is not None
        and encoder_tokens is not None
        and decoder_tokens is not None
    ):
        central = 6.0 * (
            _check(encoder_parameters, "encoder_parameters")
            * _check(encoder_tokens, "encoder_tokens")
            + _check(decoder_parameters, "decoder_parameters")
            * _check(decoder_tokens, "decoder_tokens")
        )
        return Estimate(
            "counting",
            LOW_FACTOR * central,
            central,
            HIGH_FACTOR * central,
            f"encoder-decoder: 6 x ({encoder_parameters:.3g} x {encoder_tokens:.3g} + "
            f"{decoder_parameters:.3g} x {decoder_tokens:.3g})",
            {
                "encoder_parameters": encoder_parameters,
                "decoder_parameters": decoder_parameters,
                "encoder_tokens": encoder_tokens,
                "decoder_tokens": decoder_tokens,
            },
        )
    if tokens is None:
        raise InputError("tokens", "encoder-decoder counting needs total or per-stack tokens")
    full = 6.0 * _check(total_parameters, "parameters") * _check(tokens, "tokens")
    return Estimate(
        "counting",
        ENC_DEC_LOW * full,
        ENC_DEC_FACTOR * full,
        HIGH_FACTOR * full,
        f"encoder-decoder: 0.5 x 6 x {total_parameters:.3g} parameters x {tokens:.3g} tokens",
        {"parameters": total_parameters, "tokens": tokens, "encoder_decoder": True},
    )


def upper_bound(active_parameters: float, max_plausible_tokens: float, note: str = "") -> Estimate:
    """6 x N x the largest plausible token count: a high end only."""
    n = _check(active_parameters, "parameters")
    high = 6.0 * n * max_plausible_tokens
    why = f"; {note}" if note else ""
    return Estimate(
        BOUND,
        None,
        None,
        high,
        f"6 x {n:.3g} active parameters x {max_plausible_tokens:.3g} tokens "
        f"(largest plausible token count{why})",
        {"active_parameters": n, "max_plausible_tokens": max_plausible_tokens},
    )
