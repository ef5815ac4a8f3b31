"""Tokens, their lookup digest, secrets at rest, passwords, and sids."""

from __future__ import annotations

import os
import re
import uuid

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from message_exchange.core.crypto import (
    SecretBox,
    digests_match,
    generate_token,
    hash_password,
    mask,
    token_digest,
    verify_password,
)
from message_exchange.core.sids import is_sid, new_sid, random_bytes

# --- tokens ----------------------------------------------------------------------------


def test_tokens_are_32_hex_digits_128_bits() -> None:
    token = generate_token()
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert len(bytes.fromhex(token)) * 8 == 128


def test_tokens_are_unique_and_use_every_bit() -> None:
    tokens = {generate_token() for _ in range(2000)}
    assert len(tokens) == 2000
    # Every hex position takes many values: no fixed bits (a uuid4 would fix six).
    for position in range(32):
        assert len({token[position] for token in tokens}) == 16


def test_digest_matches_only_its_token() -> None:
    token = generate_token()
    digest = token_digest(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != token
    assert digests_match(token, digest)
    assert not digests_match(generate_token(), digest)
    assert not digests_match(token.upper(), digest)
    assert not digests_match(token[:-1], digest)
    assert not digests_match("", digest)


@given(st.text(), st.text())
def test_digest_check_never_raises(token: str, digest: str) -> None:
    assert digests_match(token, digest) is (token_digest(token) == digest)


# --- secrets at rest -------------------------------------------------------------------

KEY = Fernet.generate_key()


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_secret_box_round_trip(secret: str) -> None:
    box = SecretBox(KEY)
    assert box.decrypt(box.encrypt(secret)) == secret


def test_ciphertext_does_not_contain_the_secret() -> None:
    secret = generate_token()
    assert secret not in SecretBox(KEY).encrypt(secret)


def test_encryption_is_randomised() -> None:
    box = SecretBox(KEY)
    assert box.encrypt("same") != box.encrypt("same")


def test_wrong_key_is_value_error_not_a_leak() -> None:
    sealed = SecretBox(KEY).encrypt("auth-token-value")
    with pytest.raises(ValueError, match="MX_SECRET_KEY") as caught:
        SecretBox(Fernet.generate_key()).decrypt(sealed)
    assert "auth-token-value" not in str(caught.value)


@pytest.mark.parametrize("ciphertext", ["", "not a token", "gAAAAA" + "x" * 80, "\udcff"])
def test_garbage_ciphertext_is_value_error(ciphertext: str) -> None:
    with pytest.raises(ValueError):
        SecretBox(KEY).decrypt(ciphertext)


def test_bad_key_is_refused() -> None:
    with pytest.raises(ValueError):
        SecretBox(b"too short")


# --- masking ---------------------------------------------------------------------------


def test_mask_shows_the_last_four_of_a_token() -> None:
    token = "0123456789abcdef0123456789abcdef"
    assert mask(token) == "*" * 28 + "cdef"


@pytest.mark.parametrize("secret", ["a", "ab", "abcd", "abcdefg"])
def test_mask_never_reveals_a_short_secret_whole(secret: str) -> None:
    masked = mask(secret)
    assert masked.startswith("****")
    revealed = masked.lstrip("*")
    assert len(revealed) <= len(secret) // 4


def test_mask_with_nothing_visible() -> None:
    assert mask("supersecret", visible=0) == "*" * len("supersecret")


def test_mask_of_nothing_is_nothing() -> None:
    assert mask("") == ""


@given(st.text(min_size=1), st.integers(0, 8))
def test_mask_is_stars_then_at_most_a_quarter_of_the_secret(secret: str, visible: int) -> None:
    masked = mask(secret, visible)
    limit = min(visible, len(secret) // 4)
    assert any(
        len(masked) - shown >= 4 and masked == "*" * (len(masked) - shown) + secret[len(secret) - shown :]
        for shown in range(limit + 1)
    ), masked


# --- passwords -------------------------------------------------------------------------


async def test_password_hash_is_salted_and_verifies_only_the_password() -> None:
    hashed, again = await hash_password("correct horse"), await hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert hashed != again
    assert await verify_password("correct horse", hashed)
    assert not await verify_password("correct horse ", hashed)


@pytest.mark.parametrize("stored", ["", "plaintext", "$argon2id$v=19$garbage"])
async def test_malformed_stored_hash_does_not_verify(stored: str) -> None:
    assert not await verify_password("plaintext", stored)


# --- sids ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["AC", "SM", "PN", "WEM", "EN", "BE", "MS"])
def test_new_sids_have_the_prefix_and_32_lowercase_hex(prefix: str) -> None:
    sid = new_sid(prefix)
    assert re.fullmatch(rf"{prefix}[0-9a-f]{{32}}", sid)
    assert is_sid(sid, prefix)
    assert new_sid(prefix) != sid
    as_uuid = uuid.UUID(sid[len(prefix) :])
    assert as_uuid.version == 4 and as_uuid.variant == uuid.RFC_4122


def test_sids_drawn_from_the_pool_do_not_repeat_across_refills_or_a_fork() -> None:
    sids = {new_sid("SM") for _ in range(10_000)}  # more than two reads of the pool
    assert len(sids) == 10_000
    random_bytes(16)  # the pool holds unread bytes now
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its first bytes must not be the parent's next ones
        os.write(writer, random_bytes(16))
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 16)
    os.close(reader)
    assert len(from_child) == 16 and from_child != random_bytes(16)


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("AC" + "0" * 31, "AC"),
        ("AC" + "0" * 33, "AC"),
        ("AC" + "A" * 32, "AC"),  # uppercase hex
        ("SM" + "0" * 32, "AC"),
        ("ac" + "0" * 32, "ac"),
        ("AC" + "0" * 32 + "\n", "AC"),
        ("AC" + "g" * 32, "AC"),
        ("", "AC"),
    ],
)
def test_is_sid_rejects(value: str, prefix: str) -> None:
    assert not is_sid(value, prefix)
