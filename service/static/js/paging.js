// A listing shown a page at a time: the newest page first, then more while the API has more.

import { apiPage } from "./api.js";

/** The largest page the API answers (the page carries it, from the server's own constant). */
const MAX_PAGE = Number(document.body.dataset.maxPage);
/** The API's page when `limit` is left out (carried like MAX_PAGE). */
export const DEFAULT_PAGE = Number(document.body.dataset.defaultPage);

export class PagedList {
  /** `path`: a paged listing (GET /jobs, /models, /datasets); `pageSize`: items a page. */
  constructor(path, pageSize) {
    this.path = path;
    this.pageSize = pageSize;
    this.items = [];
    this.next = null;
    this.queue = Promise.resolve();
  }

  get hasMore() {
    return this.next !== null;
  }

  /** Fetch again, from the newest, as many items as are shown (at least one page). */
  reload() {
    return this.serially(async () => {
      const wanted = Math.max(this.pageSize, this.items.length);
      let items = [];
      let next = null;
      do {
        const limit = Math.min(wanted - items.length, MAX_PAGE || this.pageSize);
        const page = await apiPage(this.path, { limit, page_token: next });
        items = items.concat(page.items);
        next = page.next;
      } while (next !== null && items.length < wanted);
      this.items = items;
      this.next = next;
    });
  }

  /** Append the next page, if there is one. */
  more() {
    return this.serially(async () => {
      if (this.next === null) return;
      const page = await apiPage(this.path, { limit: this.pageSize, page_token: this.next });
      this.items = this.items.concat(page.items);
      this.next = page.next;
    });
  }

  /** Run `task` after the ones before it: a page token is never used twice at once. */
  serially(task) {
    const done = this.queue.then(task);
    this.queue = done.catch(() => {});
    return done;
  }
}

/** A view of one paged listing: it shows `this.pages` (a PagedList) with its own `render()`. */
export class PagedView {
  constructor(path, pageSize) {
    this.pages = new PagedList(path, pageSize);
  }

  /** Fetch the shown items again, then draw them. */
  async refresh() {
    await this.pages.reload();
    this.render();
  }

  /** Append the next page, then draw. */
  async showMore() {
    await this.pages.more();
    this.render();
  }
}
