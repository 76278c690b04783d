"""The pairs a run trains and evaluates on: files found, read and validated before any model loads.

Statements are cleaned with compat.text.clean_statement (speaker prefix parsed off), which is how they
are embedded at scoring time too. Without a validation file, a label-stratified share of the training
pairs is held out (seeded) so that evaluation during training and calibration always have data.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from compat.generator.groups import GROUPS_FILE
from compat.pairs import PairFileError, load_pairs
from compat.text import clean_statement


class DataError(ValueError):
    """A data file that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class DataFiles:
    """Where the splits come from; validation/test are None when not given."""

    train: Path
    validation: Path | None = None
    test: Path | None = None
    extra: tuple[Path, ...] = ()
    groups: Path | None = None


@dataclass
class TrainData:
    """The pairs of each split, and where the validation pairs came from ("file" or "split of train")."""

    files: DataFiles
    train: list[dict]
    validation: list[dict]
    test: list[dict] | None = None
    extra: dict[str, list[dict]] = field(default_factory=dict)
    validation_source: str = "file"
    groups: list[dict] | None = None
    groups_source: str | None = None  # "file", or "generated" (generated_groups: the data brought none)


def resolve_files(data: str, validation: str | None = None, test: str | None = None,
                  extra: list[str] | tuple[str, ...] = (), groups: str | None = None) -> DataFiles:
    """`data` is a pair file, or a directory holding train.jsonl (+ validation.jsonl, test.jsonl and
    train_groups.jsonl, the stance groups, if present)."""
    path = Path(data).expanduser()
    if path.is_dir():
        train = path / "train.jsonl"
        if not train.is_file():
            raise DataError(f"--data {data}: a directory must hold train.jsonl")
        validation = validation or _if_file(path / "validation.jsonl")
        test = test or _if_file(path / "test.jsonl")
        groups = groups or _if_file(path / GROUPS_FILE)
    elif path.is_file():
        train = path
    else:
        raise DataError(f"--data {data}: no such file or directory")
    named = [("--validation", validation), ("--test", test), ("--groups", groups),
             *(("--extra-test", e) for e in extra)]
    for flag, file in named:
        if file is not None and not Path(file).expanduser().is_file():
            raise DataError(f"{flag} {file}: no such file")
    stems: dict[str, str] = {"test": "--test"}  # metrics.json names each set by its file's stem
    for file in extra:
        stem = Path(file).stem
        if stem in stems:
            raise DataError(f"--extra-test {file}: its name {stem!r} is taken by {stems[stem]} (metrics are "
                            "kept under the file name); rename or copy one of them")
        stems[stem] = f"--extra-test {file}"
    return DataFiles(
        train=train.resolve(),
        validation=Path(validation).expanduser().resolve() if validation else None,
        test=Path(test).expanduser().resolve() if test else None,
        extra=tuple(Path(e).expanduser().resolve() for e in extra),
        groups=Path(groups).expanduser().resolve() if groups else None,
    )


def _if_file(path: Path) -> str | None:
    return str(path) if path.is_file() else None


def read_split(path: Path, name: str) -> list[dict]:
    """All pairs of one file; DataError names the file and every bad line."""
    try:
        return load_pairs(path)
    except PairFileError as exc:
        raise DataError(f"{name} data {path}: {exc}") from exc
    except OSError as exc:
        raise DataError(f"{name} data {path}: cannot read ({exc.strerror})") from exc


def split_validation(pairs: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): `fraction` of each label held out, chosen with `seed`; order otherwise kept."""
    rng = random.Random(seed)
    held: set[int] = set()
    for label in (0, 1):
        idx = [i for i, p in enumerate(pairs) if p["label"] == label]
        rng.shuffle(idx)
        held.update(idx[: max(1, round(len(idx) * fraction))] if len(idx) > 1 else [])
    train = [p for i, p in enumerate(pairs) if i not in held]
    validation = [p for i, p in enumerate(pairs) if i in held]
    return train, validation


def read_groups(path: Path) -> list[dict]:
    """Stance groups, one JSON object a line: {"trait": str, "pos": [k texts], "neg": [k texts]} with the
    same k >= 1 on every line (optional "antonyms" and "related": [traits], whose statements the loss
    neither pulls together nor pushes apart); DataError names the file, line and field."""
    groups: list[dict] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"groups {path}: cannot read ({exc.strerror})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"groups {path}, line {number}"
        try:
            group = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(group, dict) or not isinstance(group.get("trait"), str) or not group["trait"]:
            raise DataError(f"{where}: field 'trait' must be a non-empty string")
        for side in ("pos", "neg"):
            texts = group.get(side)
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                raise DataError(f"{where}: field {side!r} must be a list of non-empty statements")
        k = len(groups[0]["pos"]) if groups else len(group["pos"])
        if len(group["pos"]) != k or len(group["neg"]) != k:
            raise DataError(f"{where}: 'pos' and 'neg' must each hold {k} statements, as the first group does")
        for name in ("antonyms", "related"):
            linked = group.get(name, [])
            if not isinstance(linked, list) or not all(isinstance(a, str) for a in linked):
                raise DataError(f"{where}: field {name!r} must be a list of trait names")
        groups.append(group)
    if len({g["trait"] for g in groups}) < 2:
        raise DataError(f"groups {path}: needs groups of at least two traits")
    return groups


MIN_GENERATED_GROUPS = 16  # a batch of them, for a run on a handful of pairs


def generated_groups(train_pairs: int, seed: int) -> list[dict]:
    """Stance groups for a group loss whose data brings none (a label-store snapshot, a pair file): half as
    many as there are training pairs, so a third of the batches are groups, the share chosen by measurement
    (docs/quality-experiments.md, "Stance groups, measured"); drawn from the generator's train-split
    wording with `seed`, exactly what `python -m compat generate --seed SEED --groups N` writes."""
    from compat.generator.groups import stance_groups

    return stance_groups(max(MIN_GENERATED_GROUPS, (train_pairs + 1) // 2), seed=seed)


def load_data(files: DataFiles, validation_fraction: float = 0.1, seed: int = 42,
              generate_groups: bool = False) -> TrainData:
    """Read every split (all errors before any model work) and hold out validation when none is given;
    with `generate_groups` and no groups file, stance groups are generated (generated_groups)."""
    train = read_split(files.train, "train")
    groups = read_groups(files.groups) if files.groups else None
    validation = read_split(files.validation, "validation") if files.validation else None
    test = read_split(files.test, "test") if files.test else None
    extra = {p.stem: read_split(p, "extra test") for p in files.extra}
    source = "file"
    if validation is None:
        train, validation = split_validation(train, validation_fraction, seed)
        source = "split of train"
    if len({p["label"] for p in train}) < 2:
        raise DataError(f"train data {files.train}: needs both compatible (1) and incompatible (0) pairs")
    if len({p["label"] for p in validation}) < 2:
        raise DataError(f"validation data ({source}): needs both compatible (1) and incompatible (0) pairs")
    groups_source = "file" if groups else None
    if groups is None and generate_groups:
        groups, groups_source = generated_groups(len(train), seed), "generated"
    return TrainData(files, train, validation, test, extra, source, groups, groups_source)


def statements(pairs: list[dict]) -> tuple[list[str], list[str], list[int]]:
    """(cleaned text_1s, cleaned text_2s, labels) of `pairs`."""
    return ([clean_statement(p["text_1"]) for p in pairs], [clean_statement(p["text_2"]) for p in pairs],
            [int(p["label"]) for p in pairs])


def unrelated_pairs(pairs: list[dict], n: int, seed: int) -> list[tuple[str, str]]:
    """`n` statement pairs (text_1 of one pair, text_2 of another) whose pairs have different categories:
    talk about different things, so neither compatible nor incompatible. Empty when the pairs have fewer
    than two categories (nothing says what is unrelated)."""
    rng = random.Random(f"unrelated:{seed}")
    with_category = [p for p in pairs if p.get("category")]
    if n <= 0 or len({p["category"] for p in with_category}) < 2:
        return []
    out: list[tuple[str, str]] = []
    while len(out) < n:
        a, b = rng.choice(with_category), rng.choice(with_category)
        if a["category"] != b["category"]:
            out.append((clean_statement(a["text_1"]), clean_statement(b["text_2"])))
    return out


def preference_key(pair: dict, side: int) -> str:
    """What one side of a pair says, as a key: the generator's trait/stance fields when present (two
    wordings of one preference share it), else the cleaned statement itself."""
    trait, stance = pair.get(f"trait_{side}"), pair.get(f"stance_{side}")
    if trait and stance:
        return f"{trait}/{stance}"
    return clean_statement(pair[f"text_{side}"])


def hard_triplets(pairs: list[dict], seed: int) -> list[tuple[str, str, str]]:
    """(anchor, a compatible statement, an incompatible statement about the same preference) triplets.

    For each compatible pair, in both directions, the negative is the partner of an incompatible pair
    whose own side says what the anchor says (same preference_key): the same topic with the other
    stance, an antonym or a dealbreaker. In a batch the other triplets' statements are the easy
    (other topic) negatives, so MNRL keeps topic while the hard negative teaches stance."""
    rng = random.Random(f"triplets:{seed}")
    partners: dict[str, dict[int, list[str]]] = {}
    sides = []
    for pair in pairs:
        for a, b in ((1, 2), (2, 1)):
            key = preference_key(pair, a)
            partner = clean_statement(pair[f"text_{b}"])
            partners.setdefault(key, {0: [], 1: []})[int(pair["label"])].append(partner)
            if pair["label"] == 1:
                sides.append((clean_statement(pair[f"text_{a}"]), partner, key))
    out = []
    for anchor, positive, key in sides:
        negatives = [n for n in partners[key][0] if n not in (anchor, positive)]
        if negatives:
            out.append((anchor, positive, rng.choice(negatives)))
    rng.shuffle(out)
    return out


def group_dataset(groups: list[dict]):
    """A datasets.Dataset of stance groups for StanceSupConLoss: columns pos_0..pos_k-1, neg_0..neg_k-1
    (cleaned statements) and label, the trait's index (compat.training.losses.group_conflicts)."""
    from datasets import Dataset

    from compat.training.losses import group_conflicts

    index, _ = group_conflicts(groups)
    k = len(groups[0]["pos"])
    columns = {f"{side}_{i}": [clean_statement(g[side][i]) for g in groups] for side in ("pos", "neg")
               for i in range(k)}
    return Dataset.from_dict({**columns, "label": [index[g["trait"]] for g in groups]})


def to_dataset(pairs: list[dict], loss: str, unrelated: float = 0.0, seed: int = 42,
               groups: list[dict] | None = None):
    """A datasets.Dataset in the column layout `loss` expects (a dict of two for a mix of two losses).

    Pair losses get (sentence1, sentence2, label as float); `signed_cosine` gets targets 1 / -1 and,
    with `unrelated` > 0, that share of len(pairs) extra unrelated pairs with target 0, shuffled in;
    `mnrl` gets (anchor, positive, negative) hard_triplets, or (anchor, positive) compatible pairs when
    the data has no hard negative; `cosent+mnrl` gets {"pairs": cosent's rows, "triplets": mnrl's rows},
    which the trainer takes in turn (round robin); `supcon` gets the stance `groups` (group_dataset), and
    `cosent+supcon` / `mnrl+supcon` {"pairs": that pair loss's rows, "groups": the groups}.
    """
    from datasets import Dataset

    if loss == "supcon":
        return group_dataset(groups)
    if loss.endswith("+supcon"):
        return {"pairs": to_dataset(pairs, loss.split("+")[0], seed=seed), "groups": group_dataset(groups)}
    if loss == "cosent+mnrl":
        return {"pairs": to_dataset(pairs, "cosent", seed=seed), "triplets": to_dataset(pairs, "mnrl", seed=seed)}
    first, second, labels = statements(pairs)
    if loss == "mnrl":
        triplets = hard_triplets(pairs, seed)
        if triplets:
            return Dataset.from_dict(dict(zip(("anchor", "positive", "negative"), map(list, zip(*triplets)))))
        keep = [i for i, y in enumerate(labels) if y == 1]
        return Dataset.from_dict({"anchor": [first[i] for i in keep], "positive": [second[i] for i in keep]})
    targets = [float(y) for y in labels]
    if loss == "signed_cosine":
        targets = [1.0 if y == 1 else -1.0 for y in labels]
        extra = unrelated_pairs(pairs, round(unrelated * len(pairs)), seed)
        rows = list(zip(first, second, targets)) + [(a, b, 0.0) for a, b in extra]
        random.Random(f"mix:{seed}").shuffle(rows)
        first, second, targets = (list(column) for column in zip(*rows))
    return Dataset.from_dict({"sentence1": first, "sentence2": second, "label": targets})


def file_sha256(path: Path) -> str:
    """The file's SHA-256, hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shown_path(path: Path | None) -> str | None:
    """A data file's path as config.json records it: relative to the repository when inside it (the shipped
    model's record then holds no one's checkout folder), else absolute."""
    from compat.paths import REPO_ROOT

    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path(REPO_ROOT).resolve()))
    except ValueError:
        return str(Path(path).resolve())


def describe(data: TrainData) -> dict:
    """What config.json records about the data: each file's path, sha256 and pair count."""
    def entry(path: Path | None, pairs: list[dict] | None) -> dict | None:
        if pairs is None:
            return None
        return {"path": shown_path(path), "sha256": file_sha256(path) if path else None,
                "pairs": len(pairs), "compatible": sum(p["label"] for p in pairs)}

    return {
        "train": entry(data.files.train, data.train),
        "validation": {**entry(data.files.validation, data.validation), "source": data.validation_source},
        "test": entry(data.files.test, data.test),
        "extra": {name: entry(path, data.extra[path.stem]) for path in data.files.extra
                  for name in [path.stem]},
        "groups": {"path": shown_path(data.files.groups),
                   "sha256": file_sha256(data.files.groups) if data.files.groups else None,
                   "groups": len(data.groups), "source": data.groups_source} if data.groups else None,
    }
