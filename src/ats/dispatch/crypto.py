"""NaCl box primitives, byte-for-byte compatible with tweetnacl's ``nacl.box`` (SPEC §6).

Submitters in the field encrypt with tweetnacl (JavaScript), so the wire format is tweetnacl's,
not PyNaCl's:

- keys are X25519, 32 bytes; the cipher is XSalsa20-Poly1305 with a 24-byte nonce;
- every binary value travels as *standard* base64 *with* padding (what ``tweetnacl-util`` and
  Node's ``Buffer`` produce);
- the ciphertext is ``nacl.box``'s output — the 16-byte MAC then the encrypted bytes — with the
  nonce carried separately. PyNaCl's ``Box.encrypt`` prepends the nonce; we send only
  ``.ciphertext``.

A key's fingerprint is the first 16 hex digits of sha256 over its base64 *text* (not the raw
bytes): the reference bot computes it that way and people compare them by eye.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import nacl.exceptions
import nacl.public
import nacl.utils

from ats.errors import InvalidInput

KEY_SIZE = 32
NONCE_SIZE = 24
MAC_SIZE = 16


class CryptoError(InvalidInput):
    """Bad key, nonce or ciphertext; the message says which (never echoes secret material)."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An X25519 key pair, both halves base64 (``secret`` never leaves the keyring file)."""

    public: str
    secret: str

    def __repr__(self) -> str:
        # Keep the secret out of logs and tracebacks.
        return f"KeyPair(public={self.public!r}, secret=<hidden>)"


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 (padding required, as tweetnacl-util requires it)."""
    try:
        return base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError):
        raise CryptoError(f"{what} is not valid base64") from None


def _key(text: str, what: str) -> bytes:
    raw = b64decode(text, what)
    if len(raw) != KEY_SIZE:
        raise CryptoError(f"{what} must be {KEY_SIZE} bytes, got {len(raw)}")
    return raw


def check_public_key(public_b64: str) -> str:
    """The key, stripped, if it is a valid 32-byte base64 public key; CryptoError otherwise."""
    _key(public_b64, "public key")
    return public_b64.strip()


def generate_keypair() -> KeyPair:
    secret = nacl.public.PrivateKey.generate()
    return KeyPair(public=b64encode(bytes(secret.public_key)), secret=b64encode(bytes(secret)))


def public_from_secret(secret_b64: str) -> str:
    """The public half of a secret key (like ``nacl.box.keyPair.fromSecretKey``)."""
    secret = nacl.public.PrivateKey(_key(secret_b64, "secret key"))
    return b64encode(bytes(secret.public_key))


def fingerprint(public_b64: str) -> str:
    return hashlib.sha256(public_b64.strip().encode("utf-8")).hexdigest()[:16]


def _box(their_public: str, my_secret: str) -> nacl.public.Box:
    their = _key(their_public, "public key")
    mine = _key(my_secret, "secret key")
    try:
        return nacl.public.Box(nacl.public.PrivateKey(mine), nacl.public.PublicKey(their))
    except nacl.exceptions.CryptoError:
        # libsodium refuses low-order points (e.g. an all-zero key), which tweetnacl accepts:
        # nothing sealed with such a key is private, so refusing is the right answer.
        raise CryptoError("public key is not usable (low-order point)") from None


def seal(
    plaintext: bytes,
    *,
    recipient_public: str,
    sender_secret: str,
    nonce: bytes | None = None,
) -> tuple[str, str]:
    """Encrypt to ``recipient_public``: (nonce_b64, ciphertext_b64), as ``nacl.box`` would.

    ``nonce`` is for known-answer tests only; a fresh random one is drawn otherwise.
    """
    if nonce is None:
        nonce = nacl.utils.random(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise CryptoError(f"nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    sealed = _box(recipient_public, sender_secret).encrypt(plaintext, nonce)
    return b64encode(nonce), b64encode(sealed.ciphertext)


def unseal(
    nonce_b64: str,
    ciphertext_b64: str,
    *,
    sender_public: str,
    recipient_secret: str,
) -> bytes:
    """Decrypt what ``sender_public`` sealed for us (``nacl.box.open``)."""
    nonce = b64decode(nonce_b64, "nonce")
    if len(nonce) != NONCE_SIZE:
        raise CryptoError(f"nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    ciphertext = b64decode(ciphertext_b64, "ciphertext")
    if len(ciphertext) < MAC_SIZE:
        raise CryptoError(f"ciphertext is shorter than its {MAC_SIZE}-byte authenticator")
    box = _box(sender_public, recipient_secret)
    try:
        return box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise CryptoError("cannot decrypt: wrong key or tampered ciphertext") from None
