import { afterEach } from "vitest";
import { cleanup } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { app } from "../lib/stores/app.svelte";

afterEach(() => {
  cleanup();
  clearMocks();
  app.reset();
});

// jsdom lays nothing out: give the message log a 600 px viewport and a scroll position
// that is kept (rows keep their estimated heights, so positions are predictable).
export const LOG_VIEWPORT = 600;
const scrollTops = new WeakMap<Element, number>();
const isLog = (el: Element) => (el as HTMLElement).dataset?.testid === "message-log";
const scrollTop = Object.getOwnPropertyDescriptor(Element.prototype, "scrollTop")!;
const clientHeight = Object.getOwnPropertyDescriptor(Element.prototype, "clientHeight")!;
Object.defineProperty(Element.prototype, "scrollTop", {
  configurable: true,
  get(this: Element) {
    return isLog(this) ? (scrollTops.get(this) ?? 0) : scrollTop.get!.call(this);
  },
  set(this: Element, value: number) {
    if (isLog(this)) scrollTops.set(this, Math.max(0, value));
    else scrollTop.set!.call(this, value);
  },
});
Object.defineProperty(Element.prototype, "clientHeight", {
  configurable: true,
  get(this: Element) {
    return isLog(this) ? LOG_VIEWPORT : clientHeight.get!.call(this);
  },
});
