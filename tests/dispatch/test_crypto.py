"""NaCl box wire compatibility with tweetnacl, checked against vectors made by tweetnacl itself."""

from __future__ import annotations

import base64

import pytest

from ats.dispatch.crypto import (
    CryptoError,
    KeyPair,
    fingerprint,
    generate_keypair,
    public_from_secret,
    seal,
    unseal,
)
from ats.errors import InvalidInput

# Printed by tests/dispatch/vectors/make_vectors.js running on tweetnacl 1.0.3 (Node 20):
# Alice's secret key is bytes 1..32, Bob's 33..64, the nonce bytes 100..123.
ALICE = KeyPair(
    public="B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
    secret="AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
)
BOB = KeyPair(
    public="WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=",
    secret="ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=",
)
ALICE_FP = "7d786321554dfcfa"
BOB_FP = "a053d7655733492b"
NONCE = bytes(range(100, 124))
NONCE_B64 = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7"
# nacl.box(message, nonce, bob.publicKey, alice.secretKey), base64
VECTORS = {
    "hello": "7M89QAVoBwNjs/gDo5bC0JZQw54C",
    "": "RbUFUvyV49y5U9aQSujsew==",
    '{"title":"Résumé ✓","description":"naïve 日本語","payload":{"n":1}}': (
        "4DHkWdULtW/v7ka+x9KK94UX25sZtcTiuWaUC8tBqn3hnpgkgTdufmnMWlCkyjRBiFj3Gw0sSEisZsrOKiDwMT6HWA"
        "727aS6hu/mikPrTuz7HDzcjog2AHOmiQ=="
    ),
}


def test_public_keys_match_tweetnacl_key_pairs_from_secret() -> None:
    assert public_from_secret(ALICE.secret) == ALICE.public
    assert public_from_secret(BOB.secret) == BOB.public
    assert base64.b64decode(ALICE.secret) == bytes(range(1, 33))


def test_fingerprint_is_sha256_of_the_base64_text() -> None:
    assert fingerprint(ALICE.public) == ALICE_FP
    assert fingerprint(BOB.public) == BOB_FP


@pytest.mark.parametrize("message", list(VECTORS))
def test_seal_produces_tweetnacl_ciphertext(message: str) -> None:
    nonce, ciphertext = seal(
        message.encode(), recipient_public=BOB.public, sender_secret=ALICE.secret, nonce=NONCE
    )
    assert nonce == NONCE_B64
    assert ciphertext == VECTORS[message]  # MAC + body, no nonce prefix


@pytest.mark.parametrize("message", list(VECTORS))
def test_unseal_opens_tweetnacl_ciphertext(message: str) -> None:
    plain = unseal(
        NONCE_B64, VECTORS[message], sender_public=ALICE.public, recipient_secret=BOB.secret
    )
    assert plain.decode() == message


def test_the_box_key_is_shared_both_ways() -> None:
    # X25519 agreement: what Alice sealed for Bob, Alice can open again with Bob's public key.
    plain = unseal(
        NONCE_B64, VECTORS["hello"], sender_public=BOB.public, recipient_secret=ALICE.secret
    )
    assert plain == b"hello"


def test_random_nonces_and_round_trip() -> None:
    sender, recipient = generate_keypair(), generate_keypair()
    first = seal(b"x", recipient_public=recipient.public, sender_secret=sender.secret)
    second = seal(b"x", recipient_public=recipient.public, sender_secret=sender.secret)
    assert first[0] != second[0] and first[1] != second[1]
    assert len(base64.b64decode(first[0])) == 24
    opened = unseal(*first, sender_public=sender.public, recipient_secret=recipient.secret)
    assert opened == b"x"
    assert public_from_secret(sender.secret) == sender.public
    assert sender.secret not in repr(sender)  # keys end up in logs and tracebacks


def test_tampered_ciphertext_is_refused() -> None:
    raw = bytearray(base64.b64decode(VECTORS["hello"]))
    raw[-1] ^= 1
    tampered = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(CryptoError, match="cannot decrypt: wrong key or tampered ciphertext"):
        unseal(NONCE_B64, tampered, sender_public=ALICE.public, recipient_secret=BOB.secret)


def test_wrong_key_is_refused() -> None:
    stranger = generate_keypair()
    with pytest.raises(CryptoError, match="wrong key"):
        unseal(
            NONCE_B64,
            VECTORS["hello"],
            sender_public=ALICE.public,
            recipient_secret=stranger.secret,
        )


@pytest.mark.parametrize(
    ("nonce", "ciphertext", "sender", "message"),
    [
        ("not base64!", VECTORS["hello"], ALICE.public, "nonce is not valid base64"),
        ("AAAA", VECTORS["hello"], ALICE.public, "nonce must be 24 bytes, got 3"),
        (NONCE_B64, "@@@", ALICE.public, "ciphertext is not valid base64"),
        (NONCE_B64, "AAAA", ALICE.public, "shorter than its 16-byte authenticator"),
        (NONCE_B64, VECTORS["hello"], "AAAA", "public key must be 32 bytes, got 3"),
        (NONCE_B64, VECTORS["hello"], ALICE.public[:-1], "public key is not valid base64"),
    ],
)
def test_bad_input_is_named(nonce: str, ciphertext: str, sender: str, message: str) -> None:
    with pytest.raises(CryptoError, match=message) as raised:
        unseal(nonce, ciphertext, sender_public=sender, recipient_secret=BOB.secret)
    assert isinstance(raised.value, InvalidInput)  # so the CLI prints "Error: …" and exits 1


def test_seal_checks_its_inputs() -> None:
    with pytest.raises(CryptoError, match="nonce must be 24 bytes"):
        seal(b"x", recipient_public=BOB.public, sender_secret=ALICE.secret, nonce=b"short")
    with pytest.raises(CryptoError, match="secret key must be 32 bytes"):
        seal(b"x", recipient_public=BOB.public, sender_secret="AAAA")
    with pytest.raises(CryptoError, match="low-order"):
        seal(
            b"x", recipient_public=base64.b64encode(bytes(32)).decode(), sender_secret=ALICE.secret
        )
