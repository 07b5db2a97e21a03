"""scripts/gpu_check.py, the one-command check of every CUDA path (docs/gpu.md).

CI has no GPU: it runs the same script at tiny sizes on the CPU (`--device cpu --tiny`), so
that every check's code runs and the script cannot rot before a GPU comes. The CUDA-only
checks (sync_bn, compile_infer, cuda_graphs) must say SKIP with their reason; their shared
code is run here in-process with eager copies. The runner's bounded waits are tested on real
processes that hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))

from gpucheck.part import Part  # noqa: E402
from gpucheck.plan import NAMES, Check  # noqa: E402
from gpucheck.sizes import TINY  # noqa: E402

CUDA_ONLY = {"sync_bn", "compile_infer", "cuda_graphs"}


@pytest.mark.slow  # the whole tiny run: ~1 min on 2 quiet cores (several processes, torchrun x2)
def test_tiny_cpu_run_passes_every_check(tmp_path):
    out = tmp_path / "gpu.json"
    run = subprocess.run(
        [
            "bash",
            str(SCRIPTS / "gpu_check.sh"),
            "--device",
            "cpu",
            "--tiny",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
            "--budget",
            "900",  # a cap for a loaded CI machine; the run itself takes ~1-3 minutes
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["status"] == "PASS" and result["exit_code"] == 0
    assert result["device"] == "cpu" and result["tiny"] is True
    checks = result["checks"]
    assert list(checks) == list(NAMES)
    for name, rec in checks.items():
        want = "SKIP" if name in CUDA_ONLY else "PASS"
        assert rec["status"] == want, (name, rec)
        if want == "SKIP":
            assert rec["reason"]
        else:
            assert rec["summary"] and rec["seconds"] > 0
    # one line per check on stdout, named as in the JSON
    statuses = {"PASS", "FAIL", "SKIP", "TIMEOUT"}
    lines = [ln.split() for ln in run.stdout.splitlines()]
    assert [w[0] for w in lines if len(w) > 1 and w[1] in statuses] == list(NAMES)
    assert result["env"]["torch"] and result["env"]["cpu"]["cores"] >= 1
    # fast vs reference: fp64 gradients agree, fp32 within the bound, for the three units
    exact = checks["fast_vs_reference"]["details"]
    assert set(exact) == {"mrst_t_net", "mrst_s_net", "mrst_p_net"}
    for r in exact.values():
        assert r["fp64_train"]["param_grad_rel"] < 1e-7
        assert r["fp32_train"]["ok"] and r["fp32_eval"]["ok"]
    step = checks["bf16_train_step"]["details"]["step"]
    assert step["finite"] and step["grad_cosine"] > 0.9
    assert checks["ddp"]["details"]["world_size"] == 2
    assert checks["ddp"]["details"]["backend"] == "gloo"
    run_ = checks["train"]["details"]["run"]
    assert run_["losses"][-1] < run_["losses"][0] and run_["nproc"] == 2
    assert checks["compile"]["details"]["step"]["backend"] == "aot_eager"
    # throughput: eager training and inference at both tiny batch sizes, compiled training
    rows = {(e["what"], e["variant"], e["batch"]) for e in result["throughput"]}
    for b in TINY.batches:
        assert ("train", "eager", b) in rows and ("infer", "eager", b) in rows
    assert ("train", "compiled", TINY.compiled_batches[0]) in rows
    assert any(e["model"] == "c3d_mrst_t" for e in result["throughput"])  # Table 2's backbone
    assert all(e["clips_per_s"] > 0 for e in result["throughput"])
    assert "estimates" not in result  # tiny sizes estimate nothing


def test_compared_copies_record_their_error_and_speed(tmp_path):
    """compile_infer's and cuda_graphs' shared code, with eager copies (no compilation)."""
    import torch
    from gpucheck import infer

    @dataclass
    class Ctx:
        name: str
        device: torch.device
        sizes: object
        part: Part

    ctx = Ctx("compile_infer", torch.device("cpu"), TINY, Part(tmp_path / "part.json"))
    status, summary = infer._compared(ctx, "eager", TINY.batches[:1], compile=False)
    assert status == "PASS", summary
    (entry,) = json.loads((tmp_path / "part.json").read_text())["throughput"]
    assert entry["rel_err_vs_eager"] == 0.0 and entry["clips_per_s"] > 0
    assert entry["check"] == "compile_infer" and entry["compiled"] is False


def _runner(tmp_path, command: list[str], limit: int):
    """The real runner, with one check whose process is `command`."""
    import gpu_check

    class OneCommand(gpu_check.Runner):
        def argv_for(self, check, part):
            return [*command, str(part)]

    args = gpu_check.parse(
        ["--device", "cpu", "--tiny", "--workdir", str(tmp_path), "--out", str(tmp_path / "r.json")]
    )
    return OneCommand(args), Check("env", "a test command", "env:env", limit, limit)


HANG_AFTER_A_RESULT = """
import sys, time
sys.path.insert(0, {scripts!r})
from gpucheck.part import Part
part = Part(sys.argv[1])
part.add_throughput({{"check": "env", "what": "train", "clips_per_s": 1.0}})
part.detail("measured", 42)
time.sleep(600)
"""


def test_a_hanging_check_is_stopped_and_keeps_what_it_measured(tmp_path):
    code = HANG_AFTER_A_RESULT.format(scripts=str(SCRIPTS))
    runner, check = _runner(tmp_path, [sys.executable, "-c", code], limit=3)
    t0 = time.monotonic()
    rec = runner.run_check(check)
    assert time.monotonic() - t0 < 30
    assert rec["status"] == "TIMEOUT" and rec["budget_cut"] is False
    assert "its own limit" in rec["reason"]
    assert rec["details"] == {"measured": 42}
    assert runner.result["throughput"] == [{"check": "env", "what": "train", "clips_per_s": 1.0}]


def test_the_overall_budget_bounds_every_check(tmp_path):
    runner, check = _runner(tmp_path, [sys.executable, "-c", "import time; time.sleep(600)"], 300)
    runner.deadline = time.monotonic() + 10.5  # what is left of the budget, below the check's own
    rec = runner.run_check(check)
    assert rec["status"] == "TIMEOUT" and rec["budget_cut"] is True
    assert rec["limit_s"] <= 10.5
    runner.deadline = time.monotonic() + 1  # nothing left: not started at all
    assert runner.run_check(check) == {
        "status": "SKIP",
        "reason": "the overall budget is spent",
        "budget_cut": True,
    }


def test_a_crashed_check_is_a_failure_with_its_log(tmp_path):
    crash = "import sys; print('boom: the driver said no'); sys.exit(3)"
    runner, check = _runner(tmp_path, [sys.executable, "-c", crash], limit=60)
    rec = runner.run_check(check)
    assert rec["status"] == "FAIL"
    assert rec["error"] == "its process exited 3 without a result"
    assert "boom: the driver said no" in rec["log_tail"]


def test_cpu_without_tiny_and_cuda_without_a_gpu_are_refused(tmp_path):
    import gpu_check

    assert gpu_check.main(["--device", "cpu", "--workdir", str(tmp_path)]) == 2
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "gpu.json"
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "gpu_check.py"),
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "w"),
            "--only",
            "env",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "CUDA is not available" in run.stderr and "--device cpu --tiny" in run.stderr
    result = json.loads(out.read_text())
    assert result["status"] == "CANNOT RUN" and result["checks"]["env"]["status"] == "FAIL"
    assert result["env"]["cuda_available"] is False  # the environment is still recorded


def test_only_merges_into_the_previous_results(tmp_path):
    import gpu_check

    out = tmp_path / "r.json"
    previous = {
        "schema": 1,
        "device": "cpu",
        "tiny": True,
        "started": "earlier",
        "checks": {"ddp": {"status": "PASS"}, "throughput": {"status": "TIMEOUT"}},
        "throughput": [{"check": "throughput", "clips_per_s": 1.0}, {"check": "ddp"}],
    }
    out.write_text(json.dumps(previous))
    args = gpu_check.parse(
        [
            "--device",
            "cpu",
            "--tiny",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path),
            "--only",
            "throughput",
        ]
    )
    result = gpu_check.Runner(args).result
    assert result["checks"] == {"ddp": {"status": "PASS"}}  # throughput is rerun, ddp kept
    assert result["throughput"] == [{"check": "ddp"}]
    assert result["merged"][0]["started"] != "earlier"


def test_the_argv_of_a_check_names_its_process_count(tmp_path):
    import gpu_check

    args = gpu_check.parse(["--device", "cuda", "--workdir", str(tmp_path)])
    runner = gpu_check.Runner(args)
    from gpucheck.plan import by_name

    for gpus, check, want in (
        (1, "ddp", ["1", "nccl"]),
        (1, "sync_bn", ["2", "gloo"]),  # two processes share the one GPU
        (4, "sync_bn", ["4", "nccl"]),
    ):
        runner.gpus = gpus
        argv = runner.argv_for(by_name(check), tmp_path / "p.json")
        assert argv[argv.index("--nproc_per_node") + 1] == want[0]
        assert argv[argv.index("--backend") + 1] == want[1]
        assert ("--sync-bn" in argv) == (check == "sync_bn")


def test_estimates_follow_the_formula_from_the_fastest_rows():
    from gpucheck import report

    rows = [
        {
            "what": "train",
            "model": "mrst_t_net",
            "variant": "eager",
            "batch": 8,
            "clips_per_s": 900.0,
        },
        {
            "what": "train",
            "model": "mrst_t_net",
            "variant": "eager",
            "batch": 32,
            "clips_per_s": 100.0,
        },
        {
            "what": "train",
            "model": "mrst_t_net",
            "variant": "compiled",
            "batch": 32,
            "clips_per_s": 200.0,
        },
        {
            "what": "infer",
            "model": "mrst_t_net",
            "variant": "eager",
            "batch": 32,
            "clips_per_s": 600.0,
        },
        {"what": "train", "model": "c3d", "variant": "eager", "batch": 32, "oom": True},
    ]
    est = report.estimates(rows)
    k400 = est["kinetics400_scratch"]
    # the largest batch size's fastest row: compiled b32 (b8's 900 is another batch size)
    assert k400["train_from"] == "compiled b32" and k400["train_clips_per_s"] == 200.0
    hours = (60 * 240_000 / 200 + (60 * 60_000 + 400_000) / 600) / 3600
    assert k400["hours"] == round(hours, 1)
    ucf = est["ucf101_finetune_3_splits"]
    assert ucf["hours"] == round(
        3 * (30 * 9_582 / 200 + (30 * 3_738 * 3 + 3_738 * 20) / 600) / 3600, 1
    )
    assert "table2_kinetics_c3d" not in est  # out of memory: no rate, no estimate
