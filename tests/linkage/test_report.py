"""report.html: self-contained, well-formed, free of personal data, small at any scale; SVG charts."""

from __future__ import annotations

import csv
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocking.pairs import COUNTS_SCHEMA
from linkage._charts import Marker, bar_chart, format_number, histogram, nice_ticks, text_width
from linkage.comparisons import default_comparisons
from linkage.model import FSModel, TrainingInfo, comparison_params
from linkage.pipeline import RunResult, run_job
from linkage.report import SECTIONS, _weight_bins, render_report, threshold_weight, write_report
from normalizers import schema as s

SAMPLE = Path(__file__).resolve().parents[2] / "linkage" / "sample" / "records.csv"
_VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}
# SVG elements the charts write self-closed
_SELF_CLOSED = {"rect", "line"}


class _Checker(HTMLParser):
    """Collects tags, attributes and text, and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed: {checker.stack}"
    return checker


def _assert_offline(page: str, checker: _Checker) -> None:
    assert "http://" not in page and "https://" not in page
    assert "script" not in checker.tags and "link" not in checker.tags
    assert not [name for name, _ in checker.attrs if name == "src"]
    # links only to the page's own sections
    assert all((v or "").startswith("#") for name, v in checker.attrs if name == "href")
    assert "@import" not in page and "url(" not in page


# ---------------------------------------------------------------- fixtures
def _model(match: float = 0.99, review: float = 0.5) -> FSModel:
    params = []
    for comp in default_comparisons():
        k = len(comp.levels) - 1
        m = np.linspace(k, 1, k)
        m /= m.sum()
        params.append(comparison_params(comp, [1.0, *m], [1.0, *m[::-1]]))
    return FSModel(
        prior=1e-4,
        match_threshold=match,
        review_threshold=review,
        comparisons=tuple(params),
        training=TrainingInfo(method="em", records=100, pairs=60, patterns=12, em_iterations=7),
    )


def _result(
    tmp_path: Path, *, model: FSModel | None = None, rule: str = "id", field: str = "id_number"
) -> RunResult:
    counts = pl.DataFrame(
        [
            {
                "rule": rule,
                "estimated_pairs": 50,
                "materialized_pairs": 50,
                "distinct_pairs": 50,
                "new_pairs": 50,
                "skipped_blocks": 0,
                "skipped_records": 0,
            },
            {
                "rule": "name_dob",
                "estimated_pairs": 90_000,
                "materialized_pairs": 40,
                "distinct_pairs": 40,
                "new_pairs": 10,
                "skipped_blocks": 2,
                "skipped_records": 900,
            },
        ],
        schema=COUNTS_SCHEMA,
    )
    reasons = pl.DataFrame(
        {
            "field": [field, field, "phone"],
            "reason": ["OK", "ID_MASKED", "MISSING"],
            "count": [90, 10, 100],
        },
        schema={"field": pl.String, "reason": pl.String, "count": pl.UInt32},
    )
    return RunResult(
        out_dir=tmp_path,
        run_id=7,
        input_rows=100,
        linked_rows=95,
        rejected_rows=5,
        persons=80,
        candidate_pairs=60,
        review_pairs=4,
        timings={"read": 0.1, "normalize": 1.5, "block": 0.2, "write": 0.05},
        blocking_counts=counts,
        cluster_summary={
            "records": 95,
            "clusters": 80,
            "edges_kept": 30,
            "edges_cut": 2,
            "edges_ignored": 0,
            "components": 79,
            "components_reclustered": 1,
            "components_broken": 1,
            "violations": {"one_resident_id": 1, "max_cluster_size": 1},
            "oversized": [250],
        },
        events={"CREATE": 78, "MERGE": 2},
        model=model or _model(),
        reasons=reasons,
    )


def _scored(n: int, seed: int = 0) -> pl.DataFrame:
    """Bimodal weights: many clear non-matches, few clear matches, as blocking produces."""
    rng = np.random.default_rng(seed)
    low = rng.normal(-12, 4, size=n - n // 20)
    high = rng.normal(18, 3, size=n // 20)
    w = np.concatenate([low, high])
    return pl.DataFrame({s.MATCH_WEIGHT: w, s.MATCH_PROBABILITY: 1 / (1 + np.exp2(-w))})


def _persons(sizes: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            s.PERSON_ID: [f"P{i:08d}" for i in range(len(sizes))],
            s.NAME_NORM: ["张三"] * len(sizes),
            "records": sizes,
            "sources": [min(x, 3) for x in sizes],
        }
    )


# ---------------------------------------------------------- report (by hand)
def test_report_is_self_contained_and_complete(tmp_path: Path) -> None:
    result = _result(tmp_path)
    path = write_report(
        tmp_path,
        result,
        scored=_scored(600),
        persons=_persons([1] * 60 + [2] * 15 + [3, 4, 7, 12, 250]),
    )
    assert path == tmp_path / "report.html"
    page = path.read_text(encoding="utf-8")
    checker = _parse(page)
    _assert_offline(page, checker)
    assert page.startswith("<!DOCTYPE html>")
    for title in SECTIONS.values():
        assert title.split(" · ")[0] in page
    text = " ".join(checker.text)
    assert result.accounting_line in text
    # thresholds as probabilities and as weights
    for value in ("0.99", "0.5", f"{threshold_weight(0.99):.2f}", f"{threshold_weight(0.5):.2f}"):
        assert value in text
    assert "review 0.5" in text and "match 0.99" in text  # the histogram's marker labels
    assert "ID_MASKED" in text and "one_resident_id" in text and "MERGE" in text
    assert "250" in text  # the oversized cluster and the largest one
    assert checker.tags.count("svg") >= 5
    ids = {v for name, v in checker.attrs if name == "id"}
    assert {v[1:] for name, v in checker.attrs if name == "href" and v} <= ids


def test_report_holds_no_personal_data(tmp_path: Path) -> None:
    persons = _persons([1, 2, 3]).with_columns(
        pl.Series(s.ID_NORM, ["110101199003077777", "11010119900307888X", None])
    )
    page = render_report(_result(tmp_path), scored=_scored(100), persons=persons)
    for value in ("P00000000", "张三", "110101199003077777", "11010119900307888X"):
        assert value not in page


def test_report_escapes_text(tmp_path: Path) -> None:
    evil = '<img src=x onerror="alert(1)">'
    page = render_report(
        _result(tmp_path, rule=evil, field=evil), scored=_scored(50), persons=_persons([1, 2])
    )
    assert evil not in page
    assert "&lt;img src=x" in page
    _parse(page)


def test_report_of_an_empty_run(tmp_path: Path) -> None:
    result = _result(tmp_path)
    empty = RunResult(
        **{
            **result.__dict__,
            "input_rows": 0,
            "linked_rows": 0,
            "rejected_rows": 0,
            "persons": 0,
            "candidate_pairs": 0,
            "review_pairs": 0,
            "timings": {},
            "events": {},
            "blocking_counts": pl.DataFrame(schema=COUNTS_SCHEMA),
            "cluster_summary": {},
            "reasons": pl.DataFrame(
                schema={"field": pl.String, "reason": pl.String, "count": pl.UInt32}
            ),
        }
    )
    scored = pl.DataFrame(schema={s.MATCH_WEIGHT: pl.Float64, s.MATCH_PROBABILITY: pl.Float64})
    page = write_report(
        tmp_path, empty, scored=scored, persons=pl.DataFrame(schema={"records": pl.UInt32})
    ).read_text("utf-8")
    checker = _parse(page)
    _assert_offline(page, checker)
    assert "No scored pairs." in page and "No persons." in page


def test_infinite_and_single_valued_weights(tmp_path: Path) -> None:
    scored = pl.DataFrame({s.MATCH_WEIGHT: [math.inf, 3.0, 3.0, -math.inf]})
    page = render_report(_result(tmp_path), scored=scored, persons=_persons([1]))
    _parse(page)
    assert "2 pairs with an infinite weight" in page


def test_report_stays_small_for_a_million_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    sizes = np.minimum(rng.geometric(0.5, size=400_000), 3_000).tolist()
    page = render_report(_result(tmp_path), scored=_scored(1_000_000), persons=_persons(sizes))
    assert len(page.encode("utf-8")) < 1_000_000 / 10
    _parse(page)


def test_thresholds_move_with_the_model(tmp_path: Path) -> None:
    page = render_report(
        _result(tmp_path, model=_model(match=0.95, review=0.2)),
        scored=_scored(200),
        persons=_persons([1]),
    )
    assert f"{threshold_weight(0.95):.2f}" in page and f"{threshold_weight(0.2):.2f}" in page
    assert "match 0.95" in page and "review 0.2" in page


# ---------------------------------------------------------- report (real run)
@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return run_job([SAMPLE], tmp_path_factory.mktemp("run"))


def test_report_of_the_sample_run(sample_run: RunResult) -> None:
    page = (sample_run.out_dir / "report.html").read_text(encoding="utf-8")
    checker = _parse(page)
    _assert_offline(page, checker)
    assert sample_run.accounting_line in " ".join(checker.text)
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = {r[s.ID_NUMBER].strip() for r in rows if len(r[s.ID_NUMBER].strip()) >= 8}
    phones = {re.sub(r"\D", "", r[s.PHONE]) for r in rows}
    record_ids = {r[s.RECORD_ID] for r in rows}
    names = {r[s.NAME].strip() for r in rows if len(r[s.NAME].strip()) >= 2}
    addresses = {r[s.ADDRESS].strip() for r in rows if len(r[s.ADDRESS].strip()) >= 4}
    digits = set(re.findall(r"\d{7,}", page))
    assert not digits & (ids | {p for p in phones if len(p) >= 7})
    assert not [v for v in ids | record_ids | names | addresses if v in page]


# ------------------------------------------------------------------ helpers
@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-9, max_value=1 - 1e-9))
def test_threshold_weight_inverts_the_probability(p: float) -> None:
    w = threshold_weight(p)
    assert math.isclose(1 / (1 + 2.0**-w), p, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=-80, max_value=80), min_size=1, max_size=300),
    st.floats(min_value=-20, max_value=20),
)
def test_weight_bins_hold_every_pair(values: list[float], threshold: float) -> None:
    w = np.array(values)
    edges, counts = _weight_bins(w, (threshold,))
    assert counts.sum() == len(values)
    assert len(edges) == len(counts) + 1 <= 63
    assert edges[0] <= min(w.min(), threshold) and edges[-1] >= max(w.max(), threshold)
    assert np.allclose(np.diff(edges), edges[1] - edges[0])


def _svg(chart: str) -> _Checker:
    assert chart.startswith("<svg") and chart.endswith("</svg>")
    checker = _Checker()
    checker.feed(chart)
    assert not checker.errors and not checker.stack
    assert "http" not in chart
    return checker


def test_bar_chart_draws_one_bar_per_value() -> None:
    chart = bar_chart(["a", "bb", "ccc"], {"x": [1, 2, 3], "y": [0, 5, 1]}, title="t")
    checker = _svg(chart)
    # 2 legend swatches + 6 bars
    assert checker.tags.count("rect") == 8
    assert "a · y: 0" in chart and "ccc · x: 3" in chart


def test_bar_chart_signed_colors_and_escaping() -> None:
    chart = bar_chart(
        ["<up>", "down & out"], {"w": [2.5, -1.0]}, signed=True, value_format=lambda v: f"{v:+.1f}"
    )
    _svg(chart)
    assert "#2e7d4f" in chart and "#b5473a" in chart
    assert "&lt;up&gt;" in chart and "down &amp; out" in chart and "<up>" not in chart
    assert "+2.5" in chart and "-1.0" in chart


def test_bar_chart_bar_lengths_are_proportional() -> None:
    chart = bar_chart(["a", "b"], {"n": [10, 40]})
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', chart)]
    assert widths[1] == pytest.approx(4 * widths[0], rel=0.01)
    logged = bar_chart(["a", "b"], {"n": [9, 999]}, log_scale=True)
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', logged)]
    assert widths[1] == pytest.approx(3 * widths[0], rel=0.01)


def test_bar_chart_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="one value per label"):
        bar_chart(["a", "b"], {"x": [1]})
    with pytest.raises(ValueError, match="non-negative"):
        bar_chart(["a"], {"x": [-1]}, log_scale=True)


def test_bar_chart_clips_long_labels_but_keeps_them_in_the_tooltip() -> None:
    label = "一条非常非常非常非常非常非常非常非常非常长的分块规则名称"
    chart = bar_chart([label], {"n": [1]})
    _svg(chart)
    assert f"<title>{label}</title>" in chart and "…" in chart


def test_histogram_skips_empty_bins_and_draws_markers() -> None:
    chart = histogram(
        [0, 1, 2, 3, 4],
        [5, 0, 1_000, 3],
        log_scale=True,
        markers=[Marker(2.5, "match 0.99"), Marker(math.nan, "ignored")],
        x_label="weight",
        y_label="pairs",
    )
    checker = _svg(chart)
    assert checker.tags.count("rect") == 3
    assert "match 0.99" in chart and "ignored" not in chart
    assert "[1, 2): 0" not in chart and "[2, 3): 1,000" in chart
    with pytest.raises(ValueError):
        histogram([0, 1], [1, 2])


def test_histogram_linear_heights_are_proportional() -> None:
    chart = histogram([0, 1, 2], [10, 20])
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', chart)]
    assert heights[1] == pytest.approx(2 * heights[0], rel=0.01)


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6))
def test_nice_ticks_cover_the_range(lo: float, span: float) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi)
    assert ticks and all(lo - 1e-6 * span <= t <= hi + 1e-6 * span for t in ticks)
    assert 2 <= len(ticks) <= 13
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0], rtol=1e-6)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567, "1,234,567"),
        (0, "0"),
        (0.5, "0.5"),
        (2.345e-5, "2.35e-05"),
        (12345.6, "12,346"),
        (math.inf, "inf"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_text_width_counts_wide_characters() -> None:
    assert text_width("张伟", 12) == 24
    assert text_width("ab", 12) < 16
