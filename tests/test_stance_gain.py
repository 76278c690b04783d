"""The stance gain (compat.stance_gain): chosen on validation only when it helps, and the same map in numpy,
in a sentence-transformers model and in a saved model folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compat.stance_gain import StanceGain, append_to_encoder, choose_stance_gain, fit_direction, pick_gain


def statements(seed: int, stance_scale: float, topics: int = 8, per_topic: int = 12):
    """Unit vectors = a large shared component + a topic direction + a stance (+1/-1) along one axis,
    the shape a fine-tuned model's embeddings take here; returns (embeddings, topic of each, stance of each)."""
    rng = np.random.default_rng(seed)
    dim = 32
    shared, stance_axis = np.eye(dim)[0], np.eye(dim)[1]
    topic_dirs = rng.normal(size=(topics, dim))
    topic_dirs[:, :2] = 0
    topic_dirs /= np.linalg.norm(topic_dirs, axis=1, keepdims=True)
    topic = np.repeat(np.arange(topics), per_topic)
    stance = np.tile([1.0, -1.0], topics * per_topic // 2)
    x = 3.0 * shared + 0.5 * topic_dirs[topic] + stance_scale * stance[:, None] * stance_axis
    x += 0.15 * rng.normal(size=x.shape)  # wording: each statement its own, as large as the stance
    return x / np.linalg.norm(x, axis=1, keepdims=True), topic, stance


def pairs_of(topic: np.ndarray, stance: np.ndarray):
    """Every pair of two statements on one topic, label 1 for the same stance."""
    i1, i2, labels = [], [], []
    n = len(topic)
    for a in range(n):
        for b in range(a + 1, n):
            if topic[a] == topic[b]:
                i1.append(a), i2.append(b), labels.append(int(stance[a] == stance[b]))
    return np.array(i1), np.array(i2), labels


def test_a_gain_is_chosen_when_one_small_axis_carries_stance_and_it_raises_auc():
    train, _, _ = statements(0, stance_scale=0.3)
    val, topic, stance = statements(1, stance_scale=0.3)
    i1, i2, labels = pairs_of(topic, stance)
    chosen, rows = choose_stance_gain(train, val, i1, i2, labels, base_recall_at_5=0.0)
    assert chosen is not None and chosen.gain == max(rows[1:], key=lambda r: r["auc"])["gain"]
    assert rows[0]["gain"] is None and max(r["auc"] for r in rows[1:]) > rows[0]["auc"]
    direction = np.asarray(chosen.direction)
    assert abs(direction[1]) > 0.9  # the stance axis, not the shared component (centred away)


def test_the_rule_weighs_auc_against_recall_at_5():
    rows = [{"gain": None, "auc": 0.68, "recall_at_5": 0.20},
            {"gain": 2.0, "auc": 0.69, "recall_at_5": 0.16},
            {"gain": 3.0, "auc": 0.70, "recall_at_5": 0.14},
            {"gain": 4.0, "auc": 0.70, "recall_at_5": 0.15}]
    assert pick_gain(rows, base_recall_at_5=0.15) == 4.0  # 3.0 falls below the base's recall; 4.0 holds it
    assert pick_gain(rows, base_recall_at_5=0.155) == 2.0
    assert pick_gain(rows, base_recall_at_5=0.30) is None  # the floor is the lower of the two: the model's 0.20
    assert pick_gain([rows[0], {**rows[1], "recall_at_5": 0.20}], base_recall_at_5=0.30) == 2.0
    assert pick_gain([rows[0], {**rows[1], "auc": 0.68}], base_recall_at_5=0.0) is None  # must raise AUC
    assert pick_gain([rows[0], {**rows[2], "recall_at_5": 0.2}, {**rows[3], "recall_at_5": 0.2}], 0.0) == 3.0


def test_the_map_centres_weighs_and_renormalises():
    x, _, _ = statements(2, stance_scale=0.3)
    mean, direction = fit_direction(x)
    gained = StanceGain(tuple(mean), tuple(direction), 3.0)
    out = gained.apply(x)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    centred = (x - mean) / np.linalg.norm(x - mean, axis=1, keepdims=True)
    along = np.abs(out @ direction).mean()
    assert along > np.abs(centred @ direction).mean()  # the direction counts for more after the gain
    assert StanceGain.from_json(json.loads(json.dumps(gained.to_json()))) == gained
    with pytest.raises(ValueError, match="one size"):
        StanceGain.from_json({"gain": 2.0, "mean": [0.0, 1.0], "direction": [1.0]})


def test_the_dense_layer_in_a_sentence_transformer_is_the_same_map(base_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from compat.models import load_base_encoder

    texts = ["I smoke a pack a day", "I'd never date a smoker", "Weekends are pajamas and a novel",
             "I'd rather stay in than go clubbing", "Up at 5am for a run", "I do my best thinking at 2am"]
    plain = base_model.embed(texts)
    mean, direction = fit_direction(plain)
    gained = StanceGain(tuple(map(float, mean)), tuple(map(float, direction)), 2.0)
    encoder = load_base_encoder()
    append_to_encoder(encoder, gained)
    assert [type(m).__name__ for m in encoder][-2:] == ["Dense", "Normalize"]
    as_module = encoder.encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(as_module, gained.apply(plain), atol=2e-5)
    encoder.save(str(tmp_path / "st"))  # a plain sentence-transformers folder: no compat code needed to load it
    reloaded = SentenceTransformer(str(tmp_path / "st"), device="cpu", local_files_only=True)
    np.testing.assert_allclose(reloaded.encode(texts, convert_to_numpy=True), as_module, atol=1e-6)


def test_a_broken_stance_gain_in_a_model_folder_is_named(tmp_path):
    import shutil

    from compat.models import MODEL_FILE, ModelNotFound, default_available, load_model
    from compat.paths import DEFAULT_MODEL_DIR

    if not default_available():
        pytest.skip("no shipped default model in this checkout (make model)")
    run = tmp_path / "run"
    shutil.copytree(DEFAULT_MODEL_DIR / "adapter", run / "adapter")
    info = json.loads((DEFAULT_MODEL_DIR / MODEL_FILE).read_text())
    info["stance_gain"] = {"gain": 2.0, "mean": [0.0] * 384, "direction": [1.0] * 383}
    (run / MODEL_FILE).write_text(json.dumps(info))
    with pytest.raises(ModelNotFound, match=r"compat_model.json: stance_gain: .*one size"):
        load_model(str(run))
