// The datasets view: stored datasets, newest first, a page at a time, each with a Delete button.

import { api } from "./api.js";
import { confirmButton, format, h, moreButton, show, table } from "./dom.js";
import { DEFAULT_PAGE, PagedView } from "./paging.js";

export class DatasetsView extends PagedView {
  constructor(container, { onLoaded, notify }) {
    super("/datasets", DEFAULT_PAGE);
    this.container = container;
    this.onLoaded = onLoaded;
    this.notify = notify;
  }

  render() {
    const datasets = this.pages.items;
    const columns = [
      { title: "Name", cell: (d) => d.name },
      { title: "Id", cell: (d) => h("span", { class: "mono" }, d.id) },
      { title: "Rows", cell: (d) => d.rows, numeric: true },
      { title: "F / M", cell: (d) => `${d.counts.F} / ${d.counts.M}`, numeric: true },
      { title: "Uploaded", cell: (d) => format.time(d.created_at) },
      {
        title: "",
        cell: (d) => confirmButton("Delete", () => this.remove(d.id), { class: "delete" }),
      },
    ];
    show(
      this.container,
      table(columns, datasets, {
        empty: "No datasets yet: upload a file.",
        rowData: (d) => ({ datasetId: d.id }),
      }),
      this.pages.hasMore &&
        moreButton("datasets-more", () => this.showMore().catch(this.notify.error)),
    );
    this.onLoaded(datasets);
  }

  /** DELETE the dataset; a 409 (a queued or running job trains on it) says which in the notice. */
  async remove(datasetId) {
    try {
      await api(`/datasets/${encodeURIComponent(datasetId)}`, { method: "DELETE" });
      this.notify.info(`Dataset ${datasetId} deleted.`);
      await this.refresh();
    } catch (error) {
      this.notify.error(error);
    }
  }
}
