"""Witness policies (C2SP tlog-policy): parsing, refusals by line, and quorum rules."""

from __future__ import annotations

import pytest

from hub.crypto import NoteSigner, PolicyError, WitnessPolicy
from hub.crypto.note import COSIGNATURE, ED25519, MLDSA_COSIGNATURE

SIGNERS = {
    name: NoteSigner.generate(f"{name}.example/w", kind)
    for name, kind in [
        ("x1", COSIGNATURE),
        ("x2", COSIGNATURE),
        ("x3", COSIGNATURE),
        ("y1", MLDSA_COSIGNATURE),
        ("y2", COSIGNATURE),
        ("y3", COSIGNATURE),
    ]
}
LOG = NoteSigner.generate("hub.example/ledger/1", ED25519)


def _spec_example() -> str:
    """The specification's example: two groups of three, 2 of X and any of Y."""
    lines = [f"log {LOG.verifier} https://hub.example/", ""]
    lines += [f"witness {n.upper()} {s.verifier}" for n, s in SIGNERS.items()]
    lines += [
        "  # comments and blank lines are ignored",
        "group X-witnesses 2 X1 X2 X3",
        "group Y-witnesses any Y1 Y2 Y3",
        "group X-and-Y all X-witnesses Y-witnesses",
        "quorum X-and-Y",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("cosigners", "met"),
    [
        (("x1", "x2", "y1"), True),
        (("x1", "x3", "y3"), True),
        (("x1", "y1", "y2", "y3"), False),
        (("x1", "x2", "x3"), False),
        ((), False),
    ],
)
def test_the_spec_example_quorum_needs_two_x_and_one_y(
    cosigners: tuple[str, ...], *, met: bool
) -> None:
    """Nested groups: a group is met when its threshold of members is."""
    policy = WitnessPolicy.parse(_spec_example())
    assert policy.logs == (LOG.verifier,)
    assert len(policy.witnesses) == 6
    assert policy.witnesses[3].verifier.kind == MLDSA_COSIGNATURE
    signed_by = {SIGNERS[name].verifier for name in cosigners}
    assert policy.satisfied(signed_by) is met
    assert policy.cosigners(signed_by) == [name.upper() for name in SIGNERS if name in cosigners]


def test_quorum_none_needs_no_cosignature() -> None:
    """``quorum none`` is a policy without witnessing."""
    assert WitnessPolicy.parse("quorum none\n").satisfied(set())


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("witness A {x1}\nquorum B\n", 2),
        ("witness A {x1}\nwitness A {x2}\nquorum A\n", 2),
        ("witness A {x1}\nwitness B {x1}\nquorum A\n", 2),
        ("witness A {log}\nquorum A\n", 1),
        ("log {x1}\nquorum none\n", 1),
        ("witness A {x1}\ngroup G 2 A\nquorum G\n", 2),
        ("witness A {x1}\ngroup G 02 A\nquorum G\n", 2),
        ("witness A {x1}\ngroup G any A A\nquorum G\n", 2),
        ("witness A {x1} ftp://w.example\nquorum A\n", 1),
        ("witness A {x1}\nquorum A\nquorum A\n", 3),
        ("witness A notakey\nquorum A\n", 1),
        ("witnesses A {x1}\nquorum A\n", 1),
        ("witness A {x1}\n", 0),
    ],
    ids=[
        "undefined quorum",
        "name twice",
        "key twice",
        "log key as witness",
        "cosigner key as log",
        "threshold above size",
        "leading zero",
        "member twice",
        "not http",
        "two quorums",
        "bad key",
        "unknown keyword",
        "no quorum",
    ],
)
def test_a_bad_policy_is_refused_naming_its_line(text: str, line: int) -> None:
    """Every refusal is ``policy.invalid`` and names the line (0: the file)."""
    filled = text.format(log=LOG.verifier, x1=SIGNERS["x1"].verifier, x2=SIGNERS["x2"].verifier)
    with pytest.raises(PolicyError) as raised:
        WitnessPolicy.parse(filled)
    assert raised.value.code == "policy.invalid"
    assert str(raised.value.detail).startswith(f"line {line}:")
