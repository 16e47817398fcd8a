"""Deterministic random streams: one independent generator per (seed, purpose, part).

Every draw in the world comes from `stream(seed, purpose, *parts)`, so the same seed and size give
the same world no matter in which order chunks are generated, and `advance` day N draws the same
numbers whatever happened in other processes.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np


def _words(text: str) -> list[int]:
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def stream(seed: int, purpose: str, *parts: int) -> np.random.Generator:
    entropy = [int(seed) & 0xFFFFFFFF, *_words(purpose), *(int(p) & 0xFFFFFFFF for p in parts)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def token_hex(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """n random lowercase hex strings of `width` characters."""
    values = rng.integers(0, 16, size=(n, width))
    alphabet = np.array(list("0123456789abcdef"))
    chars = alphabet[values]
    return np.array(["".join(row) for row in chars]) if n else np.array([], dtype=str)


_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


@lru_cache(maxsize=4096)
def _salt(seed: int, purpose: str, k: int) -> np.uint64:
    digest = hashlib.sha256(f"{int(seed)}/{purpose}/{int(k)}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def hash_uniform(seed: int, purpose: str, ids: np.ndarray, k: int = 0) -> np.ndarray:
    """Uniforms in (0, 1) keyed by (seed, purpose, k, id): independent of order and batch size.

    Per-item draws (did this mail get opened?) use this rather than a stream, so the outcome of an
    item never depends on which other items were drawn in the same batch.
    """
    x = np.asarray(ids).astype(np.uint64) ^ _salt(seed, purpose, k)
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def hash_uniforms(seed: int, purpose: str, ids: np.ndarray, k: int) -> np.ndarray:
    """k independent uniforms per id, shape (k, n): the same values as hash_uniform(..., j) for j < k."""
    ids = np.asarray(ids).astype(np.uint64)
    salts = np.array([_salt(seed, purpose, j) for j in range(k)], dtype=np.uint64)
    x = salts[:, None] ^ ids[None, :]
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)
