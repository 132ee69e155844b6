"""training/train.py on the tiny config: one process and two CPU processes over gloo (accelerate launch), bf16
autocast, every stage runs, atomic checkpoints, TensorBoard logs, and --resume after a hard kill gives the same
final weights as an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "training" / "configs" / "tiny.yaml"
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e["T2T_TRAINING_CACHE"] = str(tmp_path_factory.mktemp("feature-cache"))
    e["OMP_NUM_THREADS"] = "1"
    e["HF_HUB_OFFLINE"] = "1"
    e.pop("CUDA_VISIBLE_DEVICES", None)
    return e


def launch(args, env, processes=1, extra=()):
    """Run train.py through ``accelerate launch`` (returns the CompletedProcess)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--num_processes", str(processes), *extra,
           str(ROOT / "training" / "train.py"), "--config", str(TINY), "--cpu", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def weights(folder: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def single_run(tmp_path_factory, env):
    out = tmp_path_factory.mktemp("single")
    r = launch(["--output_dir", str(out)], env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_single_process_runs_every_stage(single_run):
    summary = json.loads((single_run / "train_summary.json").read_text())
    assert set(summary["stage_seconds"]) == {"pretrain", "caption", "scst"}
    assert summary["global_step"] == 3 + 6 + 2
    assert summary["processes"] == 1
    stages = [h["stage"] for h in summary["history"]]
    assert "caption" in stages and "scst" in stages  # validation ran in stages 2 and 3
    assert all(np.isfinite(h["CIDEr"]) for h in summary["history"])
    # TensorBoard event files
    assert list(single_run.rglob("events.out.tfevents.*"))
    # atomic checkpoints: a valid 'latest' pointer, no temporary folders left, at most 2 kept
    ck = single_run / "checkpoints"
    latest = ck / (ck / "latest").read_text().strip()
    assert (latest / "trainer_state.json").exists()
    assert json.loads((latest / "trainer_state.json").read_text())["global_step"] == 11
    assert not list(ck.glob(".tmp-*"))
    assert len(list(ck.glob("step-*"))) <= 2


def test_exported_model_loads_and_captions(single_run):
    import t2t_hf  # noqa: F401
    from transformers import pipeline

    from t2t_hf.data.builders import generate_sim_cell

    model_dir = single_run / "model"
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
            "modeling_t2t.py"} <= names
    assert not any(n.endswith(".bin") for n in names)
    config = json.loads((model_dir / "config.json").read_text())
    assert "AutoModelForSeq2SeqLM" in config["auto_map"]
    # loss weights of the saved config are the model's own, not the last stage's
    assert config["caption_loss_weight"] == 1.0
    windows = list(generate_sim_cell("user08", "wifi", 2, seed=5))
    out = pipeline("traffic-captioning", model=str(model_dir), trust_remote_code=True)(windows)
    assert len(out) == 2 and all(isinstance(o["caption"], str) for o in out)


def test_resume_after_kill_matches_uninterrupted_run(single_run, tmp_path, env):
    out = tmp_path / "killed"
    r = launch(["--output_dir", str(out), "--kill_after_step", "6"], env)
    # the child hard-exits with 137 (as a SIGKILL would); the launcher reports the failure
    assert r.returncode != 0 and "137" in r.stdout + r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
    assert not (out / "model").exists()  # killed before the end
    state = json.loads((out / "checkpoints" / (out / "checkpoints" / "latest").read_text().strip()
                        / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    r = launch(["--output_dir", str(out), "--resume"], env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "resumed from" in r.stdout
    a, b = weights(single_run / "model"), weights(out / "model")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    ha = json.loads((single_run / "train_summary.json").read_text())["history"]
    hb = json.loads((out / "train_summary.json").read_text())["history"]
    assert [h["CIDEr"] for h in ha] == [h["CIDEr"] for h in hb]
    # the whole-command time adds the killed invocation's (up to its last checkpoint) to the resumed one's
    sb = json.loads((out / "train_summary.json").read_text())
    assert sb["invocations"] == 2 and state["invocations"] == 1
    assert sb["wall_seconds"] > state["wall_seconds"] and sb["wall_seconds"] >= sb["train_seconds"]
    assert sb["data_seconds"] > state["data_seconds"] > 0


def test_two_cpu_processes_over_gloo(tmp_path, env):
    out = tmp_path / "ddp"
    r = launch(["--output_dir", str(out)], env, processes=2, extra=["--multi_gpu"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["processes"] == 2
    assert set(summary["stage_seconds"]) == {"pretrain", "caption", "scst"}
    ck = out / "checkpoints" / (out / "checkpoints" / "latest").read_text().strip()
    assert (ck / "random_states_0.pkl").exists() and (ck / "random_states_1.pkl").exists()
    assert (out / "model" / "model.safetensors").exists()


def test_bf16_mixed_precision_on_cpu(single_run, tmp_path, env):
    """The mixed-precision path (autocast, as `mixed_precision: auto` picks bf16/fp16 on a GPU) runs every stage;
    CPUs support bf16 autocast, so it is exercised without a GPU. It really takes effect (the weights differ from
    the float32 run with the same seed) and the saved weights are float32 and finite."""
    out = tmp_path / "bf16"
    r = launch(["--output_dir", str(out), "--set", "training.mixed_precision=bf16"], env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["mixed_precision"] == "bf16" and set(summary["stage_seconds"]) == {"pretrain", "caption", "scst"}
    assert all(np.isfinite(h["CIDEr"]) for h in summary["history"])
    w, ref = weights(out / "model"), weights(single_run / "model")
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in w.values())
    assert max(float(np.abs(w[k] - ref[k]).max()) for k in w) > 1e-4


def test_fine_tune_from_a_saved_model(single_run, tmp_path, env):
    """model.init_from starts from a saved model: its weights, tokenizer and feature normalisation are kept."""
    out = tmp_path / "finetune"
    # the config's feature sizes differ from the saved model's: the saved model's win (features sized for it)
    r = launch(["--output_dir", str(out), "--set", f"model.init_from={single_run / 'model'}",
                "--set", "model.max_packets=32", "--set", "model.num_time_bins=5",
                "--set", "stages.pretrain.steps=0", "--set", "stages.scst.steps=0"], env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "initialised from" in r.stdout
    assert json.loads((out / "train_summary.json").read_text())["global_step"] == 6
    before, after = single_run / "model", out / "model"
    assert (before / "tokenizer.json").read_text() == (after / "tokenizer.json").read_text()
    pa, pb = (json.loads((d / "processor_config.json").read_text()) for d in (before, after))
    assert pa == pb  # the saved model's normalisation statistics, not refitted ones
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (before, after))
    assert {k: ca[k] for k in ("d_model", "vocab_size", "encoder_layers")} == \
        {k: cb[k] for k in ("d_model", "vocab_size", "encoder_layers")}
    wa, wb = weights(before), weights(after)
    assert wa.keys() == wb.keys()
    assert any(not np.array_equal(wa[k], wb[k]) for k in wa)  # it trained
    # a folder that is not a saved model is one clear error, not a traceback from transformers
    # (run without the accelerate launcher, which prints its own traceback when a child exits non-zero)
    r = subprocess.run([sys.executable, str(ROOT / "training" / "train.py"), "--config", str(TINY), "--cpu",
                        "--output_dir", str(tmp_path / "bad"), "--set", f"model.init_from={tmp_path}"],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "not a saved T2T model folder" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_bad_config_is_one_clear_error(tmp_path):
    from t2t_hf.errors import T2TInputError
    from training.train import load_config

    with pytest.raises(T2TInputError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  warmup: {steps: 3}\n")
    with pytest.raises(T2TInputError, match="stages.warmup: unknown key"):
        load_config(bad)
    with pytest.raises(T2TInputError, match="key.path=value"):
        load_config(TINY, ["no-equals-sign"])
    bad.write_text("training:\n  batch_size: [1\n")
    with pytest.raises(T2TInputError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("stages:\n  - pretrain\n")
    with pytest.raises(T2TInputError, match="stages: must be a mapping"):
        load_config(bad)
    # every problem at once, each named with its key; a misspelt key gets the closest known name
    cases = {"model.use_modulaton=false": "model.use_modulaton: unknown key (did you mean 'use_modulation'?)",
             "stages.caption.steps=abc": "stages.caption.steps: must be an integer, got 'abc'",
             "stages.caption.lr=abc": "stages.caption.lr: must be a number",
             "training.eval_windows=abc": "training.eval_windows: must be an integer",
             "training.batch_size=0": "training.batch_size: must be at least 1",
             "training.gradient_accumulation_steps=0": "training.gradient_accumulation_steps: must be at least 1",
             "data.num_windows=5": "data.num_windows: T2T-Sim needs at least 16 windows",
             "stages.pretrain.loss_weights.contrastiv=1": "did you mean 'contrastive'?",
             "training.mixed_precision=fp8": "training.mixed_precision: 'fp8' is not one of auto, no, fp16, bf16",
             "data.corpus=imagenet": "data.corpus: 'imagenet' is not one of"}
    with pytest.raises(T2TInputError) as e:
        load_config(TINY, list(cases))
    for message in cases.values():
        assert message in str(e.value)
    for shipped in (ROOT / "training" / "configs").glob("*.yaml"):  # the shipped configs pass
        load_config(shipped)


def test_schedule_is_a_pure_function_of_step():
    from training.train import batch_indices, lr_at

    a = batch_indices(10, 4, 0, 1, 7)
    assert np.array_equal(a, batch_indices(10, 4, 0, 1, 7))
    # one epoch = every window exactly once
    epoch = np.concatenate([batch_indices(12, 4, 0, 0, k) for k in range(3)])
    assert sorted(epoch.tolist()) == list(range(12))
    stage = {"lr": 1e-3, "warmup_steps": 10, "steps": 100, "min_lr_ratio": 0.1}
    assert lr_at(stage, 0) == pytest.approx(1e-4)
    assert lr_at(stage, 9) == pytest.approx(1e-3)
    assert lr_at(stage, 100) == pytest.approx(1e-4)
