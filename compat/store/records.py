"""The label store's record types: a stored pair, its history, a query's filters and page, what an import
or an undo did, and the store's refusals. Plain data, no SQLite."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from compat.pairs import LineError, ordered

COLUMNS = ("text_1", "text_2", "label", "category", "subcategory", "pair_type", "explanation", "split")


class StaleVersion(Exception):
    """A write based on an old version of a pair; `current` is the pair as it is now."""

    def __init__(self, current: "PairRow", expected: int):
        self.current = current
        super().__init__(
            f"pair #{current.id} changed since you loaded it (your version {expected}, now "
            f"{current.version}); its label is now {current.label}"
        )


class PairNotFound(KeyError):
    """No pair with that id."""


class CountChanged(Exception):
    """A bulk relabel whose filter now matches a different number of pairs than was confirmed."""


@dataclass(frozen=True)
class HistoryEntry:
    """One label change of one pair."""

    pair_id: int
    old_label: int
    new_label: int
    annotator: str
    at: str
    note: str | None
    change_id: int
    action: str = "label"  # label (a relabel), add (added by hand), delete or restore


@dataclass(frozen=True)
class PairRow:
    """A stored pair: the fields of its file plus what the store keeps about it."""

    id: int
    text_1: str
    text_2: str
    speaker_1: str | None
    speaker_2: str | None
    label: int
    category: str | None
    subcategory: str | None
    pair_type: str | None
    explanation: str | None
    split: str | None
    extra: dict
    origin: str
    version: int
    created: str
    updated: str
    source: str = "generated"
    deleted: bool = False
    history: tuple[HistoryEntry, ...] = ()

    def to_pair(self) -> dict:
        """The pair as a file holds it: given fields only (current label), unknown fields kept."""
        out = {k: getattr(self, k) for k in COLUMNS if getattr(self, k) is not None}
        out.update(self.extra)  # also explicit nulls of known fields, so they survive a round trip
        return ordered(out)


ROW_FIELDS = tuple(f.name for f in fields(PairRow) if f.name != "history")


@dataclass(frozen=True)
class Filters:
    """Which pairs: every given criterion must hold; `search` is a case-insensitive substring."""

    label: int | None = None
    category: str | None = None
    subcategory: str | None = None
    pair_type: str | None = None
    split: str | None = None
    edited: bool | None = None
    search: str | None = None
    source: str | None = None  # generated, imported or hand-added
    deleted: bool | None = False  # False: live pairs (the default), True: deleted ones, None: both


@dataclass(frozen=True)
class Page:
    """One page of a query: its rows, how many pairs matched in all, and where the page starts."""

    rows: list[PairRow]
    total: int
    offset: int
    limit: int


@dataclass
class ImportReport:
    """What an import did: pairs added, and every line left out with the reason."""

    source: str
    added: int = 0
    errors: list[LineError] = field(default_factory=list)
    duplicates: list[LineError] = field(default_factory=list)
    in_store: list[LineError] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.source}: {self.added} added, {len(self.errors)} bad line(s) skipped, "
                f"{len(self.duplicates)} duplicate(s) within the file, {len(self.in_store)} already in the store")


@dataclass(frozen=True)
class Counts:
    """How many pairs the store holds: in all, by label, edited by hand, and by split."""

    total: int
    compatible: int
    incompatible: int
    edited: int
    by_split: dict[str, int]


@dataclass(frozen=True)
class UndoResult:
    """An undone change: pairs put back, and pairs left alone because someone changed them since."""

    change_id: int
    kind: str
    reverted: int
    skipped: int
