"""The JSON bodies of the HTTP routes, strictly typed: a number is a JSON number (never a
string such as "0.5"), a flag a JSON boolean (never "yes" or 1).

The routes parse bodies themselves, in a thread beside the event loop (serve/offload.py),
with `parse`; FastAPI documents these models in /openapi.json (serve/openapi.py).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails
from typing_extensions import TypeAliasType

from serve.errors import RequestError

# A number (an integer is a number too), or a list of Numbers: observations and tensor data.
# mypy reads it as float | list[Any]: it cannot resolve a TypeAliasType that names itself
# (python/mypy#18252), and pydantic needs one for a recursive schema.
Numbers = TypeAliasType("Numbers", StrictFloat | list["Numbers"])  # type: ignore[misc]
# true/false, or a list of Booleans: an action mask's tensor data (BOOL, as Triton's JSON).
Booleans = TypeAliasType("Booleans", StrictBool | list["Booleans"])  # type: ignore[misc]
# true/false or numbers (0 and 1), or a list of Flags: a /v1 action mask, whose values
# serve/masks.py checks (a MultiDiscrete policy's may be one list per branch).
Flags = TypeAliasType("Flags", StrictBool | StrictFloat | list["Flags"])  # type: ignore[misc]
# The Open Inference Protocol's $parameter: a bool, a number or a string.
Parameter = StrictBool | StrictInt | StrictFloat | StrictStr


class Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class ActRequest(Strict):
    obs: Numbers | dict[str, Numbers] = Field(
        description="one observation, or a batch of them (nested lists of numbers); integers "
                    "in [0, 255] for a uint8 (image) input. A Dict or Tuple observation: an "
                    "object {part: observation or batch} (a Tuple's parts also as a list)")
    deterministic: StrictBool = Field(True, description="greedy actions; false samples from "
                                                        "the policy's distribution")
    state: Numbers | None = Field(
        None, description="a recurrent policy's state (its state_size in /v1/metadata): "
                          "[state_size] for one observation, [batch, state_size] for a batch; "
                          "zeros at an episode's first step, then the state the previous "
                          "answer returned. A feed-forward policy takes none")
    action_mask: Flags | None = Field(
        None, description="which actions are legal, true/false or 0/1, for a policy of "
                          "action masks (its action_mask_size in /v1/metadata): "
                          "[action_mask_size] for one observation, [batch, action_mask_size] "
                          "for a batch; a MultiDiscrete policy's also one list per branch. "
                          "Illegal actions get probability 0 and are never returned. Without "
                          "it every action is legal; a policy without masks takes none")


class ActResponse(BaseModel):
    actions: list[int] | list[list[int]] | list[list[float]] = Field(
        description="one action per observation: an integer (Discrete), one integer per "
                    "branch (MultiDiscrete) or bit (MultiBinary), or a vector (Box)")
    probs: list[list[float]] | None = Field(
        None, description="action probabilities per observation (Discrete; each branch's "
                          "side by side for MultiDiscrete; each bit's P(1) for MultiBinary)")
    mean: list[list[float]] | None = Field(
        None, description="Gaussian mean per observation (continuous policies)")
    std: list[list[float]] | None = Field(
        None, description="Gaussian standard deviation per observation (continuous policies)")
    state: list[float] | list[list[float]] | None = Field(
        None, description="a recurrent policy's state after this step, in the form the "
                          "request's was sent: pass it with the episode's next observation "
                          "(absent for a feed-forward policy)")


class InferInput(Strict):
    name: StrictStr
    shape: list[StrictInt]
    datatype: StrictStr = Field(description="FP32, or UINT8 for an image policy's input; "
                                            "BOOL (or UINT8, INT8 of 0/1) for action_mask")
    parameters: dict[str, Parameter] | None = Field(
        None, description='{"binary_data_size": N}: the values are N raw bytes after the JSON '
                          "header (binary tensor data extension)")
    data: Numbers | Booleans | None = Field(
        None, description="the values, row-major, flat or nested: numbers, or true/false "
                          "for a BOOL input")


class InferOutputRequest(Strict):
    name: StrictStr
    parameters: dict[str, Parameter] | None = Field(
        None, description='{"binary_data": true}: send this output as raw bytes')


class InferRequest(Strict):
    id: StrictStr | None = None
    parameters: dict[str, Parameter] | None = Field(
        None, description='{"binary_data_output": true}: every output as raw bytes')
    inputs: list[InferInput]
    outputs: list[InferOutputRequest] | None = Field(
        None, description="the outputs to return (default: all of the model's)")


class RepositoryIndexRequest(Strict):
    ready: StrictBool | None = Field(None, description="only the models ready for inference")


class Tensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[float] | list[int] | None = None
    parameters: dict[str, Any] | None = None


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[Tensor]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1: any size (the batch)")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str] = Field(description="the version served: 1 at start, +1 per reload")
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] = Field(
        description="the version's sha256 prefix, load time and file; the policy's env_id "
                    "and kind")


class ErrorResponse(BaseModel):
    error: str


def parse(model: type[Strict], body: bytes) -> Any:
    """`body` as `model`, or a RequestError: 400 naming the first problem and where it is
    (`inputs[0].shape[1]: Input should be a valid integer, got "4"`)."""
    try:
        return model.model_validate_json(body)
    except PydanticValidationError as exc:
        raise RequestError(400, problem(exc)) from None


def problem(exc: PydanticValidationError) -> str:
    """The most specific error of `exc` in one line."""
    error = most_specific(exc)
    if error["type"] == "json_invalid":
        return f"the body is not valid JSON: {error['ctx']['error']}"
    where = location(error["loc"])
    given = "" if error["type"] == "missing" else f", got {_short(error['input'])}"
    return f"{where or 'the body'}: {error['msg']}{given}"


def most_specific(exc: PydanticValidationError) -> ErrorDetails:
    """The error deepest in the body: for [1, true] checked against Numbers, pydantic
    reports each branch of the union; the one at obs[1] says what is wrong."""
    return max(exc.errors(include_url=False), key=lambda e: len(path_of(e["loc"])))


def path_of(loc: tuple[int | str, ...]) -> list[str | int]:
    """("obs", "list[...]", 1, "float") -> ["obs", 1]: the union's branch tags left out."""
    return [part for part in loc if isinstance(part, int) or (
        part not in ("float", "int", "bool", "str") and "[" not in part)]


def location(loc: tuple[int | str, ...]) -> str:
    """("obs", "list[...]", 1, "float") -> "obs[1]"."""
    text = ""
    for part in path_of(loc):
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
