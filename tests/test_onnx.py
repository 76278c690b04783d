"""ONNX and int8 exports: the same scores as the torch model within tolerance, usable as --model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from compat.paths import DEFAULT_MODEL_DIR, REPO_ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "compat_model.json").exists(),
                                 reason="no shipped default model (run `make model`)")]

PAIR = ("boy: I'd never date a smoker", "girl: I smoke a pack a day")
STATEMENTS = [PAIR[0], PAIR[1], "Weekends are pajamas and a good novel", "I'd rather stay in than go clubbing",
              "Sunday mornings are for farmers' markets and a long run, then brunch with friends " * 3]


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory):
    from compat.export import export_model

    return export_model("default", tmp_path_factory.mktemp("onnx") / "default-onnx", fmt="onnx-int8")


def test_the_folder_is_served_from_int8_and_each_file_loads(onnx_export):
    from compat.models import load_model, resolve

    manifest = json.loads((onnx_export / "compat_export.json").read_text())
    assert manifest["serving"] == "onnx/model_qint8.onnx"
    assert resolve(str(onnx_export)) == onnx_export / "onnx" / "model_qint8.onnx"
    assert load_model(str(onnx_export)).path.name == "model_qint8.onnx"
    assert load_model(str(onnx_export / "onnx" / "model.onnx")).path.name == "model.onnx"
    assert (onnx_export / "model.safetensors").exists()  # plain SentenceTransformer(DIR) still works


def test_int8_stores_every_weight_in_8_bits_and_keeps_activations_fp32(onnx_export):
    import onnx
    from onnx import numpy_helper

    fp32_file, int8_file = onnx_export / "onnx" / "model.onnx", onnx_export / "onnx" / "model_qint8.onnx"
    int8 = onnx.load(str(int8_file))
    constants = {init.name: numpy_helper.to_array(init) for init in int8.graph.initializer}
    ops = [node.op_type for node in int8.graph.node]
    assert ops.count("MatMulNBits") == 6 * 6  # MiniLM: query, key, value, output, up and down in each of 6 layers
    assert not [n.name for n in int8.graph.node if n.op_type == "MatMul" and any(i in constants for i in n.input)]
    assert "MatMulInteger" not in ops and "DynamicQuantizeLinear" not in ops  # no activation is quantized
    tables = [a for name, a in constants.items() if name.endswith("_int8")]
    assert [(t.dtype, t.shape) for t in tables] == [(np.int8, (30522, 384))]  # the word embeddings, a scale per row
    assert int8_file.stat().st_size < 0.3 * fp32_file.stat().st_size


def test_quantizing_leaves_logging_as_it_was_and_says_nothing(onnx_export, tmp_path):
    program = f"""
import logging
from pathlib import Path
from compat.export.onnx_export import quantize_int8
quantize_int8(Path({str(onnx_export / "onnx" / "model.onnx")!r}), Path({str(tmp_path / "q.onnx")!r}))
print(len(logging.getLogger().handlers), logging.getLogger().level)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["0", "30"]  # no handler added to the root logger, still at WARNING
    assert "[INFO]" not in done.stderr  # onnxruntime's quantizer logs a line per node unless quieted


def test_onnx_fp32_matches_torch_and_int8_is_close(onnx_export):
    from compat.models import load_model
    from compat.scoring import EXAMPLE_PAIRS, score

    torch_model = load_model("default")
    fp32 = load_model(str(onnx_export / "onnx" / "model.onnx"))
    int8 = load_model(str(onnx_export))
    reference = torch_model.embed(STATEMENTS)
    assert np.abs(fp32.embed(STATEMENTS) - reference).max() < 1e-4
    assert np.abs(int8.embed(STATEMENTS) - reference).max() < 0.05
    want = score(*PAIR, torch_model)
    got_fp32, got_int8 = score(*PAIR, fp32), score(*PAIR, int8)
    assert got_fp32.cosine == pytest.approx(want.cosine, abs=1e-5)
    assert got_fp32.probability == pytest.approx(want.probability, abs=1e-5)
    assert got_int8.cosine == pytest.approx(want.cosine, abs=0.01)
    assert got_int8.probability == pytest.approx(want.probability, abs=0.01)
    for first, second, *_ in EXAMPLE_PAIRS:  # the Score tab's examples, as a user first sees them
        assert score(first, second, int8).cosine == pytest.approx(score(first, second, torch_model).cosine, abs=0.01)


def test_score_evaluate_and_match_take_the_export_without_torch(onnx_export, tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("I smoke a pack a day\nClubs drain me\nI'd rather stay in than go clubbing\n")
    program = f"""
import json, sys
from compat.scoring import score
from compat.evaluation.evaluate import run_evaluation
from compat.pairs import load_pairs
from compat.evaluation.pool import match_pool, read_pool
s = score({PAIR[0]!r}, {PAIR[1]!r}, {str(onnx_export)!r})
e = run_evaluation({str(onnx_export)!r}, load_pairs({str(REPO_ROOT / 'data' / 'test.jsonl')!r})[:60])
m, _ = match_pool({str(onnx_export)!r}, read_pool({str(pool)!r}), "I'd never date a smoker", 2)
print(json.dumps({{"cosine": s.cosine, "auc": e.metrics["auc"], "matches": len(m), "torch": "torch" in sys.modules}}))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COMPAT_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert -1 <= result["cosine"] <= 1 and 0 <= result["auc"] <= 1 and result["matches"] == 2
    assert result["torch"] is False  # serving from ONNX needs neither torch nor transformers


def test_onnx_refuses_an_onnx_source_and_bad_formats(onnx_export, tmp_path):
    from compat.export import ExportError, export_model

    with pytest.raises(ExportError, match="ONNX"):
        export_model(str(onnx_export), tmp_path / "again")
    with pytest.raises(ExportError, match="--format 'tflite'"):
        export_model("default", tmp_path / "x", fmt="tflite")
