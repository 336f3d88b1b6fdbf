"""Tables shipped precomputed in normalizers/data equal what their build scripts derive today.

They are shipped so that a process need not build them before its first record;
when an input (regions.tsv, ethnicities.tsv, OpenCC, pypinyin) changes, these
tests fail until the build script is rerun.
"""

from __future__ import annotations

import importlib.metadata
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from normalizers import addresses
from normalizers.data import build_address_chains, build_char_tables
from normalizers.names import opencc_t2s, t2s_table
from normalizers.pinyin import char_readings, data_table


def _shipped(name: str) -> str:
    return resources.files("normalizers.data").joinpath(name).read_text(encoding="utf-8")


def test_address_files_equal_a_fresh_build(tmp_path: Path) -> None:
    build_address_chains.build(tmp_path)
    for name in (build_address_chains.CHAINS_FILE, build_address_chains.DIVISIONS_FILE):
        assert (tmp_path / name).read_text(encoding="utf-8") == _shipped(name), name


def test_decoded_chains_are_the_built_dictionary() -> None:
    built = build_address_chains.chains()
    chains = addresses._chains()
    keys = chains.sorted_keys.to_list()
    assert keys == sorted(built)
    codes = zip(chains.province.to_list(), chains.city.to_list(), chains.county.to_list(), strict=True)
    assert dict(zip(keys, codes, strict=True)) == built
    # parent: the longest chain that is a proper prefix, found here the slow way
    position = {key: i for i, key in enumerate(keys)}
    expected = np.array(
        [next((position[k[:n]] for n in range(len(k) - 1, 0, -1) if k[:n] in position), -1) for k in keys]
    )
    assert np.array_equal(chains.parent, expected)


def test_char_files_equal_a_fresh_build(tmp_path: Path) -> None:
    # the files name the library versions they were derived from in their first line
    for name, package in ((build_char_tables.T2S_FILE, "opencc"), (build_char_tables.READINGS_FILE, "pypinyin")):
        installed = importlib.metadata.version(package)
        if f" {installed} " not in _shipped(name).splitlines()[0]:
            pytest.skip(f"{name} was derived from another {package} than {installed}: rerun build_char_tables")
    build_char_tables.build(tmp_path)
    for name in (build_char_tables.T2S_FILE, build_char_tables.READINGS_FILE):
        assert (tmp_path / name).read_text(encoding="utf-8") == _shipped(name), name


def test_t2s_table_rules() -> None:
    raw = opencc_t2s()
    table = t2s_table()
    assert raw["單"] == "单" and table["單"] == "单"
    assert "乾" in raw and "乾" not in table  # a standard name character OpenCC would rewrite
    assert all(len(dst) == 1 and dst not in table for dst in table.values())


def test_char_readings_apply_given_name_corrections() -> None:
    readings = char_readings()
    assert len(readings) > 40_000
    for row in data_table("given_readings.tsv"):
        assert readings[row["char"]] == row["pinyin"]
