// A loss curve by epoch (training loss, and validation loss where there is a split), on uPlot.
// The container's data-points attribute says how many epochs are drawn.

const COLORS = { loss: "#2563eb", validation: "#ea580c" };
export const FLOOR = 1e-12; // the y axis is logarithmic

/** A log-axis tick: 1, 0.1, 0.01, then 1e-3, 1e-4, ... */
export function tick(value) {
  if (value === null || value === undefined) return "";
  return value >= 0.01 ? String(Number(value.toPrecision(2))) : value.toExponential(0);
}

/** epoch -> loss of a job record's loss history: one value per epoch, or thinned evenly over
 * `epochs` epochs (as job records keep it). */
export function historyByEpoch(history = [], epochs = history.length) {
  const n = history.length;
  return new Map(
    history.map((loss, i) => [
      n === epochs || n < 2 ? i + 1 : Math.round((i * (epochs - 1)) / (n - 1)) + 1,
      loss,
    ]),
  );
}

export class LossChart {
  constructor(container, { height = 220, validation = true } = {}) {
    this.container = container;
    this.height = height;
    this.withValidation = validation;
    this.loss = new Map(); // epoch -> training loss
    this.validation = new Map(); // epoch -> validation loss (live progress events only)
    this.plot = null;
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(container);
  }

  /** Replace the training loss by a history: one value per epoch, or thinned evenly over
   * `epochs` epochs (as job records keep it). Validation points are kept. */
  reset(history = [], epochs = history.length) {
    this.loss = historyByEpoch(history, epochs);
    this.draw();
  }

  /** Add one epoch's losses (from a live progress event). */
  add(epoch, loss, validationLoss = null) {
    if (!(epoch > 0)) return;
    if (loss !== null && loss !== undefined) this.loss.set(epoch, loss);
    if (validationLoss !== null && validationLoss !== undefined) {
      this.validation.set(epoch, validationLoss);
    }
    this.draw();
  }

  data() {
    const epochs = [...new Set([...this.loss.keys(), ...this.validation.keys()])];
    epochs.sort((a, b) => a - b);
    const column = (map) => epochs.map((e) => (map.has(e) ? Math.max(map.get(e), FLOOR) : null));
    const data = [epochs, column(this.loss)];
    return this.withValidation ? [...data, column(this.validation)] : data;
  }

  size() {
    return { width: Math.max(this.container.clientWidth, 240), height: this.height };
  }

  draw() {
    const data = this.data();
    this.container.dataset.points = String(data[0].length);
    if (this.plot) {
      this.plot.setData(data);
    } else if (data[0].length > 0) {
      this.plot = new uPlot(this.options(), data, this.container);
    }
  }

  options() {
    const series = [
      { label: "epoch" },
      { label: "loss", stroke: COLORS.loss, width: 2, points: { show: false } },
    ];
    if (this.withValidation) {
      series.push({
        label: "validation loss",
        stroke: COLORS.validation,
        width: 2,
        spanGaps: true,
      });
    }
    return {
      ...this.size(),
      scales: { x: { time: false }, y: { distr: 3 } },
      series,
      axes: [
        { label: "epoch" },
        { label: "loss (log scale)", size: 70, values: (u, splits) => splits.map(tick) },
      ],
      legend: { live: false },
    };
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}
