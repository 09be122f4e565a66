// Values written as Python writes them (the text of repr, str and json.dumps in CPython 3.11).

import assert from "node:assert/strict";
import { test } from "node:test";

import { pyFloat, pyJson, pyRepr, pyStr, pyTuple, pyTypeName } from "../src/python.js";

test("repr of floats", () => {
  const cases = [[300, "300.0"], [1.5, "1.5"], [-1, "-1.0"], [0, "0.0"], [0.0001, "0.0001"],
    [1.5e-5, "1.5e-05"], [1e16, "1e+16"], [123456789012345680, "1.2345678901234568e+17"],
    [1e22, "1e+22"], [9999999999999998, "9999999999999998.0"], [0.1 + 0.2, "0.30000000000000004"],
    [NaN, "nan"], [Infinity, "inf"], [-Infinity, "-inf"]];
  for (const [value, text] of cases) assert.equal(pyFloat(/** @type {number} */ (value)), text);
});

test("repr, str, tuples, type names and json.dumps of JSON-like values", () => {
  assert.equal(pyRepr(["a", 1, 2.5, null, true, [[]]]), "['a', 1, 2.5, None, True, [[]]]");
  assert.equal(pyRepr("it's"), "\"it's\"");
  assert.equal(pyRepr({ a: [1] }), "{'a': [1]}");
  assert.equal(pyStr("abc"), "abc");
  assert.equal(pyStr(["abc"]), "['abc']");
  assert.deepEqual([pyTuple([]), pyTuple([4]), pyTuple([2, 4])], ["()", "(4,)", "(2, 4)"]);
  assert.deepEqual(["x", [], {}, true, null].map(pyTypeName),
    ["str", "list", "dict", "bool", "NoneType"]);
  assert.equal(pyJson({ a: [1, 2.5, null], b: "é", c: { d: false } }),
    '{"a": [1, 2.5, null], "b": "\\u00e9", "c": {"d": false}}');
});
