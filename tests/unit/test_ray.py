"""executor=ray: the same acquisitions on Ray actors (a real local Ray instance, 2 CPUs)."""

import pytest



def test_actors_ask_for_a_gpu_when_the_system_runs_on_cuda():
    from types import SimpleNamespace

    from fr_eval.errors import ConfigError
    from fr_eval.ray_executor import gpus_per_worker, workers_for_gpus
    on_gpu = SimpleNamespace(providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    on_cpu = SimpleNamespace(providers=["CPUExecutionProvider"])
    deoldify_cuda = SimpleNamespace(colouriser=SimpleNamespace(device_choice="cuda:0"))
    assert gpus_per_worker(on_gpu, {}) == 1.0 and gpus_per_worker(on_cpu, {}) == 0.0
    assert gpus_per_worker(on_cpu, {"colourised[deoldify]": deoldify_cuda}) == 1.0
    assert gpus_per_worker(on_gpu, {}, 0.5) == 0.5 and gpus_per_worker(on_gpu, {}, 0) == 0.0
    assert workers_for_gpus(8, 1.0, 2.0) == 2 and workers_for_gpus(8, 0.5, 2.0) == 4
    assert workers_for_gpus(8, 0.0, 0.0) == 8
    with pytest.raises(ConfigError, match="the Ray cluster has 0 GPU"):
        workers_for_gpus(8, 1.0, 0.0)
