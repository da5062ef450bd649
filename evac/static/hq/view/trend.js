/* The 24-hour trend chart as inline SVG (no chart library). */

import {hourLabel, num} from "../format.js";
import {CHART, trendGeometry} from "../trend.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  Object.keys(attrs).forEach((k) => node.setAttribute(k, attrs[k]));
  return node;
}

/** Draw `trend` ({points: [{hour, occupancy}]}) into `holder`, titled for screen readers. */
export function drawTrend(holder, trend, title) {
  const {width, height, left, right} = CHART;
  const g = trendGeometry(trend.points, CHART);
  const values = g.values;
  const last = values.length - 1;
  const chart = svg("svg", {
    viewBox: "0 0 " + width + " " + height, role: "img", class: "trend-svg",
    "aria-label": title + ": " + hourLabel(trend.points[0].hour) + " " + num(values[0]) + " → " + num(values[last]),
  });
  g.grid.forEach((v) => {
    chart.append(svg("line", {x1: left, x2: width - right, y1: g.y(v), y2: g.y(v), class: "grid"}));
    const label = svg("text", {x: left - 6, y: g.y(v) + 4, "text-anchor": "end", class: "axis"});
    label.textContent = num(v);
    chart.append(label);
  });
  g.hourLabels.forEach((i) => {
    const label = svg("text", {x: g.x(i), y: height - 8, "text-anchor": i === 0 ? "start" : "middle", class: "axis"});
    label.textContent = hourLabel(trend.points[i].hour);
    chart.append(label);
  });
  const line = values.map((v, i) => g.x(i) + "," + g.y(v)).join(" ");
  chart.append(svg("polygon", {points: g.x(0) + "," + g.y(0) + " " + line + " " + g.x(last) + "," + g.y(0), class: "area"}));
  chart.append(svg("polyline", {points: line, class: "line"}));
  chart.append(svg("circle", {cx: g.x(last), cy: g.y(values[last]), r: 4, class: "dot"}));
  const current = svg("text", {x: g.x(last) - 6, y: Math.max(12, g.y(values[last]) - 8), "text-anchor": "end", class: "current"});
  current.textContent = num(values[last]);
  chart.append(current);
  holder.replaceChildren(chart);
}
