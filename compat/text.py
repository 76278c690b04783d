"""Statements as they are embedded: speaker prefix parsed off, validated, length-capped."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "boy: I love lazy Sundays" -> speaker "boy". A speaker is a short name without spaces-heavy prose,
# so "Note: I hate smoking" style sentences with long heads are not mistaken for prefixes.
_SPEAKER = re.compile(r"^\s*([A-Za-z][\w .'-]{0,30}?)\s*:\s+(.*)$", re.S)

MAX_STATEMENT_CHARS = 2000
DEFAULT_INSTRUCTION = (
    "Represent this person's dating preference for finding a compatible partner: "
)


class StatementError(ValueError):
    """A statement that cannot be embedded; the message says what is wrong."""


@dataclass(frozen=True)
class Statement:
    speaker: str | None
    text: str


def split_speaker(raw: str) -> Statement:
    """Split an optional `name: ` prefix off a statement (`boy: I love X` -> speaker boy, text I love X)."""
    match = _SPEAKER.match(raw)
    if match and len(match.group(1).split()) <= 2:
        return Statement(match.group(1).strip(), match.group(2).strip())
    return Statement(None, raw.strip())


def clean_statement(raw: object, field: str = "statement") -> str:
    """The text to embed: prefix removed, whitespace collapsed; raises StatementError when unusable."""
    if not isinstance(raw, str):
        raise StatementError(f"{field} must be text, got {type(raw).__name__}")
    text = " ".join(split_speaker(raw).text.split())
    if not text:
        raise StatementError(f"{field} is empty")
    if len(text) > MAX_STATEMENT_CHARS:
        raise StatementError(
            f"{field} is {len(text):,} characters; the limit is {MAX_STATEMENT_CHARS:,}"
        )
    return text
