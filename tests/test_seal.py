"""Sealed messages (bot/seal.py): what a database reader sees of them is a token whose length
says nothing about what it holds."""

from __future__ import annotations

import pytest

from bot.seal import PADDED, SEALED, Sealer


def test_tokens_of_short_and_long_names_have_one_length() -> None:
    sealer = Sealer("secret-key-for-the-seal-test")
    names = ["Jo", "Anne-Marie van der Velde-Oosterbroek", "Ëlif Şahin", "x" * 3000]
    tokens = [sealer.seal({"text": f"Je nomineert {name}."})[SEALED] for name in names]
    assert len({len(t) for t in tokens}) == 1
    for name, token in zip(names, tokens, strict=True):
        assert sealer.open({SEALED: token}) == {"text": f"Je nomineert {name}."}


def test_a_body_over_the_padding_takes_the_next_multiple() -> None:
    sealer = Sealer("secret-key-for-the-seal-test")
    short = sealer.seal({"text": "kort"})[SEALED]
    long = sealer.seal({"text": "y" * PADDED})[SEALED]
    assert len(long) > len(short)
    assert sealer.open({SEALED: long}) == {"text": "y" * PADDED}


def test_a_token_of_another_key_is_refused_and_plain_payloads_pass() -> None:
    token = Sealer("one-key-of-the-seal-test").seal({"text": "geheim"})
    with pytest.raises(ValueError):
        Sealer("another-key-of-the-seal-test").open(token)
    assert Sealer("k").open({"text": "open"}) == {"text": "open"}
