"""Signed notes and checkpoints against the specs' examples and Go's reference vector."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from hub.crypto.note import (
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    key_id,
    open_note,
    sign_note,
)

# golang.org/x/mod/sumdb/note: the package's documented example (note.go, note_test.go).
# Published test vectors, not secrets: the scanner is told so line by line.
GO_SIGNER = (
    "PRIVATE+KEY+PeterNeumann+c74f20a3+"
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # pragma: allowlist secret
)
GO_VERIFIER = (
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"  # pragma: allowlist secret
)
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSN"  # pragma: allowlist secret
    "XgKvqfqdngotpRZb6KE6RyyBwJnAM="  # pragma: allowlist secret
)
GO_NOTE = GO_TEXT + "\n\N{EM DASH} PeterNeumann " + GO_SIGNATURE + "\n"
# C2SP tlog-checkpoint: the specification's example (its key is not published).
SPEC_ROOT = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="  # pragma: allowlist secret
SPEC_SIGNATURE = (
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"  # pragma: allowlist secret
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8="  # pragma: allowlist secret
)
SPEC_CHECKPOINT = (
    f"example.com/behind-the-sofa\n20852163\n{SPEC_ROOT}\n\n"
    "\N{EM DASH} example.com/behind-the-sofa " + SPEC_SIGNATURE + "\n"
)


def test_the_go_reference_note_is_reproduced_byte_for_byte_and_opens() -> None:
    """Ed25519 is deterministic: the same key and text give the published note."""
    signer = NoteSigner.parse(GO_SIGNER)
    verifier = NoteVerifier.parse(GO_VERIFIER)
    assert signer.verifier == verifier
    assert str(verifier) == GO_VERIFIER
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    opened = open_note(GO_NOTE, [verifier])
    assert (opened.text, opened.signed_by) == (GO_TEXT, (verifier,))


@pytest.mark.parametrize(
    ("note", "code"),
    [
        (GO_NOTE.replace("cryptography", "cryptographY"), "note.signature_invalid"),
        (GO_NOTE.replace("— PeterNeumann", "— PeterNeumann2"), "note.unverified"),
        (GO_NOTE.replace("\n\n", "\n"), "note.malformed"),
        (GO_NOTE.replace("— ", "- "), "note.malformed"),
        (GO_NOTE.replace("x08go", "x08go!"), "note.malformed"),
        (GO_NOTE.rstrip("\n"), "note.malformed"),
        (GO_NOTE.replace("answer", "ans\x07wer"), "note.malformed"),
        (SPEC_CHECKPOINT, "note.unverified"),
    ],
    ids=[
        "changed text",
        "unknown name",
        "no blank line",
        "no em dash",
        "bad base64",
        "no final newline",
        "control character",
        "unknown key",
    ],
)
def test_a_bad_or_unknown_note_is_refused_by_code(note: str, code: str) -> None:
    """Changed text fails; a key it does not know is ignored, so nothing verifies it."""
    with pytest.raises(NoteError) as raised:
        open_note(note, [NoteVerifier.parse(GO_VERIFIER)])
    assert raised.value.code == code


def test_unknown_signatures_beside_a_known_one_are_ignored() -> None:
    """Another key's line (a witness, say) does not stop the known one verifying."""
    other = NoteSigner("witness.example/w1", Ed25519PrivateKey.generate())
    cosigned = GO_NOTE + other.signature_line(GO_TEXT)
    opened = open_note(cosigned, [NoteVerifier.parse(GO_VERIFIER)])
    assert opened.text == GO_TEXT
    both = open_note(cosigned, [NoteVerifier.parse(GO_VERIFIER), other.verifier])
    assert len(both.signed_by) == 2


def test_the_spec_checkpoint_parses_and_writes_back() -> None:
    """Origin, size and a 32-byte root; the text is the same bytes again."""
    text = SPEC_CHECKPOINT.split("\n\n", maxsplit=1)[0] + "\n"
    checkpoint = Checkpoint.parse(text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert len(checkpoint.root) == 32
    assert checkpoint.text() == text


@pytest.mark.parametrize(
    "text",
    [
        f"origin\n012\n{SPEC_ROOT}\n",
        f"origin\n-1\n{SPEC_ROOT}\n",
        f"\n5\n{SPEC_ROOT}\n",
        f"origin\n5\n{SPEC_ROOT[:40]}\n",
        f"origin\n5\n{SPEC_ROOT}\n\nextension\n",
        "origin\n5\n",
    ],
    ids=["leading zero", "negative", "no origin", "short root", "empty extension", "no root"],
)
def test_a_malformed_checkpoint_is_refused(text: str) -> None:
    """Each rule of the note text, broken once."""
    with pytest.raises(NoteError) as raised:
        Checkpoint.parse(text)
    assert raised.value.code == "note.malformed"


NAMES = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E).filter(lambda c: c != "+"),
    min_size=1,
    max_size=40,
)


@given(NAMES, st.binary(min_size=32, max_size=32))
def test_a_verifier_key_reads_back_as_written(name: str, public: bytes) -> None:
    """Any name and key: the text reads back to the same key, and its ID is the spec's."""
    verifier = NoteVerifier(name, key_id(name, public), public)
    assert NoteVerifier.parse(str(verifier)) == verifier
    material = base64.b64encode(b"\x01" + public).decode()
    assert str(verifier).endswith(f"+{material}")
