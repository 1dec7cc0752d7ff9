"""The toxicity data and its fixed splits, shared by train_toxicity.py and toxicity.py.

Sources (read from /work/shared/data, never copied into the repository):
- Davidson et al. 2017, hate / offensive / neither tweets (MIT): TOXIC = class 0 or 1,
  HATE = class 0.
- ToxiGen demonstrations (Hartvigsen et al. 2022, MIT + CDLA-Permissive-2.0): implicit hate (1)
  or neutral (0) statements about 14 groups: TOXIC = HATE = label.
- Benign assistant queries: CLINC150 (Larson et al. 2019, CC-BY-3.0; its own train / val / test
  splits) and self-instruct (Apache-2.0; seed tasks train, user-oriented tasks test): 0, 0.
- HateCheck (Röttger et al. 2021, CC-BY-4.0): a functional test suite. Its cases come from
  templates (one sentence, filled with each of 7 target groups); whole templates are split by
  a hash of `templ_id`: 50% test, 10% val, 40% train. The training script uses the train and
  val templates only with `--hatecheck`; the test templates are never trained on either way.

Davidson and ToxiGen rows are split by a hash of the cleaned text (20% / 30% test, 10% val,
the rest train), so exact duplicates (retweets) always fall on the same side.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from proctor.guards.ngrams import clean

DATA = Path("/work/shared/data")


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    toxic: int  # -1: no label for this head (left out of its training and scoring)
    hate: int
    source: str  # davidson, toxigen, clinc, self_instruct, hatecheck
    part: str  # train, val, test
    functionality: str = ""  # HateCheck's functional test


def _part(key: str, test_share: int) -> str:
    bucket = int(hashlib.md5(key.encode()).hexdigest(), 16) % 10
    if bucket < test_share:
        return "test"
    return "val" if bucket == test_share else "train"


def davidson(data: Path = DATA) -> list[Row]:
    with (data / "toxicity" / "davidson_hate_offensive.csv").open(newline="") as file:
        return [
            Row(
                r["tweet"],
                int(r["class"] != "2"),
                int(r["class"] == "0"),
                "davidson",
                _part(clean(r["tweet"]), 2),
            )
            for r in csv.DictReader(file)
        ]


def toxigen(data: Path = DATA) -> list[Row]:
    rows = []
    with (data / "toxicity" / "toxigen_demonstrations.jsonl").open() as file:
        for line in file:
            r = json.loads(line)
            label = int(r["label"])
            rows.append(Row(r["text"], label, label, "toxigen", _part(clean(r["text"]), 3)))
    return rows


def benign(data: Path = DATA) -> list[Row]:
    rows = []
    clinc_parts = {"train": "train", "oos_train": "train", "val": "val", "oos_val": "val"}
    with (data / "benign" / "clinc150_full.jsonl").open() as file:
        for line in file:
            r = json.loads(line)
            rows.append(Row(r["text"], 0, 0, "clinc", clinc_parts.get(r["split"], "test")))
    for name, part in (
        ("self_instruct_seed_tasks", "train"),
        ("self_instruct_user_oriented", "test"),
    ):
        with (data / "benign" / f"{name}.jsonl").open() as file:
            rows.extend(Row(json.loads(line)["text"], 0, 0, "self_instruct", part) for line in file)
    return rows


# HateCheck's non-hateful tests that are still abusive (threats and insults at a person or a
# non-protected group: toxic, not hate), and those whose toxicity is a matter of policy
# (profanity without a target, abuse of things, reclaimed slurs: no TOXIC label either way).
ABUSIVE = frozenset({"target_indiv_nh", "target_group_nh"})
UNDECIDED = frozenset({"profanity_nh", "target_obj_nh", "slur_reclaimed_nh"})


def _hatecheck_toxic(row: dict[str, str]) -> int:
    if row["label_gold"] == "hateful" or row["functionality"] in ABUSIVE:
        return 1
    return -1 if row["functionality"] in UNDECIDED else 0


def hatecheck(data: Path = DATA) -> list[Row]:
    with (data / "toxicity" / "hatecheck_test_suite_cases.csv").open(newline="") as file:
        return [
            Row(
                r["test_case"].strip(),
                _hatecheck_toxic(r),
                int(r["label_gold"] == "hateful"),
                "hatecheck",
                _part(r["templ_id"], 5),
                r["functionality"],
            )
            for r in csv.DictReader(file)
        ]


def training_sources(data: Path = DATA, with_hatecheck: bool = False) -> list[Row]:
    """Every row of the sources the model is trained on (all parts; the caller keeps train and
    val)."""
    rows = davidson(data) + toxigen(data) + benign(data)
    return rows + hatecheck(data) if with_hatecheck else rows
