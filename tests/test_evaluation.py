"""Evaluation with the real base model on a small hand-made pair list: metrics, figures, report, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compat.evaluation.embeddings import distinct_statements
from compat.evaluation.evaluate import (
    clustering_quality,
    evaluate_pairs,
    run_evaluation,
    statement_attributes,
    worst_separated,
)
from compat.evaluation.figures import HistogramPanel, comparison_table, similarity_histograms, umap_figure
from compat.evaluation.metrics import pair_metrics

REPO = Path(__file__).resolve().parent.parent


def _pair(a, b, label, category, subcategory, pair_type):
    return {"text_1": f"boy: {a}", "text_2": f"girl: {b}", "label": label, "category": category,
            "subcategory": subcategory, "pair_type": pair_type}


PAIRS = [
    _pair("I'd never date a smoker", "I smoke a pack a day", 0, "habits", "smoking", "dealbreaker"),
    _pair("Cigarettes are a dealbreaker for me", "I quit smoking years ago and hate the smell", 1,
          "habits", "smoking", "compatible"),
    _pair("I smoke after every meal", "Smoking is fine by me, I do it too", 1, "habits", "smoking", "compatible"),
    _pair("I'm allergic to cigarette smoke", "I light up every morning with coffee", 0,
          "habits", "smoking", "incompatible"),
    _pair("Weekends are pajamas and a good novel", "I'd rather stay in than go clubbing", 1,
          "lifestyle", "homebody_vs_social", "compatible"),
    _pair("I love lazy Sundays at home", "I'm out every night meeting new people", 0,
          "lifestyle", "homebody_vs_social", "incompatible"),
    _pair("Clubs drain me", "Quiet nights in are my favourite", 1, "lifestyle", "homebody_vs_social", "compatible"),
    _pair("I'm the life of every party", "Crowds exhaust me, I stay home", 0,
          "lifestyle", "homebody_vs_social", "incompatible"),
    _pair("I want a big family someday", "Kids are a hard no for me", 0, "family", "kids", "dealbreaker"),
    _pair("I can't wait to be a dad", "I dream of having three children", 1, "family", "kids", "compatible"),
    _pair("I never want children", "Child-free life suits me perfectly", 1, "family", "kids", "compatible"),
    _pair("Having kids is my top priority", "I don't see children in my future", 0, "family", "kids", "incompatible"),
    _pair("I'm up at 5am for a run", "I'm an early riser who loves sunrise jogs", 1,
          "lifestyle", "sleep", "compatible"),
    _pair("I'm up at 5am for a run", "I do my best thinking at 2am", 0, "lifestyle", "sleep", "incompatible"),
    _pair("Every vacation involves a mountain trail", "Sleeping under the stars is my happy place", 1,
          "interests", "outdoors", "compatible"),
    _pair("I hike every weekend", "I hate being outdoors, bugs everywhere", 0, "interests", "outdoors", "incompatible"),
]


@pytest.fixture(scope="module")
def evaluation(base_model):
    return run_evaluation(base_model, PAIRS)


@pytest.fixture()
def pair_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    return path


CONVENTION_KEYS = ("n", "auc", "cohen_d", "t_stat", "p_value", "margin", "mean_compatible",
                   "mean_incompatible", "accuracy", "f1", "threshold", "recall_at_1", "recall_at_5")


def test_evaluate_pairs_keys_and_consistency(evaluation, base_model):
    m = evaluation.metrics
    for key in (*CONVENTION_KEYS, "recall_at_10", "auc_without_top_component", "threshold_source", "by_category",
                "by_pair_type", "clustering"):
        assert key in m, key
    assert m["n"] == len(PAIRS) and m["threshold_source"] == "this data"
    # the statistics are those of compat.evaluation.metrics on the cosines the model gives pair by pair
    direct = np.array([float(a @ b) for a, b in (base_model.embed([p["text_1"], p["text_2"]]) for p in PAIRS)])
    np.testing.assert_allclose(evaluation.similarities, direct, atol=1e-5)
    expected = pair_metrics(direct, [p["label"] for p in PAIRS])
    assert m["auc"] == pytest.approx(expected["auc"], abs=1e-6)
    assert m["cohen_d"] == pytest.approx(expected["cohen_d"], abs=1e-4)
    assert 0 <= m["recall_at_1"] <= m["recall_at_5"] <= m["recall_at_10"] <= 1
    assert sum(g["n"] for g in m["by_category"].values()) == len(PAIRS)
    assert set(m["by_pair_type"]) == {"dealbreaker", "compatible", "incompatible"}
    assert "auc" not in m["by_pair_type"]["compatible"]  # one class: no separation figures
    assert -1 <= m["clustering"]["silhouette"] <= 1 and 0 < m["clustering"]["purity"] <= 1
    assert set(m["clustering"]["silhouette_by_group"]) == {p["subcategory"] for p in PAIRS}


def test_single_preference_pairs_and_profiles_are_reported_apart(base_model):
    from compat.evaluation.evaluate import pair_shape

    generated = [{**p, "trait_1": "homebody", "trait_2": "party_goer"} for p in PAIRS[:5]]
    generated += [{**p, "trait_1": "wants_kids+gym", "trait_2": "wants_kids"} for p in PAIRS[5:]]
    assert [pair_shape(p) for p in (generated[0], generated[-1])] == ["single", "profile"]
    assert pair_shape({"pair_type": "natural_profile"}) == "profile" and pair_shape(PAIRS[0]) == "(none)"
    generated = [{**p, "rule": "same_stance" if p["label"] else "opposite_stance"} for p in generated]
    m = evaluate_pairs(base_model, generated)
    assert {k: v["n"] for k, v in m["by_shape"].items()} == {"profile": len(PAIRS) - 5, "single": 5}
    assert "auc" in m["by_shape"]["profile"] and "auc" in m["by_shape"]["single"]
    # the generator's rule behind each label, e.g. how antonym pairs fare against same-trait ones
    assert {k: v["n"] for k, v in m["by_rule"].items()} == {"opposite_stance": 8, "same_stance": 8}
    assert evaluate_pairs(base_model, PAIRS)["by_rule"].keys() == {"(none)"}


def test_validation_threshold_is_used(base_model):
    validation, test = PAIRS[::2], PAIRS[1::2]
    m = evaluate_pairs(base_model, test, validation=validation)
    own = evaluate_pairs(base_model, validation)
    assert m["threshold_source"] == "validation" and m["threshold"] == own["threshold"]
    with pytest.raises(ValueError, match="all 2 pairs are compatible"):
        evaluate_pairs(base_model, [PAIRS[1], PAIRS[2]])


def test_statements_are_embedded_once():
    statements, i1, i2 = distinct_statements(PAIRS)
    assert len(statements) == 2 * len(PAIRS) - 1  # "I'm up at 5am for a run" is in two pairs
    assert i1[12] == i1[13] and statements[i1[12]] == "I'm up at 5am for a run"
    attrs = statement_attributes(PAIRS, statements)
    assert attrs["label"][i1[12]] == "mixed" and attrs["subcategory"][i1[12]] == "sleep"


def test_clustering_quality_on_a_constructed_case():
    emb = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.14, 0.99]], dtype=np.float32)
    good = clustering_quality(emb, ["a", "a", "b", "b"])
    bad = clustering_quality(emb, ["a", "b", "a", "b"])
    assert good["purity"] == 1.0 and good["silhouette"] > 0.8 and bad["silhouette"] < 0
    assert clustering_quality(emb, ["a", "a", "a", None]) is None  # one group: nothing to measure


def test_worst_separated(evaluation):
    rows = worst_separated(PAIRS, evaluation.similarities, k=2, threshold=evaluation.metrics["threshold"])
    assert [r["kind"] for r in rows] == ["compatible, far apart"] * 2 + ["incompatible, close"] * 2
    compat_sims = sorted(s for s, p in zip(evaluation.similarities, PAIRS) if p["label"] == 1)
    assert rows[0]["similarity"] == pytest.approx(compat_sims[0]) and rows[0]["similarity"] <= rows[1]["similarity"]
    assert rows[2]["similarity"] >= rows[3]["similarity"]


def test_histogram_figure_has_the_traces_it_claims(evaluation):
    fig = similarity_histograms([
        HistogramPanel("base", evaluation.similarities, evaluation.labels, 0.4),
        HistogramPanel("tuned", evaluation.similarities[::-1], evaluation.labels, 0.6),
    ])
    names = [t.name for t in fig.data]
    assert names == ["base: compatible", "base: incompatible", "base: threshold",
                     "tuned: compatible", "tuned: incompatible", "tuned: threshold"]
    assert fig.data[2].x == (0.4, 0.4) and fig.data[5].x == (0.6, 0.6)
    assert fig.data[0].yaxis == "y" and fig.data[3].yaxis == "y2"  # one panel per model
    assert fig.layout.xaxis.matches == "x2" or fig.layout.xaxis2.matches == "x"  # shared x axis
    # each class's bars sum to 100% and count every pair of that class
    assert sum(fig.data[0].customdata) == int(evaluation.labels.sum())
    assert sum(fig.data[1].y) == pytest.approx(100.0)


def test_umap_figure_traces_and_hover():
    points = np.array([[0, 0], [1, 1], [2, 0], [0, 2]], dtype=np.float32)
    statements = ["I <b>love</b> hiking", "b", "c", "d"]
    fig = umap_figure(points, statements, ["x", "y", "x", None], "category", pair_links=[(0, 1, 1), (2, 3, 0)])
    names = [t.name for t in fig.data]
    assert names == ["compatible pairs", "incompatible pairs", "x", "y", "(none)"]
    assert fig.data[0].x == (0, 1, None) and fig.data[1].x == (2, 0, None)
    assert "&lt;b&gt;" in fig.data[2].text[0]  # statements are shown as text, never as markup
    assert len(fig.data[2].x) == 2


def test_comparison_table_change_column():
    headers, rows = comparison_table({"base": {"auc": 0.7, "p_value": 0.01}, "tuned": {"auc": 0.9, "p_value": 0.001}})
    assert headers == ["metric", "base", "tuned", "change"]
    assert rows[0] == ["ROC-AUC", "0.7000", "0.9000", "+0.2000 ▲"]
    assert rows[1][-1].endswith("▲")  # a lower p value is an improvement


def test_comparison_table_reads_each_rule_as_the_share_on_the_right_side(base_model):
    generated = [{**p, "rule": "same_stance" if p["label"] else "opposite_stance"} for p in PAIRS]
    generated[0]["rule"] = "judge"
    generated[1]["rule"] = "judge"  # one incompatible and one compatible pair: a mixed rule
    base = evaluate_pairs(base_model, generated)
    flipped = {**base, "by_rule": {r: {**g, "accuracy": 1.0} for r, g in base["by_rule"].items()}}
    headers, rows = comparison_table({"base": base, "tuned": flipped})
    by_label = {row[0]: row for row in rows}
    row = by_label["right side: opposite_stance (incompatible, 7)"]
    accuracy = base["by_rule"]["opposite_stance"]["accuracy"]
    assert row[1] == f"{accuracy:.4f}" and row[2] == "1.0000"
    assert row[3].endswith("▲") == (accuracy < 1)  # more pairs on the right side is better
    assert "right side: same_stance (compatible, 7)" in by_label and "right side: judge (mixed, 2)" in by_label
    # pairs without a rule get no rule rows
    plain = comparison_table({"base": evaluate_pairs(base_model, PAIRS)})[1]
    assert not any(r[0].startswith("right side") for r in plain)


def test_top_matches(base_model):
    from compat.evaluation.matching import top_matches

    candidates = ["girl: I smoke a pack a day", "I hike every weekend", "boy: I hike every weekend",
                  "Kids are a hard no for me", "I'd never date a smoker"]
    got = top_matches(base_model, "I love mountain trails and hiking", candidates, k=3)
    assert len(got) == 3 and got[0][0] == "I hike every weekend"  # the repeat counts once
    assert got[0][1] >= got[1][1] >= got[2][1] and got[0][2] is None  # base has no calibration
    own = top_matches(base_model, "I'd never date a smoker", candidates)
    assert all(c != "I'd never date a smoker" for c, _, _ in own)


@pytest.mark.slow
def test_report_is_written_with_the_figures(evaluation, tmp_path, monkeypatch):
    """The one test that runs UMAP. Its numba compile cache is the repository's default COMPAT_HOME's
    (not this session's throwaway one), so only the very first run pays the cold compile."""
    from compat.evaluation.report import write_report

    monkeypatch.setenv("NUMBA_CACHE_DIR", os.environ.get("NUMBA_CACHE_DIR", str(REPO / ".compat" / "numba")))

    out = write_report(tmp_path / "report.html", [evaluation, evaluation], "hand-made pairs", umap=True)
    text = out.read_text()
    assert text.count("* plotly.js v") == 1  # plotly.js inlined once
    assert text.count('class="plotly-graph-div"') == 3  # histograms + one UMAP per model
    assert "base: compatible" in text and "base: threshold" in text and "UMAP of statement embeddings" in text
    assert "I&#x27;d never date a smoker" in text or "I&#39;d never date a smoker" in text or "smoker" in text
    assert "<script src=" not in text and "<link" not in text  # self-contained: nothing fetched


def test_evaluate_cli_json(pair_file, tmp_path, capsys, base_model):
    """In-process (the model is already loaded); the bad-file test below runs the real subprocess."""
    from compat.cli import main

    code = main(["evaluate", "--model", "base", "--data", str(pair_file), "--json",
                 "--report", str(tmp_path / "r.html"), "--no-umap"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1
    result = json.loads(lines[0])
    for key in CONVENTION_KEYS:
        assert isinstance(result[key], (int, float)), key
    assert result["threshold_source"] == "this data" and "by_category" in result
    assert (tmp_path / "r.html").exists()


def test_evaluate_cli_bad_file_names_the_lines(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(PAIRS[0]) + "\n{not json\n" + json.dumps({**PAIRS[1], "label": "1"}) + "\n")
    out = subprocess.run([sys.executable, "-m", "compat", "evaluate", "--data", str(bad), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert f"{bad}:2: not valid JSON" in out.stderr and f"{bad}:3: field 'label'" in out.stderr


def test_embedding_cache_is_keyed_by_model_files_and_data(base_model, pair_file, tmp_path):
    from compat.evaluation.embeddings import cached_embeddings, data_hash, is_cached_embeddings, model_identity
    from compat.evaluation.projection import warm_pair_files

    folder = tmp_path / "st-model"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    before = model_identity(str(folder))
    (folder / "modules.json").write_text("[ ]")  # new weights/config files mean a new identity
    assert model_identity(str(folder)) != before and model_identity("base") == model_identity(base_model)
    assert data_hash(["boy: I hike", "x y"]) == data_hash(["I hike", "x  y"])  # as embedded
    statements = distinct_statements(PAIRS)[0]
    warm_pair_files(base_model, [pair_file], projection=False)
    assert is_cached_embeddings("base", statements) and not is_cached_embeddings("base", statements[:-1])
    again = cached_embeddings("base", statements)  # from the cache: the base model is not asked again
    np.testing.assert_allclose(again, base_model.embed(statements), atol=1e-5)
