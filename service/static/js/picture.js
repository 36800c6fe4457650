// The picture of a model: its probability of female over weight and height as a colour map, its
// decision boundary (where that probability crosses the threshold, by marching squares on the
// API's grid), a dataset's people as points coloured by gender, and the person of the last
// prediction marked. Drawn on a <canvas>; what was drawn is counted in the canvas's data
// attributes (boundary segments, points, the share of each gender on its own side).

import { ApiError, api } from "./api.js";
import { h, setOptions, show } from "./dom.js";

const COLORS = { F: "#be185d", M: "#1d4ed8", boundary: "#111827", axis: "#6b7280" };
/** The field's colours: pale pink where F is certain, white at the threshold, pale blue for M. */
const FIELD = { F: [249, 168, 212], M: [147, 197, 253], middle: [255, 255, 255] };
/** Grid points along each axis (the API accepts more: a finer grid only costs time). */
const STEPS = 120;
/** People drawn at most (GET /datasets/{id}/rows picks them evenly). */
const SAMPLE = 2000;
/** Share of the people's range added on each side of the axes. */
const PAD = 0.04;
const MARGIN = { left: 58, right: 14, top: 12, bottom: 44 };

const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));

/** A round tick step giving about `count` ticks over `span`. */
function tickStep(span, count = 6) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const multiple = [1, 2, 5, 10].find((m) => m * power >= raw);
  return multiple * power;
}

/** The field's colour for probability `p` of F, with `threshold` in white. */
function fieldColor(p, threshold) {
  const [end, share] =
    p >= threshold
      ? [FIELD.F, (p - threshold) / (1 - threshold)]
      : [FIELD.M, (threshold - p) / threshold];
  const rgb = FIELD.middle.map((c, k) => Math.round(c + (end[k] - c) * share));
  return `rgb(${rgb.join(",")})`;
}

/**
 * The decision boundary as line segments [[w1, h1], [w2, h2]], by marching squares: in each cell
 * of the grid, the points where the probability crosses `threshold` on the cell's edges
 * (linearly interpolated), joined; a saddle cell is resolved by the cell's mean.
 */
export function boundarySegments({ weights, heights, probability_female: p, threshold }) {
  const segments = [];
  const above = (value) => value >= threshold;
  const cross = (p1, p2, from, to) => {
    const share = (threshold - p1) / (p2 - p1);
    return [from[0] + share * (to[0] - from[0]), from[1] + share * (to[1] - from[1])];
  };
  for (let i = 0; i + 1 < heights.length; i++) {
    for (let j = 0; j + 1 < weights.length; j++) {
      // corners: a bottom-left, b bottom-right, c top-right, d top-left
      const corners = [
        [p[i][j], [weights[j], heights[i]]],
        [p[i][j + 1], [weights[j + 1], heights[i]]],
        [p[i + 1][j + 1], [weights[j + 1], heights[i + 1]]],
        [p[i + 1][j], [weights[j], heights[i + 1]]],
      ];
      const points = []; // crossings on the edges bottom, right, top, left (null: none)
      for (let k = 0; k < 4; k++) {
        const [p1, from] = corners[k];
        const [p2, to] = corners[(k + 1) % 4];
        points.push(above(p1) === above(p2) ? null : cross(p1, p2, from, to));
      }
      const found = points.filter((point) => point !== null);
      if (found.length === 2) segments.push(found);
      else if (found.length === 4) {
        const mean = corners.reduce((sum, [value]) => sum + value, 0) / 4;
        const [bottom, right, top, left] = points;
        if (above(mean) === above(corners[0][0])) segments.push([bottom, right], [top, left]);
        else segments.push([left, bottom], [right, top]);
      }
    }
  }
  return segments;
}

export class PictureView {
  constructor(form, canvas, { legend, status, notify }) {
    this.form = form;
    this.canvas = canvas;
    this.legend = legend;
    this.status = status;
    this.notify = notify;
    this.modelSelect = form.querySelector("#picture-model");
    this.datasetSelect = form.querySelector("#picture-dataset");
    this.unitsSelect = form.querySelector("#picture-units");
    this.shown = null; // {grid, people, person, datasetId}
    this.person = null; // the last prediction: {weight, height, units, gender, probability, modelId}
    this.turn = 0; // draws asked for
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.draw().catch(this.notify.error);
    });
    document.addEventListener("predicted", (event) => {
      this.person = event.detail;
      this.unitsSelect.value = this.person.units; // the person's numbers keep their units
      this.draw({ modelId: event.detail.modelId }).catch(this.notify.error);
    });
    new ResizeObserver(() => this.shown && this.render()).observe(canvas.parentElement);
  }

  /** Offer the usable models the Models list shows (keeping the current choice). */
  setModels(models) {
    const usable = models.filter((m) => m.status === "ok");
    setOptions(
      this.modelSelect,
      "the latest model",
      usable.map((m) => [m.id, `${m.id}${m.is_latest ? " (latest)" : ""}`]),
    );
  }

  /** Offer the datasets the Datasets list shows (keeping the current choice). */
  setDatasets(datasets) {
    setOptions(
      this.datasetSelect,
      "its training data",
      datasets.map((d) => [d.id, `${d.name} (${d.rows} rows)`]),
    );
  }

  /** Fetch the model's grid and the people, then draw them (and the predicted person). */
  async draw({ modelId } = {}) {
    if (modelId && [...this.modelSelect.options].some((o) => o.value === modelId)) {
      this.modelSelect.value = modelId;
    }
    const model = modelId || this.modelSelect.value || "latest";
    const units = this.unitsSelect.value;
    const turn = ++this.turn; // only the last draw asked for is shown
    this.canvas.dataset.state = "drawing";
    this.status.textContent = "Drawing…";
    try {
      const snapshot = await api(`/models/${encodeURIComponent(model)}`);
      const datasetId = this.datasetSelect.value || snapshot.training?.dataset_id || null;
      const people = datasetId ? await this.people(datasetId, units) : null;
      // The person is marked on the picture of the model that predicted it, in its units.
      const own = this.person?.modelId === snapshot.id && this.person.units === units;
      const marked = own ? this.person : null;
      const grid = await this.grid(snapshot.id, units, this.extent(people, marked));
      if (turn !== this.turn) return;
      this.shown = { grid, people, datasetId, person: marked };
      this.render();
      this.describe(snapshot.id, datasetId, people);
      this.canvas.dataset.state = "drawn";
    } catch (error) {
      if (turn !== this.turn) return;
      this.canvas.dataset.state = "failed";
      this.status.textContent = "";
      throw error;
    }
  }

  /** Up to SAMPLE people of the dataset, or null (and a notice) if it cannot be read. */
  async people(datasetId, units) {
    try {
      const query = new URLSearchParams({ limit: String(SAMPLE), units });
      return await api(`/datasets/${encodeURIComponent(datasetId)}/rows?${query}`);
    } catch (error) {
      if (!(error instanceof ApiError) || ![404, 409].includes(error.status)) throw error;
      this.notify.info(`The people of ${datasetId} cannot be drawn: ${error.message}`);
      return null;
    }
  }

  /** The axes around the people and the predicted person ([low, high] each), or null. */
  extent(people, person) {
    const weights = people ? [...people.weight] : [];
    const heights = people ? [...people.height] : [];
    if (person) {
      weights.push(person.weight);
      heights.push(person.height);
    }
    if (weights.length === 0) return null;
    const range = (values) => [Math.min(...values), Math.max(...values)];
    return { weight: range(weights), height: range(heights) };
  }

  /** The model's grid over `extent` padded by PAD (exact if the padding leaves the bounds),
   * or over the model's own default axes. */
  async grid(modelId, units, extent) {
    const path = `/models/${encodeURIComponent(modelId)}/decision-grid`;
    const ask = (axes) => {
      const query = new URLSearchParams({ steps: String(STEPS), units });
      for (const [name, [low, high]] of Object.entries(axes || {})) {
        query.set(`${name}_min`, String(low));
        query.set(`${name}_max`, String(high));
      }
      return api(`${path}?${query}`);
    };
    if (!extent) return ask(null);
    const padded = {};
    for (const [name, [low, high]] of Object.entries(extent)) {
      const margin = Math.max((high - low) * PAD, 0.5);
      padded[name] = [low - margin, high + margin];
    }
    try {
      return await ask(padded);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 422) throw error;
      return ask(extent);
    }
  }

  describe(modelId, datasetId, people) {
    const { segments, points } = this.canvas.dataset;
    show(
      this.status,
      "model ",
      h("span", { id: "picture-model-id", class: "mono" }, modelId),
      datasetId ? [" · dataset ", h("span", { class: "mono" }, datasetId)] : "",
      people ? ` · ${points} of ${people.rows} people drawn` : "",
      ` · ${segments} boundary segments`,
    );
  }

  /** Draw what is shown at the canvas's current size. */
  render() {
    const { grid, people, person } = this.shown;
    const canvas = this.canvas;
    const width = Math.max(canvas.parentElement.clientWidth, 320);
    const height = Math.round(Math.min(width * 0.66, 560));
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.fillStyle = "#fff";
    context.fillRect(0, 0, width, height);

    const { weights, heights, threshold } = grid;
    const box = {
      left: MARGIN.left,
      right: width - MARGIN.right,
      top: MARGIN.top,
      bottom: height - MARGIN.bottom,
    };
    const [w0, w1] = [weights[0], weights[weights.length - 1]];
    const [h0, h1] = [heights[0], heights[heights.length - 1]];
    const x = (w) => box.left + ((w - w0) / (w1 - w0)) * (box.right - box.left);
    const y = (v) => box.bottom - ((v - h0) / (h1 - h0)) * (box.bottom - box.top);

    context.save();
    context.beginPath();
    context.rect(box.left, box.top, box.right - box.left, box.bottom - box.top);
    context.clip();
    this.drawField(context, grid, x, y);
    const segments = this.drawBoundary(context, grid, x, y);
    const counts = people ? this.drawPeople(context, people, grid, x, y) : null;
    context.restore();
    this.drawAxes(context, grid, box, x, y);
    if (person) this.drawPerson(context, person, grid, x, y);

    Object.assign(canvas.dataset, {
      modelId: grid.model_id,
      segments: String(segments),
      points: String(counts ? counts.drawn : 0),
      femaleSide: counts ? counts.femaleSide.toFixed(3) : "",
      maleSide: counts ? counts.maleSide.toFixed(3) : "",
      marked: person ? "1" : "0",
      weightUnit: grid.units.weight,
      threshold: String(threshold),
    });
    this.showLegend(grid, person);
  }

  drawField(context, { weights, heights, probability_female: p, threshold }, x, y) {
    const edges = (values, i) => [
      i === 0 ? values[0] : (values[i - 1] + values[i]) / 2,
      i === values.length - 1 ? values[i] : (values[i] + values[i + 1]) / 2,
    ];
    for (let i = 0; i < heights.length; i++) {
      const [hLow, hHigh] = edges(heights, i);
      for (let j = 0; j < weights.length; j++) {
        const [wLow, wHigh] = edges(weights, j);
        context.fillStyle = fieldColor(p[i][j], threshold);
        // a hair wider than the cell, so no seams show between cells
        context.fillRect(x(wLow), y(hHigh), x(wHigh) - x(wLow) + 0.6, y(hLow) - y(hHigh) + 0.6);
      }
    }
  }

  drawBoundary(context, grid, x, y) {
    const segments = boundarySegments(grid);
    context.strokeStyle = COLORS.boundary;
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.beginPath();
    for (const [[wa, ha], [wb, hb]] of segments) {
      context.moveTo(x(wa), y(ha));
      context.lineTo(x(wb), y(hb));
    }
    context.stroke();
    return segments.length;
  }

  /** The people as points, in an interleaved order (not all of one gender on top); the share
   * of each gender drawn on its own side of the boundary (by the nearest grid point). */
  drawPeople(context, people, { weights, heights, probability_female: p, threshold }, x, y) {
    const n = people.weight.length;
    const stride = [7919, 7907, 1].find((s) => gcd(s, n) === 1);
    const [w0, w1] = [weights[0], weights[weights.length - 1]];
    const [h0, h1] = [heights[0], heights[heights.length - 1]];
    const cell = (value, low, high, count) =>
      Math.round(((value - low) / (high - low)) * (count - 1));
    const own = { F: 0, M: 0 };
    const total = { F: 0, M: 0 };
    context.globalAlpha = 0.6;
    for (let k = 0; k < n; k++) {
      const index = (k * stride) % n;
      const [w, v, gender] = [people.weight[index], people.height[index], people.gender[index]];
      if (w < w0 || w > w1 || v < h0 || v > h1) continue;
      context.fillStyle = COLORS[gender];
      context.beginPath();
      context.arc(x(w), y(v), 2.2, 0, 2 * Math.PI);
      context.fill();
      const female = p[cell(v, h0, h1, heights.length)][cell(w, w0, w1, weights.length)] >= threshold;
      total[gender] += 1;
      if (female === (gender === "F")) own[gender] += 1;
    }
    context.globalAlpha = 1;
    return {
      drawn: total.F + total.M,
      femaleSide: total.F ? own.F / total.F : 0,
      maleSide: total.M ? own.M / total.M : 0,
    };
  }

  drawAxes(context, { weights, heights, units }, box, x, y) {
    context.strokeStyle = COLORS.axis;
    context.fillStyle = COLORS.axis;
    context.lineWidth = 1;
    context.strokeRect(box.left, box.top, box.right - box.left, box.bottom - box.top);
    context.font = "12px system-ui, sans-serif";
    const ticks = (values, place) => {
      const [low, high] = [values[0], values[values.length - 1]];
      const step = tickStep(high - low);
      for (let t = Math.ceil(low / step) * step; t <= high + 1e-9; t += step) {
        place(Number(t.toPrecision(6)));
      }
    };
    context.textAlign = "center";
    context.textBaseline = "top";
    ticks(weights, (t) => {
      context.fillRect(x(t), box.bottom, 1, 4);
      context.fillText(String(t), x(t), box.bottom + 6);
    });
    context.fillText(`weight (${units.weight})`, (box.left + box.right) / 2, box.bottom + 24);
    context.textAlign = "right";
    context.textBaseline = "middle";
    ticks(heights, (t) => {
      context.fillRect(box.left - 4, y(t), 4, 1);
      context.fillText(String(t), box.left - 6, y(t));
    });
    context.save();
    context.translate(14, (box.top + box.bottom) / 2);
    context.rotate(-Math.PI / 2);
    context.textAlign = "center";
    context.fillText(`height (${units.height})`, 0, 0);
    context.restore();
  }

  drawPerson(context, person, grid, x, y) {
    const [px, py] = [x(person.weight), y(person.height)];
    context.lineWidth = 2.5;
    context.strokeStyle = COLORS.boundary;
    context.fillStyle = "#fff";
    context.beginPath();
    context.arc(px, py, 9, 0, 2 * Math.PI);
    context.fill();
    context.stroke();
    context.fillStyle = COLORS[person.gender];
    context.beginPath();
    context.arc(px, py, 5, 0, 2 * Math.PI);
    context.fill();
    const text = `${person.weight} ${grid.units.weight}, ${person.height} ${grid.units.height}: ${
      person.gender
    } (${(100 * person.probability).toFixed(1)} % female)`;
    context.font = "600 13px system-ui, sans-serif";
    context.textBaseline = "middle";
    const right = px + 14 + context.measureText(text).width < this.canvas.clientWidth - 4;
    context.textAlign = right ? "left" : "right";
    const tx = right ? px + 14 : px - 14;
    context.lineWidth = 4;
    context.strokeStyle = "#fff";
    context.strokeText(text, tx, py);
    context.fillStyle = COLORS.boundary;
    context.fillText(text, tx, py);
  }

  showLegend({ threshold }, person) {
    const swatch = (color, shape = "") =>
      h("span", { class: `swatch ${shape}`, style: `background:${color}` });
    show(
      this.legend,
      h("span", {}, swatch(COLORS.F, "swatch-round"), "female"),
      h("span", {}, swatch(COLORS.M, "swatch-round"), "male"),
      h("span", {}, swatch(COLORS.boundary), `decision boundary (p = ${threshold})`),
      h(
        "span",
        {},
        swatch(fieldColor(1, threshold), "swatch-area"),
        swatch(fieldColor(0, threshold), "swatch-area"),
        "the model's probability of female, high to low",
      ),
      person ? h("span", {}, "○ the predicted person") : "",
    );
  }
}
