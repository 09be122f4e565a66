"""serve: run a keras_pg `policy.onnx` with onnxruntime alone -- no TensorFlow.

    import serve
    policy = serve.OnnxPolicy("runs/cartpole/policy.onnx")
    action = policy.act(observation)                       # greedy, a Python int
    result = serve.run_episodes(policy, episodes=100)      # in the env it was trained in

serve.contract names the ONNX contract (inputs, outputs, metadata keys), for export/ too.
Importing serve loads numpy and onnxruntime only; gymnasium is imported by the episode loop
and FastAPI/uvicorn by the HTTP service (serve.http), when they are used.
"""

from typing import Any

from serve.policy import NonFiniteOutputError, OnnxPolicy, PolicyLoadError

__version__ = "0.2.0"  # of keras-pg and keras-pg-serve alike: both pyproject.toml files read it


def run_episodes(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See serve.episodes.run_episodes (imported on first use: it needs gymnasium)."""
    from serve.episodes import run_episodes as run

    return run(*args, **kwargs)


__all__ = ["NonFiniteOutputError", "OnnxPolicy", "PolicyLoadError", "__version__",
           "run_episodes"]
