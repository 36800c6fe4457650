// The datasets view: stored datasets, newest first.

import { api } from "./api.js";
import { format, h, show, table } from "./dom.js";

export class DatasetsView {
  constructor(container, { onLoaded }) {
    this.container = container;
    this.onLoaded = onLoaded;
  }

  async refresh() {
    const datasets = await api("/datasets");
    const columns = [
      { title: "Name", cell: (d) => d.name },
      { title: "Id", cell: (d) => h("span", { class: "mono" }, d.id) },
      { title: "Rows", cell: (d) => d.rows, numeric: true },
      { title: "F / M", cell: (d) => `${d.counts.F} / ${d.counts.M}`, numeric: true },
      { title: "Uploaded", cell: (d) => format.time(d.created_at) },
    ];
    show(this.container, table(columns, datasets, { empty: "No datasets yet: upload a file." }));
    this.onLoaded(datasets);
  }
}
