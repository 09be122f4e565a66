/**
 * A small seedable random source: xoshiro128** (Blackman and Vigna, 2018) seeded through
 * splitmix32, uniforms of 53 bits, and normals by the Box-Muller transform. It is not numpy's
 * generator: a seed gives the same draws in every JavaScript runtime, not the same draws as
 * Python, so sampled actions agree with Python's in distribution, not one by one.
 * @module
 */

const UINT32 = 2 ** 32;

/** A seeded stream of uniform and normal draws. */
export class Random {
  /**
   * @param {number} [seed] an integer in [0, 2^32 - 1]; omitted, one from crypto.getRandomValues
   */
  constructor(seed) {
    if (seed === undefined || seed === null) {
      seed = crypto.getRandomValues(new Uint32Array(1))[0];
    } else if (!Number.isInteger(seed) || seed < 0 || seed >= UINT32) {
      throw new Error(`seed must be an integer in [0, ${UINT32 - 1}], got ${String(seed)}`);
    }
    /** The seed this stream started from. */
    this.seed = seed;
    this.state = new Uint32Array(4);
    let s = seed >>> 0;
    for (let i = 0; i < 4; i++) {  // splitmix32: four well-mixed, not-all-zero words
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    /** @type {number | null} the second normal of the last Box-Muller pair */
    this.spare = null;
  }

  /** The next 32 random bits (xoshiro128**), as an unsigned integer. */
  nextUint32() {
    const s = this.state;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform draw in [0, 1) with 53 random bits. */
  uniform() {
    const high = this.nextUint32() >>> 5;  // 27 bits
    const low = this.nextUint32() >>> 6;   // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A standard normal draw (Box-Muller: two uniforms give two independent normals). */
  normal() {
    if (this.spare !== null) {
      const value = this.spare;
      this.spare = null;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));  // 1 - u is in (0, 1]
    const angle = 2 * Math.PI * this.uniform();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}

/**
 * @param {number} x
 * @param {number} k
 */
function rotl(x, k) {
  return (x << k) | (x >>> (32 - k));
}
