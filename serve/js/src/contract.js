/**
 * The ONNX contract of a keras-pg `policy.onnx`, as serve/contract.py names it (version 2):
 * input `obs` float32 (uint8 for image observations) [batch, ...obs_shape]; outputs `probs`
 * and `action` (categorical) or `mean`, `std` and `action` (gaussian); JSON metadata_props.
 * @module
 */

export const CONTRACT_VERSION = 2;
export const SUPPORTED_CONTRACT_VERSIONS = [1, 2];

export const INPUT = "obs";
export const PROBS = "probs";
export const MEAN = "mean";
export const STD = "std";
export const ACTION = "action";
export const BATCH_DIM = "batch";

export const CONTRACT_VERSION_KEY = "contract_version";
export const POLICY_KIND_KEY = "policy_kind";
export const ENV_ID_KEY = "env_id";
export const ENV_KWARGS_KEY = "env_kwargs";
export const MAX_EPISODE_STEPS_KEY = "max_episode_steps";
export const OBSERVATION_SPACE_KEY = "observation_space";
export const ACTION_SPACE_KEY = "action_space";

/**
 * @typedef {object} Space
 * @property {"Box" | "Discrete"} type
 * @property {(number | null)[]} [shape] a Box's shape (null: a size the graph leaves open)
 * @property {string} [dtype] a Box's dtype ("float32", "uint8")
 * @property {(number | string)[]} [low] a Box's bounds ("inf" / "-inf" when unbounded)
 * @property {(number | string)[]} [high]
 * @property {number | null} [n] a Discrete space's size
 * @property {number} [start]
 */

/**
 * The dtype of input `obs` for an observation space: "uint8" for a Box of dtype uint8 with a
 * 3-dimensional shape (H, W, C raw frames, which the graph scales), else "float32".
 * @param {Space} space
 * @returns {"uint8" | "float32"}
 */
export function inputDtype(space) {
  const image = space.type === "Box" && space.dtype === "uint8" && space.shape?.length === 3;
  return image ? "uint8" : "float32";
}
