"""Signed notes and checkpoints against the specs' examples and Go's reference vector."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from hub.crypto.note import (
    COSIGNATURE,
    MLDSA_COSIGNATURE,
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    cosignature_time,
    cosigned_message,
    key_id,
    open_note,
    sign_note,
    subtree_message,
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


# C2SP tlog-cosignature: the specification's example cosignature line (its key is not
# published): its blob carries the time 1679315147 after the key ID.
SPEC_COSIGNATURE = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI"  # pragma: allowlist secret
    "5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="  # pragma: allowlist secret
)


def test_the_spec_cosignature_carries_its_time_after_the_key_id() -> None:
    """The example's 76 bytes: a key ID, 1679315147 (the spec's time), 64 signature bytes."""
    blob = base64.b64decode(SPEC_COSIGNATURE)
    assert len(blob) == 4 + 8 + 64
    assert cosignature_time(blob[4:]) == 1679315147
    assert (
        cosigned_message("a\n1\nr\n", 1679315147) == b"cosignature/v1\ntime 1679315147\na\n1\nr\n"
    )


def test_a_witness_cosigns_a_checkpoint_as_of_a_time_under_its_own_key_type() -> None:
    """The log signs, a witness cosigns; both verify; the time is signed; types do not mix."""
    log = NoteSigner("hub.example/ledger", Ed25519PrivateKey.generate())
    witness = NoteSigner("police.example/witness", Ed25519PrivateKey.generate(), COSIGNATURE)
    text = Checkpoint("hub.example/ledger", 7, bytes(32)).text()
    note = sign_note(text, [log]) + witness.signature_line(text, 1_790_000_000)
    opened = open_note(note, [log.verifier, witness.verifier])
    assert [v.name for v in opened.signed_by] == ["hub.example/ledger", "police.example/witness"]
    assert NoteVerifier.parse(str(witness.verifier)) == witness.verifier
    assert str(witness.verifier).split("+")[2].startswith("B")  # base64 of 0x04 ...
    assert witness.verifier.id != key_id(witness.name, witness.verifier.public)
    line = note.splitlines()[-1]
    name, encoded = line.split(" ")[1:]
    blob = bytearray(base64.b64decode(encoded))
    blob[11] ^= 1  # the time, one second off
    moved = note.replace(line, f"\N{EM DASH} {name} {base64.b64encode(bytes(blob)).decode()}")
    with pytest.raises(NoteError) as raised:
        open_note(moved, [log.verifier, witness.verifier])
    assert raised.value.code == "note.signature_invalid"
    plain = NoteSigner(witness.name, witness.private)  # the same key, as a note signer
    forged = sign_note(text, [log]) + plain.signature_line(text)
    assert open_note(forged, [log.verifier, witness.verifier]).signed_by == (log.verifier,)
    with pytest.raises(NoteError):
        witness.signature_line(text)


# filippo.io/torchwood's litewitness test (cmd/litewitness/testdata/mldsa.txt): a log
# whose key is ML-DSA-44 (type 0x06) signs its checkpoint with the timestamp 0.
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "tlog"
TORCHWOOD_VKEY = (VECTORS / "torchwood-mldsa-log.vkey").read_text().strip()
TORCHWOOD_NOTE = (VECTORS / "torchwood-mldsa-log.note").read_text()


def test_torchwoods_ml_dsa_44_checkpoint_verifies_and_a_changed_one_does_not() -> None:
    """A verifier of type 0x06 reads torchwood's key and accepts its signed checkpoint."""
    verifier = NoteVerifier.parse(TORCHWOOD_VKEY)
    assert (verifier.kind, len(verifier.public)) == (MLDSA_COSIGNATURE, 1312)
    assert str(verifier) == TORCHWOOD_VKEY
    opened = open_note(TORCHWOOD_NOTE, [verifier])
    assert Checkpoint.parse(opened.text).size == 1
    line = TORCHWOOD_NOTE.splitlines()[-1]
    assert cosignature_time(base64.b64decode(line.split(" ")[2])[4:], MLDSA_COSIGNATURE) == 0
    for changed in (
        TORCHWOOD_NOTE.replace("\n1\n", "\n2\n", 1),
        TORCHWOOD_NOTE.replace("+zoE", "+zoF", 1),
        TORCHWOOD_NOTE.replace("example.com/mldsa-log\n1", "example.com/mldsa-lag\n1", 1),
    ):
        with pytest.raises(NoteError) as raised:
            open_note(changed, [verifier])
        assert raised.value.code == "note.signature_invalid"


def test_an_ml_dsa_44_witness_signs_the_subtree_message_of_the_spec() -> None:
    """The message is the label, the name, the time, the origin, 0, the size and the root."""
    witness = NoteSigner.generate("police.example/witness-pq", MLDSA_COSIGNATURE)
    assert NoteSigner.parse(str(witness)).verifier == witness.verifier
    root = bytes(range(32))
    text = Checkpoint("hub.example/ledger", 20852163, root).text()
    line = witness.signature_line(text, 1679315147)
    blob = base64.b64decode(line.split(" ")[2])
    assert len(blob) == 4 + 8 + 2420
    expected = (
        b"subtree/v1\n\x00"
        + bytes([25])
        + b"police.example/witness-pq"
        + (1679315147).to_bytes(8, "big")
        + bytes([18])
        + b"hub.example/ledger"
        + bytes(8)
        + (20852163).to_bytes(8, "big")
        + root
    )
    assert subtree_message(witness.name, 1679315147, text) == expected
    witness.private.public_key().verify(blob[12:], expected)
    assert open_note(text + "\n" + line, [witness.verifier]).signed_by == (witness.verifier,)
    with pytest.raises(NoteError):
        witness.signature_line(text + "extension\n", 1)  # this signature covers no extension
    with pytest.raises(NoteError):
        subtree_message("w", 1, Checkpoint("log", 0, root).text())  # not the empty tree's root
