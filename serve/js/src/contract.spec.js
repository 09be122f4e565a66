// generated from serve/contract.json by `python -m serve.contract_render --write`; do not edit.
export default /** @type {const} */ ({
  "//": "The ONNX contract of a keras_pg policy.onnx, its one source: serve/contract.py reads this file; serve/js/src/contract-names.js and the contract's tables in docs/contract.md are generated from it (python -m serve.contract_render --write), and a test fails when a generated copy is stale.",
  "version": 6,
  "supported_versions": [
    1,
    2,
    3,
    4,
    5,
    6
  ],
  "names": {
    "INPUT": "obs",
    "PROBS": "probs",
    "MEAN": "mean",
    "STD": "std",
    "ACTION": "action",
    "BATCH_DIM": "batch",
    "STATE": "state",
    "NEXT_STATE": "next_state",
    "ACTION_MASK": "action_mask"
  },
  "input": {
    "name": "INPUT",
    "shape": [
      "BATCH_DIM",
      "*obs_shape"
    ],
    "observation_spaces": [
      "Box",
      "Discrete",
      "MultiDiscrete",
      "MultiBinary",
      "Dict",
      "Tuple"
    ],
    "dtype": "float32",
    "image_dtype": "uint8",
    "image": {
      "type": "Box",
      "dtype": "uint8",
      "rank": 3
    },
    "since": {
      "image_dtype": 2,
      "parts": 4
    },
    "description": "raw observations (`[batch]` for a Discrete observation space, `[batch, k]` for a MultiDiscrete or MultiBinary one); `batch` is dynamic. uint8 when the observation space is a Box of dtype uint8 and shape (H, W, C): raw frames, which the graph scales to [0, 1]. A Dict or Tuple observation space (since 4) has no `obs` input but one input per part, named after the part (a Dict's key, a Tuple's position `0`, `1`, ...), each with its part's dtype and shape by the same rules",
    "structured": [
      "Dict",
      "Tuple"
    ]
  },
  "policy_kinds": {
    "categorical": {
      "action_space": "Discrete",
      "outputs": [
        {
          "name": "PROBS",
          "dtype": "float32",
          "shape": [
            "BATCH_DIM",
            "action_size"
          ],
          "description": "action probabilities (softmax of the logits)"
        },
        {
          "name": "ACTION",
          "dtype": "int64",
          "shape": [
            "BATCH_DIM"
          ],
          "description": "the greedy action (argmax), computed in the graph"
        }
      ]
    },
    "gaussian": {
      "action_space": "Box",
      "outputs": [
        {
          "name": "MEAN",
          "dtype": "float32",
          "shape": [
            "BATCH_DIM",
            "action_size"
          ],
          "description": "the Gaussian mean"
        },
        {
          "name": "STD",
          "dtype": "float32",
          "shape": [
            "BATCH_DIM",
            "action_size"
          ],
          "description": "exp(log_std)"
        },
        {
          "name": "ACTION",
          "dtype": "float32",
          "shape": [
            "BATCH_DIM",
            "action_size"
          ],
          "description": "the mean clipped to the action bounds"
        }
      ]
    },
    "multi_categorical": {
      "action_space": "MultiDiscrete",
      "outputs": [
        {
          "name": "PROBS",
          "dtype": "float32",
          "shape": [
            "BATCH_DIM",
            "action_size"
          ],
          "description": "each branch's probabilities (softmax of its logits), the branches side by side in the order of `nvec`"
        },
        {
          "name": "ACTION",
          "dtype": "int64",
          "shape": [
            "BATCH_DIM",
            "action_branches"
          ],
          "description": "each branch's greedy action (argmax), computed in the graph"
        }
      ]
    },
    "bernoulli": {
      "action_space": "MultiBinary",
      "outputs": [
        {
          "name": "PROBS",
          "dtype": "float32",
          "shape": [
            "BATCH_DIM",
            "action_size"
          ],
          "description": "each bit's probability of 1 (sigmoid of its logit)"
        },
        {
          "name": "ACTION",
          "dtype": "int64",
          "shape": [
            "BATCH_DIM",
            "action_branches"
          ],
          "description": "the greedy bits: 1 where a bit's probability of 1 is above 1/2 (its logit above 0), computed in the graph"
        }
      ]
    }
  },
  "action_size": {
    "Discrete": "n",
    "Box": "shape[0]",
    "MultiDiscrete": "sum(nvec)",
    "MultiBinary": "n"
  },
  "wire": {
    "batch_only_dims": [
      1
    ],
    "description": "In the Open Inference Protocol (python -m serve's /v2 over REST and gRPC, and Triton) a tensor whose only dimension is the batch -- a discrete policy's `action`, a Discrete observation space's `obs` -- travels as [batch, 1]: Triton's config declares it `dims: [ 1 ]` with `reshape: { shape: [ ] }`, and its clients see [batch, 1]. Every other tensor travels with the graph's shape."
  },
  "triton": {
    "platform": "onnxruntime_onnx",
    "max_batch_size": 8192,
    "max_queue_delay_microseconds": 100,
    "model_file": "model.onnx",
    "config_file": "config.pbtxt"
  },
  "metadata": [
    {
      "const": "CONTRACT_VERSION_KEY",
      "key": "contract_version",
      "since": 1,
      "required": true,
      "example": "4",
      "description": "the contract this file follows; readers refuse a version they do not know in one line"
    },
    {
      "const": "PRODUCER_KEY",
      "key": "producer",
      "since": 1,
      "required": false,
      "example": "\"keras_pg 0.1.0\"",
      "description": "what wrote the file"
    },
    {
      "const": "POLICY_KIND_KEY",
      "key": "policy_kind",
      "since": 1,
      "required": true,
      "example": "\"categorical\"",
      "description": "`\"categorical\"` (Discrete actions), `\"gaussian\"` (Box actions), `\"multi_categorical\"` (MultiDiscrete actions, since 4) or `\"bernoulli\"` (MultiBinary actions, since 4): which outputs the graph has"
    },
    {
      "const": "ENV_ID_KEY",
      "key": "env_id",
      "since": 1,
      "required": true,
      "example": "\"CartPole-v1\"",
      "description": "a registered id (`\"CartPole-v1\"`), `\"module:EnvId\"` (gymnasium imports the module, which registers the id), or `\"<module.function>\"` for a Python env factory, which no runtime can rebuild"
    },
    {
      "const": "ENV_KWARGS_KEY",
      "key": "env_kwargs",
      "since": 2,
      "required": true,
      "example": "{}",
      "description": "the `gymnasium.make` keyword arguments, a JSON object (`{}` when none)"
    },
    {
      "const": "MAX_EPISODE_STEPS_KEY",
      "key": "max_episode_steps",
      "since": 2,
      "required": true,
      "example": "500",
      "description": "the TimeLimit the policy was trained with, or null"
    },
    {
      "const": "OBSERVATION_SPACE_KEY",
      "key": "observation_space",
      "since": 1,
      "required": true,
      "example": "{\"type\": \"Box\", \"shape\": [4], \"dtype\": \"float32\", \"low\": [...], \"high\": [...]}",
      "description": "a Box (unbounded entries are `\"inf\"` / `\"-inf\"`), `{\"type\": \"Discrete\", \"n\": 16, \"start\": 0}`, a MultiDiscrete or MultiBinary space, or (since 4) `{\"type\": \"Dict\", \"spaces\": {\"direction\": {...}, \"image\": {...}}}` or `{\"type\": \"Tuple\", \"spaces\": [{...}, ...]}` of those, whose parts are the inputs"
    },
    {
      "const": "ACTION_SPACE_KEY",
      "key": "action_space",
      "since": 1,
      "required": true,
      "example": "{\"type\": \"Discrete\", \"n\": 2, \"start\": 0}",
      "description": "a Discrete space, a Box of one dimension with finite bounds, `{\"type\": \"MultiDiscrete\", \"nvec\": [3, 4]}` (branches of 3 and 4 actions, each starting at 0) or `{\"type\": \"MultiBinary\", \"n\": 4}`"
    },
    {
      "const": "TRAINING_CONFIG_KEY",
      "key": "training_config",
      "since": 1,
      "required": false,
      "example": "{...}",
      "description": "the run's `config.json` (null when exported from a bare model)"
    },
    {
      "const": "ENV_STEPS_KEY",
      "key": "env_steps",
      "since": 1,
      "required": false,
      "example": "90662",
      "description": "environment steps trained, from `summary.json` (null when unknown)"
    },
    {
      "const": "EVAL_MEAN_RETURN_KEY",
      "key": "eval_mean_return",
      "since": 1,
      "required": false,
      "example": "500.0",
      "description": "greedy evaluation mean return, from `summary.json` (null when unknown)"
    },
    {
      "const": "VERSIONS_KEY",
      "key": "versions",
      "since": 1,
      "required": false,
      "example": "{\"tensorflow\": \"2.21.0\", ...}",
      "description": "`tensorflow`, `keras`, `tf2onnx` and `onnx` versions used to export"
    },
    {
      "const": "CREATED_AT_KEY",
      "key": "created_at",
      "since": 1,
      "required": false,
      "example": "\"2026-12-06T23:59:00+00:00\"",
      "description": "ISO 8601 UTC time of the export"
    },
    {
      "const": "QUANTIZATION_KEY",
      "key": "quantization",
      "since": 3,
      "required": false,
      "example": "{\"dtype\": \"int8\", \"method\": \"dynamic\"}",
      "description": "null for a float32 file; how an int8 artifact (`python -m export --quantize int8`) was quantized"
    },
    {
      "const": "RECURRENT_KEY",
      "key": "recurrent",
      "since": 5,
      "required": false,
      "example": "{\"cell\": \"gru\", \"state_size\": 64, \"layout\": [{\"name\": \"h\", \"size\": 64}], \"initial_state\": \"zeros\"}",
      "description": "null (or absent) for a feed-forward policy; for a recurrent one (since 5) its cell (`\"gru\"`, `\"lstm\"`, or `\"custom\"` for a user's recurrent network), `state_size`, the `layout` of the state's entries -- consecutive slices in order: `h` (GRU), `h` then `c` (LSTM), one slice `state` (custom) -- and `initial_state`, always `\"zeros\"`"
    },
    {
      "const": "ACTION_MASK_KEY",
      "key": "action_mask",
      "since": 6,
      "required": false,
      "example": "{\"size\": 6, \"trained\": true, \"source\": \"info\", \"function\": null}",
      "description": "null (or absent) for a file without the input `action_mask` (gaussian and bernoulli policies, files before 6); for a categorical or multi_categorical policy (since 6) the mask's `size` (action_size), whether the policy was `trained` with masks, and where its env's masks come from, as training read them: `source` `\"function\"` (`function` names the `module:function` called with the env), `\"method\"` (the env's `action_masks()`), `\"info\"` (`info[\"action_mask\"]` after reset and step), `\"observation\"` (a Dict observation's key `action_mask`, not among the graph's inputs), or null (trained without)"
    }
  ],
  "versions": {
    "1": "the input is always float32; no env_kwargs or max_episode_steps (read as {} and null)",
    "2": "version 1 plus the uint8 image input and the keys env_kwargs and max_episode_steps",
    "3": "version 2 plus the key quantization (null, or how an int8 artifact was quantized); the graph is unchanged",
    "4": "version 3 plus the policy kinds multi_categorical (MultiDiscrete actions) and bernoulli (MultiBinary actions), whose `action` is int64 [batch, branches]; MultiDiscrete and MultiBinary observations; Dict and Tuple observations, one input per part",
    "5": "version 4 plus recurrent policies: inputs `state` and outputs `next_state` float32 [batch, state_size] and the key `recurrent`; feed-forward graphs are unchanged",
    "6": "version 5 plus invalid-action masks: categorical and multi_categorical graphs take the input `action_mask` bool [batch, action_size] (true: legal), applied to the logits before `probs` and `action`, and the key `action_mask`; other graphs are unchanged"
  },
  "action_branches": {
    "MultiDiscrete": "len(nvec)",
    "MultiBinary": "n"
  },
  "state": {
    "input": "STATE",
    "output": "NEXT_STATE",
    "dtype": "float32",
    "shape": [
      "BATCH_DIM",
      "state_size"
    ],
    "since": 5,
    "initial": "zeros",
    "description": "a recurrent policy's memory (since 5): the graph is one step of the policy; it takes the state after the previous step of the same episode as input `state` and returns the state after this one as output `next_state`, both float32 [batch, state_size], one row per episode. An episode's first step takes the initial state, all zeros. The caller carries the state from one call to the next (every runtime is stateless); the metadata key `recurrent` gives its size and layout. A feed-forward policy has neither tensor"
  },
  "action_mask": {
    "input": "ACTION_MASK",
    "dtype": "bool",
    "shape": [
      "BATCH_DIM",
      "action_size"
    ],
    "since": 6,
    "policy_kinds": [
      "categorical",
      "multi_categorical"
    ],
    "sources": [
      "function",
      "method",
      "info",
      "observation"
    ],
    "observation_key": "action_mask",
    "request_dtypes": [
      "bool",
      "int8",
      "uint8"
    ],
    "description": "which actions are legal (since 6), an input of every categorical and multi_categorical graph, bool [batch, action_size]: true (1) where an action is legal, per branch side by side for MultiDiscrete actions. The graph sets the logits of illegal actions to the lowest float32 before the softmax, so `probs` is the distribution over the legal actions (exactly 0 elsewhere) and `action` (greedy) and actions sampled from `probs` are always legal. Every row needs a legal action in every branch. The input is required by the graph and optional to callers of every keras_pg runtime (Python, HTTP v1 and v2, gRPC, Triton, JavaScript), which feed all true when a request has none: a policy trained without masks takes one too. A request's mask may be bool or 0/1 integers"
  }
});
