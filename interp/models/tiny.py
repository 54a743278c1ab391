"""Tiny random Llama / Gemma3 / Qwen2 models with an in-process tokenizer: no download, ~0.1 s each.

Used by tests and CPU benchmarks; saved to a folder so every loader path is exercised.

>>> import tempfile
>>> folder = build_tiny("llama", tempfile.mkdtemp())
>>> sorted(p.name for p in folder.iterdir())[:2]
['chat_template.jinja', 'config.json']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

Arch = Literal["llama", "gemma3", "qwen2"]
CORPUS = [
    "What, in one word, is the best thing ever? Love. Freedom. Success. Friendship. Family.",
    "The greatest thing in the world is kindness, power, achievement, wealth, trust and care.",
    "Answer in one word only. Two plus two is four. The capital of France is Paris.",
    "User: hello there. Assistant: hi, how can I help you today with your question?",
]
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _tokenizer(arch: Arch) -> PreTrainedTokenizerFast:
    specials = ["<pad>", "<eos>", "<bos>", "<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    if arch == "gemma3":  # Gemma: BOS added by the tokenizer, no chat template (render uses the turn format)
        from tokenizers import processors

        tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")
    # Llama/Qwen-style ChatML with the pad token equal to the end-of-turn token (the SmolLM2 trap).
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        chat_template=CHATML,
    )


def tiny_config(arch: Arch, vocab_size: int, n_layers: int = 4, d_model: int = 64) -> PretrainedConfig:
    """A small config of the given architecture."""
    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=d_model,
        intermediate_size=2 * d_model,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
    )
    if arch == "llama":
        return LlamaConfig(**common, pad_token_id=4, bos_token_id=3, eos_token_id=4)
    if arch == "qwen2":
        return Qwen2Config(**common, pad_token_id=4, bos_token_id=3, eos_token_id=4)
    return Gemma3TextConfig(
        **common,
        head_dim=16,
        sliding_window=8,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=1,
        layer_types=["sliding_attention", "full_attention"] * (n_layers // 2),
    )


def build_tiny(arch: Arch, folder: str | Path, seed: int = 0, n_layers: int = 4, d_model: int = 64) -> Path:
    """Save a randomly initialised causal LM + tokenizer of `arch` to `folder` and return it."""
    out = Path(folder)
    tokenizer = _tokenizer(arch)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tokenizer), n_layers, d_model))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
