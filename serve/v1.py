"""keras-pg's own routes, /v1: actions for observations, and the policy's metadata.

    POST /v1/act       {"obs": [...] or [[...], ...], "deterministic": true}; a Dict (Tuple)
                       observation: {"obs": {"image": ..., "direction": ...}} (also
                       {"obs": [part0, part1]}), each part one observation or a batch
                       -> {"actions": [...], "probs": [[...], ...]}  (discrete)
                       -> {"actions": [[...]], "probs": [[...], ...]}  (MultiDiscrete,
                          MultiBinary: one integer per branch or bit)
                       -> {"actions": [[...]], "mean": [[...]], "std": [[...]]}  (continuous)
                       A recurrent policy's request also carries "state" ([S] for one
                       observation, [B, S] for a batch: zeros at an episode's first step),
                       and its answer the next state, "state", in the same form. A policy
                       of action masks also takes "action_mask" ([P] or [B, P] of
                       true/false or 0/1; without it every action is legal)
    GET  /v1/metadata  the ONNX metadata, observation shape and dtype, action space, state
                       size (null: feed-forward), action mask size (null: no masks), and
                       the version served (serve/models.py)

The service keeps no state between requests: the client carries a recurrent policy's state.
Errors: a body of the wrong form 422, observations (or a state, or an action mask) of the
wrong shape or range, a state missing for a recurrent policy or given to a feed-forward one,
a mask allowing no action or given to a policy without masks 400, a batch over --max-batch
413, a policy output that is NaN or inf 422; all {"detail": "message"}.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from serve.codec import ActInput, decode_act, encode_act
from serve.errors import Failure, error_response
from serve.models import ServedModel
from serve.offload import Offload
from serve.openapi import body_of
from serve.policy import NonFiniteOutputError, OnnxPolicy
from serve.schemas import ActRequest, ActResponse

ACT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "observations (or a state, or an action mask) of the wrong shape "
                         "or range, or NaN; a state missing for a recurrent policy, or given "
                         "to a feed-forward one; an action mask allowing no action in a row, "
                         "or given to a policy without masks"},
    413: {"description": "body over --max-body-bytes, or batch over --max-batch"},
    422: {"description": "a body of the wrong form (strict types), or a policy output that is "
                         "NaN or inf"}}


def v1_router(model: ServedModel, offload: Offload, max_batch: int) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/act", response_model=ActResponse, responses=ACT_ERRORS,
                 openapi_extra=body_of(ActRequest))
    async def act(request: Request) -> Response:
        body = await request.body()
        policy = model.current.policy  # one version for the whole request
        decode = functools.partial(decode_act, body, policy.observation_shape,
                                   policy.observation_dtype, policy.observation_parts, max_batch,
                                   policy.state_size, policy.mask_spec)
        answer = await offload.respond(len(body), decode, functools.partial(decide, policy),
                                       encode_act)
        if isinstance(answer, Failure):
            return error_response("/v1/act", answer.status, answer.message)
        return Response(answer, media_type="application/json")

    @router.get("/v1/metadata")
    async def metadata() -> dict[str, Any]:
        served = model.current
        policy = served.policy
        parts = policy.observation_parts
        return {"metadata": policy.metadata, "observation_shape": list(policy.observation_shape),
                "observation_dtype": str(policy.observation_dtype),
                "observation_parts": None if parts is None else {
                    name: {"shape": list(shape), "dtype": str(dtype)}
                    for name, (shape, dtype) in parts.items()},
                "action_space": policy.action_space, "state_size": policy.state_size,
                "action_mask_size": policy.action_mask_size,
                "model": {"name": model.name, **served.describe()}}

    return router


def decide(policy: OnnxPolicy, decoded: ActInput
           ) -> tuple[np.ndarray, dict[str, np.ndarray], bool] | Failure:
    """(actions, distribution -- with next_state for a recurrent policy --, whether one
    observation was sent) for a decoded /v1/act body."""
    try:
        actions, distribution = policy.decide(decoded.obs, decoded.state, decoded.deterministic,
                                              decoded.action_mask)
    except NonFiniteOutputError as exc:
        return Failure(422, str(exc))
    except ValueError as exc:
        return Failure(400, str(exc))
    return actions, distribution, decoded.single
