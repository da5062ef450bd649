/* The 24-hour trend chart's geometry: scale, grid lines and labels. Pure; view/trend.js draws it. */

export const CHART = {width: 560, height: 200, left: 52, right: 24, top: 14, bottom: 28};

/** A round grid step (1, 2 or 5 × a power of ten) giving about four lines up to `max`. */
export function niceStep(max) {
  const rough = max / 4;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  const factor = [1, 2, 5, 10].find((f) => f * power >= rough);
  return Math.max(1, factor * power);
}

/**
 * Where everything goes for a trend's hourly points ({hour, occupancy}).
 * @returns {{values: number[], ceiling: number, step: number, grid: number[], hourLabels: number[],
 *            x: (i: number) => number, y: (v: number) => number}}
 */
export function trendGeometry(points, chart = CHART) {
  const {width, height, left, right, top, bottom} = chart;
  const values = points.map((p) => p.occupancy);
  const highest = Math.max(4, Math.ceil(Math.max(...values) * 1.1));
  const step = niceStep(highest);
  const ceiling = Math.ceil(highest / step) * step;
  const grid = [];
  for (let v = 0; v <= ceiling; v += step) grid.push(v);
  // The first hour, then every sixth.
  const hourLabels = points.map((p, i) => i).filter((i) => i % 6 === 5 || i === 0);
  return {
    values, ceiling, step, grid, hourLabels,
    x: (i) => left + (width - left - right) * i / Math.max(1, values.length - 1),
    y: (v) => top + (height - top - bottom) * (1 - v / ceiling),
  };
}
