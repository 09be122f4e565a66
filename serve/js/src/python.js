/**
 * Values written as Python writes them, so that this package's error messages are the text
 * of Python's `serve.OnnxPolicy` for the same input (serve/observations.py, serve/loading.py).
 *
 * JavaScript has one number type: an integer-valued number is written as a Python int
 * (JSON-decoded values are ints in Python too), except by `pyFloat`, which writes a float.
 * @module
 */

/**
 * `repr(float(x))`: "300.0", "1.5", "-1.0", "1e+16", "1.5e-05", "nan", "inf".
 * Python switches to exponent notation below 1e-4 and from 1e16 on; JavaScript at 1e-7 and
 * 1e21, with a one-digit exponent.
 * @param {number} x
 * @returns {string}
 */
export function pyFloat(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const magnitude = Math.abs(x);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e16)) {
    const [mantissa, exponent] = x.toExponential().split("e");
    const sign = exponent[0] === "-" ? "-" : "+";
    return `${mantissa}e${sign}${exponent.replace(/^[+-]/, "").padStart(2, "0")}`;
  }
  const text = String(x);
  return text.includes(".") || text.includes("e") ? text : `${text}.0`;
}

/**
 * `repr(value)` of a JSON-like value: None, True, 'text', [1, 2], {'a': 1}.
 * @param {unknown} value
 * @returns {string}
 */
export function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `[${Array.from(/** @type {ArrayLike<unknown>} */ (value), pyRepr).join(", ")}]`;
  }
  if (typeof value === "object") {
    const items = Object.entries(value).map(([k, v]) => `${quote(k)}: ${pyRepr(v)}`);
    return `{${items.join(", ")}}`;
  }
  return String(value);
}

/**
 * `str(value)`: a string as it is, anything else as `repr`.
 * @param {unknown} value
 * @returns {string}
 */
export function pyStr(value) {
  return typeof value === "string" ? value : pyRepr(value);
}

/**
 * `type(value).__name__` of the Python value that the JSON-like `value` would be.
 * @param {unknown} value
 * @returns {string}
 */
export function pyTypeName(value) {
  if (value === null || value === undefined) return "NoneType";
  if (Array.isArray(value)) return "list";
  if (ArrayBuffer.isView(value)) return "ndarray";
  /** @type {Record<string, string>} */
  const names = { string: "str", number: "float", boolean: "bool", object: "dict" };
  return names[typeof value] ?? typeof value;
}

/**
 * `str(tuple(dims))`: "()", "(4,)", "(2, 4)".
 * @param {readonly number[]} dims
 * @returns {string}
 */
export function pyTuple(dims) {
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
}

/**
 * `json.dumps(value)`: ", " and ": " separators, non-ASCII characters escaped.
 * @param {unknown} value
 * @returns {string}
 */
export function pyJson(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
    return Number.isInteger(value) ? String(value) : pyFloat(value);
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`;
  if (typeof value === "object") {
    const items = Object.entries(value).map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`);
    return `{${items.join(", ")}}`;
  }
  return String(value);
}

/** @param {string} text */
function quote(text) {
  const q = text.includes("'") && !text.includes('"') ? '"' : "'";
  const escaped = text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
  return q + (q === "'" ? escaped.replace(/'/g, "\\'") : escaped) + q;
}
