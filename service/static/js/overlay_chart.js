// Several loss curves by epoch on one log axis (a sweep's trials, say), on uPlot. The
// container's data-series attribute says how many curves are drawn.

import { FLOOR, historyByEpoch, tick } from "./chart.js";

const PALETTE = [
  "#2563eb",
  "#ea580c",
  "#16a34a",
  "#9333ea",
  "#dc2626",
  "#0891b2",
  "#ca8a04",
  "#db2777",
];

export class OverlayChart {
  constructor(container, { height = 240 } = {}) {
    this.container = container;
    this.height = height;
    this.plot = null;
    this.labels = null;
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(container);
  }

  size() {
    return { width: Math.max(this.container.clientWidth, 240), height: this.height };
  }

  /** Draw `curves` ([{label, history, epochs}]): each history by epoch (spread over `epochs`
   * when thinned, as job records keep it). */
  draw(curves) {
    const byEpoch = curves.map(({ history, epochs }) => historyByEpoch(history, epochs));
    const epochs = [...new Set(byEpoch.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    const data = [
      epochs,
      ...byEpoch.map((m) => epochs.map((e) => (m.has(e) ? Math.max(m.get(e), FLOOR) : null))),
    ];
    this.container.dataset.series = String(curves.filter((c) => c.history.length).length);
    const labels = curves.map((c) => c.label).join(" ");
    if (this.plot && labels === this.labels) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.plot = null;
    this.labels = labels;
    if (epochs.length === 0) return;
    const series = [
      { label: "epoch" },
      ...curves.map((c, i) => ({
        label: c.label,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        spanGaps: true,
        points: { show: false },
      })),
    ];
    this.plot = new uPlot(
      {
        ...this.size(),
        scales: { x: { time: false }, y: { distr: 3 } },
        series,
        axes: [
          { label: "epoch" },
          { label: "loss (log scale)", size: 70, values: (u, splits) => splits.map(tick) },
        ],
        legend: { live: false },
      },
      data,
      this.container,
    );
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}
