/**
 * The environments on a canvas, drawn from their state as gymnasium's renderers draw them.
 * @module
 */

import { CartPole, Taxi } from "keras-pg-policy/envs";

/**
 * @callback Renderer
 * @param {CanvasRenderingContext2D} ctx
 * @param {number[]} state the env's state variables
 * @param {any} action the last action (or null)
 */

const STAND_COLORS = ["#dd3333", "#33aa33", "#cccc33", "#3366cc"];  // R, G, Y, B

/** @type {Record<string, Renderer>} */
const RENDERERS = {
  /** Cart on a track, pole hinged on it; the track spans |x| <= 2.4. */
  "CartPole-v1": (ctx, [x, , theta], action) => {
    const { width, height } = ctx.canvas;
    const scale = width / (2 * CartPole.xThreshold);
    const trackY = height * 0.7;
    const cartX = width / 2 + x * scale;
    line(ctx, 0, trackY, width, trackY, "#888", 1);
    ctx.fillStyle = "#333";
    ctx.fillRect(cartX - 25, trackY - 15, 50, 30);
    const pole = scale * 1.0;  // the pole is 2 * 0.5 long
    const color = Math.abs(theta) > CartPole.thetaThreshold ? "#c33" : "#ca7";
    const [tipX, tipY] = [cartX + pole * Math.sin(theta), trackY - 15 - pole * Math.cos(theta)];
    line(ctx, cartX, trackY - 15, tipX, tipY, color, 10);
    if (action !== null) arrow(ctx, cartX, trackY + 30, action === 1 ? 1 : -1);
  },
  /** Two links from a pivot; the goal line one link's length above it. */
  "Acrobot-v1": (ctx, [theta1, theta2], action) => {
    const { width, height } = ctx.canvas;
    const scale = height / 5;
    const [cx, cy] = [width / 2, height / 2];
    const p1 = [-Math.cos(theta1), Math.sin(theta1)];  // (up, right), as gymnasium's render
    const p2 = [p1[0] - Math.cos(theta1 + theta2), p1[1] + Math.sin(theta1 + theta2)];
    line(ctx, cx - 2.2 * scale, cy - scale, cx + 2.2 * scale, cy - scale, "#888", 1);
    const screen = (/** @type {number[]} */ [up, right]) => [cx + right * scale, cy - up * scale];
    const [x1, y1] = screen(p1);
    const [x2, y2] = screen(p2);
    line(ctx, cx, cy, x1, y1, "#0cc", 10);
    line(ctx, x1, y1, x2, y2, "#0cc", 10);
    for (const [px, py] of [[cx, cy], [x1, y1]]) circle(ctx, px, py, 6, "#cc0");
    if (action !== null && action !== 1) arrow(ctx, width / 2, height - 20, action - 1);
  },
  /** A rod from a pivot, upright at theta = 0; the torque as an arrow. */
  "Pendulum-v1": (ctx, [theta], action) => {
    const { width, height } = ctx.canvas;
    const radius = height * 0.35;
    const [cx, cy] = [width / 2, height / 2];
    line(ctx, cx, cy, cx - radius * Math.sin(theta), cy - radius * Math.cos(theta), "#c44", 16);
    circle(ctx, cx, cy, 6, "#222");
    if (action !== null) arrow(ctx, cx, height - 20, Number(action[0]) / 2);
  },
  /**
   * The 5x5 grid and its walls, the four stands (the destination outlined), the passenger
   * waiting at a stand, and the taxi (filled when the passenger is in it).
   */
  "Taxi-v4": (ctx, [state]) => {
    const [row, col, passenger, destination] = Taxi.decode(state);
    const side = Math.min(ctx.canvas.width, ctx.canvas.height) / 5.6;
    const [x0, y0] = [(ctx.canvas.width - 5 * side) / 2, (ctx.canvas.height - 5 * side) / 2];
    const cell = (/** @type {number} */ r, /** @type {number} */ c) =>
      [x0 + c * side, y0 + r * side];
    Taxi.stands.forEach(([r, c], i) => {
      const [x, y] = cell(r, c);
      ctx.fillStyle = `${STAND_COLORS[i]}55`;
      ctx.fillRect(x, y, side, side);
      if (i === destination) {
        ctx.strokeStyle = STAND_COLORS[i];
        ctx.lineWidth = 4;
        ctx.strokeRect(x + 3, y + 3, side - 6, side - 6);
      }
    });
    ctx.strokeStyle = "#333";
    ctx.lineWidth = 5;
    ctx.strokeRect(x0, y0, 5 * side, 5 * side);
    for (let r = 0; r < 5; r++) {  // the walls: "|" between two cells of a map row
      for (let c = 0; c < 4; c++) {
        if (Taxi.map[1 + r][2 * c + 2] === "|") {
          const [x, y] = cell(r, c + 1);
          line(ctx, x, y, x, y + side, "#333", 5);
        }
      }
    }
    const [tx, ty] = cell(row, col);
    ctx.fillStyle = passenger === 4 ? "#e9a820" : "#fff";
    ctx.strokeStyle = "#e9a820";
    ctx.lineWidth = 4;
    ctx.fillRect(tx + side * 0.2, ty + side * 0.25, side * 0.6, side * 0.5);
    ctx.strokeRect(tx + side * 0.2, ty + side * 0.25, side * 0.6, side * 0.5);
    if (passenger < 4) {
      const [px, py] = cell(Taxi.stands[passenger][0], Taxi.stands[passenger][1]);
      circle(ctx, px + side / 2, py + side / 2, side * 0.15, "#222");
    }
  },
};

/**
 * Clears the canvas and draws the env.
 * @param {CanvasRenderingContext2D} ctx
 * @param {string} envId
 * @param {number[]} state
 * @param {any} action
 */
export function draw(ctx, envId, state, action) {
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  RENDERERS[envId](ctx, state, action);
}

/**
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} x0 @param {number} y0 @param {number} x1 @param {number} y1
 * @param {string} color @param {number} width
 */
function line(ctx, x0, y0, x1, y1, color, width) {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineCap = "round";
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

/**
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} x @param {number} y @param {number} r @param {string} color
 */
function circle(ctx, x, y, r, color) {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fill();
}

/**
 * A horizontal arrow from (x, y), `size` in [-1, 1] of 60 pixels (sign: direction).
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} x @param {number} y @param {number} size
 */
function arrow(ctx, x, y, size) {
  const end = x + 60 * size;
  line(ctx, x, y, end, y, "#555", 3);
  const tip = Math.sign(size) * 8;
  line(ctx, end, y, end - tip, y - 6, "#555", 3);
  line(ctx, end, y, end - tip, y + 6, "#555", 3);
}
