"""Secret keys from the environment: pseudonymising identifiers and signing models.

Keys live only in the environment (never in experiment YAML, MLflow or a model
artifact):

========================== =====================================================
``SALESML_PSEUDONYM_KEY``  HMAC-SHA256 key that turns ids into pseudonyms
                           (:class:`salesml.trust.privacy.Pseudonymiser`)
``SALESML_SIGNING_KEY``    HMAC-SHA256 key that signs and verifies model manifests
                           (:func:`salesml.tracking.artifact.sign_bundle`)
``SALESML_REQUIRE_SIGNATURE`` ``1`` makes loading refuse models without a valid signature, even
                           on a machine that holds no key
``SALESML_ALLOW_UNSIGNED`` ``1`` lets a machine that holds a signing key load unsigned (legacy)
                           models, with a warning; without it they are refused
========================== =====================================================

A key must be at least :data:`MIN_KEY_LENGTH` characters and must not be a
placeholder ("changeme", "secret", the example in the docs...): a guessable key
makes pseudonyms reversible by trying every id and signatures forgeable.
Generate one with ``python -c "import secrets; print(secrets.token_urlsafe(48))"``.
Only a fingerprint of a key (:func:`key_id`) is ever recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import os

__all__ = [
    "PSEUDONYM_KEY_ENV",
    "SIGNING_KEY_ENV",
    "REQUIRE_SIGNATURE_ENV",
    "ALLOW_UNSIGNED_ENV",
    "unsigned_allowed",
    "MIN_KEY_LENGTH",
    "KeyProblem",
    "check_key",
    "key_from_env",
    "key_id",
    "signature_required",
]

PSEUDONYM_KEY_ENV = "SALESML_PSEUDONYM_KEY"
SIGNING_KEY_ENV = "SALESML_SIGNING_KEY"
REQUIRE_SIGNATURE_ENV = "SALESML_REQUIRE_SIGNATURE"
ALLOW_UNSIGNED_ENV = "SALESML_ALLOW_UNSIGNED"
MIN_KEY_LENGTH = 32
_GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'

#: Placeholders people leave in config files; a key containing one of these is refused.
_PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "replaceme",
    "replace-me",
    "replace_me",
    "your-key",
    "your_key",
    "yourkey",
    "example",
    "default",
    "password",
    "secret-key",
    "secretkey",
    "placeholder",
    "xxxxxxxx",
    "12345678",
)


class KeyProblem(ValueError):
    """A key from the environment is missing, too short or a placeholder."""


def check_key(value: str | bytes | None, *, env: str) -> bytes:
    """Return the key as bytes, or raise :class:`KeyProblem` saying what is wrong and how to fix it."""
    fix = f"Set {env} to a long random secret, e.g. the output of: {_GENERATE}"
    if value is None or (text := value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip() == "":
        raise KeyProblem(f"{env} is empty or not set. {fix}")
    text = text.strip()
    if len(text) < MIN_KEY_LENGTH:
        raise KeyProblem(f"{env} is too short: {len(text)} characters, at least {MIN_KEY_LENGTH} are needed. {fix}")
    lowered = text.lower()
    if any(p in lowered for p in _PLACEHOLDERS) or len(set(text)) < 8:
        raise KeyProblem(f"{env} looks like a placeholder or default value, not a random secret. {fix}")
    return text.encode("utf-8")


def key_from_env(env: str, *, required: bool = True) -> bytes | None:
    """The checked key named by ``env``; ``None`` when it is unset and not ``required``.

    A key that is set but weak is always refused, required or not: a weak key
    silently in use is worse than none.
    """
    value = os.environ.get(env)
    if value is None and not required:
        return None
    return check_key(value, env=env)


def key_id(key: bytes) -> str:
    """A short fingerprint naming a key without revealing it (for rotation and messages)."""
    return hmac.new(key, b"salesml key fingerprint", hashlib.sha256).hexdigest()[:12]


def _flag(env: str) -> bool:
    return os.environ.get(env, "").strip().lower() in ("1", "true", "yes", "on")


def signature_required() -> bool:
    """Whether ``SALESML_REQUIRE_SIGNATURE`` asks loading to refuse unsigned models."""
    return _flag(REQUIRE_SIGNATURE_ENV)


def unsigned_allowed() -> bool:
    """Whether ``SALESML_ALLOW_UNSIGNED`` lets a machine holding a signing key load unsigned (legacy) models."""
    return _flag(ALLOW_UNSIGNED_ENV)
