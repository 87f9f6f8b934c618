import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, conversation, emitEngine, fakeBackend, message } from "../../test/backend";
import { LOG_VIEWPORT } from "../../test/setup";
import { LOG_FOOTER, LOG_HEADER, ROW_ESTIMATE } from "../logLayout";
import { PAGE_SIZE } from "../stores/log.svelte";

const KEY = "bot1-im-bot/alice@im.wechat";
/** Rows that fit the viewport plus the overscan on both sides, with slack. */
const MAX_RENDERED = 40;

function history(count: number) {
  // Newest first, one a minute.
  return Array.from({ length: count }, (_, i) =>
    message({ id: count - i, text: `message ${count - i}`, create_time_ms: 1_700_000_000_000 + (count - i) * 60_000 }),
  );
}

async function open(count: number) {
  const backend = fakeBackend();
  backend.accounts = [account()];
  backend.conversations = [conversation()];
  backend.messages.set(KEY, history(count));
  render(App);
  await waitFor(() => expect(screen.getByTestId("conversation-item")).toBeTruthy());
  await fireEvent.click(screen.getByTestId("conversation-item").querySelector("button")!);
  const log = await waitFor(() => screen.getByTestId("message-log"));
  await waitFor(() => expect(Number(log.dataset.count)).toBeGreaterThan(0));
  return { backend, log };
}

const loaded = (log: HTMLElement) => Number(log.dataset.count);
const renderedIds = (log: HTMLElement) =>
  [...log.querySelectorAll<HTMLElement>("[data-testid='message']")].map((e) => Number(e.dataset.messageId));
const px = (log: HTMLElement, testid: string) =>
  parseFloat(log.querySelector<HTMLElement>(`[data-testid='${testid}']`)!.style.height);

/** The first message whose row reaches into the viewport, and its distance from the top. */
function firstVisible(log: HTMLElement) {
  const above = px(log, "log-spacer-above");
  const y = log.scrollTop - LOG_HEADER - above;
  const index = Math.max(0, Math.floor(y / ROW_ESTIMATE));
  const rows = renderedIds(log);
  return { id: rows[index], delta: LOG_HEADER + above + index * ROW_ESTIMATE - log.scrollTop };
}

/** Spacers plus rendered rows add up to the height of everything loaded. */
function expectHonestHeight(log: HTMLElement) {
  const rendered = renderedIds(log).length;
  expect(px(log, "log-spacer-above") + rendered * ROW_ESTIMATE + px(log, "log-spacer-below")).toBe(
    loaded(log) * ROW_ESTIMATE,
  );
}

const bottom = (log: HTMLElement) => LOG_HEADER + loaded(log) * ROW_ESTIMATE + LOG_FOOTER - LOG_VIEWPORT;

async function scrollTo(log: HTMLElement, top: number) {
  log.scrollTop = top;
  await fireEvent.scroll(log);
}

describe("virtualised log", () => {
  it("keeps a bounded number of rows in the page from the newest message to the first of 5,000", { timeout: 30_000 }, async () => {
    const { backend, log } = await open(5000);
    // Opens at the bottom with the newest message rendered.
    await waitFor(() => expect(renderedIds(log)).toContain(5000));
    expect(loaded(log)).toBe(PAGE_SIZE);
    expect(log.scrollTop).toBe(bottom(log));
    expect(renderedIds(log).length).toBeLessThanOrEqual(MAX_RENDERED);
    expectHonestHeight(log);

    // Near the top of what is loaded, the next page comes in above, and the first
    // visible message stays exactly where it was.
    let pages = 0;
    while (!screen.queryByTestId("log-beginning")) {
      // The page is held until the first visible message is noted.
      let release = () => {};
      backend.holds.conversation_page = new Promise((resolve) => (release = resolve));
      await scrollTo(log, 300);
      const before = firstVisible(log);
      const count = loaded(log);
      release();
      await waitFor(() => expect(loaded(log)).toBeGreaterThan(count));
      await waitFor(() => expect(firstVisible(log)).toEqual(before));
      expect(renderedIds(log).length).toBeLessThanOrEqual(MAX_RENDERED);
      expectHonestHeight(log);
      pages += 1;
    }
    expect(pages).toBe(Math.ceil(5000 / PAGE_SIZE) - 1);
    expect(loaded(log)).toBe(5000);

    // Other positions render only what is around them (and may drop pages far above,
    // which keeps the first visible message where it is).
    await scrollTo(log, 0);
    expect(renderedIds(log)[0]).toBe(1);
    for (const top of [40_000, 160_000, 100_000]) {
      const oldest = 5000 - loaded(log) + 1;
      await scrollTo(log, top);
      const ids = renderedIds(log);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.length).toBeLessThanOrEqual(MAX_RENDERED);
      const expected = oldest + Math.floor((top - LOG_HEADER) / ROW_ESTIMATE);
      await waitFor(() => expect(firstVisible(log).id).toBe(expected));
      expectHonestHeight(log);
    }
    expect(loaded(log)).toBeLessThan(5000);

    // Back at the bottom, pages far above are dropped and paged in again on the way up.
    await scrollTo(log, bottom(log));
    await waitFor(() => expect(loaded(log)).toBeLessThan(1000));
    expect(renderedIds(log)).toContain(5000);
    expect(log.scrollTop).toBe(bottom(log));
    expectHonestHeight(log);
    const oldest = 5000 - loaded(log) + 1;
    const calls = backend.calls.length;
    await scrollTo(log, 300);
    await waitFor(() => expect(renderedIds(log)).toContain(oldest));
    const again = backend.calls.slice(calls).find((c) => c.cmd === "conversation_page");
    expect((again?.args as { before: unknown }).before).toEqual({
      create_time_ms: 1_700_000_000_000 + oldest * 60_000,
      id: oldest,
    });
  });

  it("jumps to a search hit 25 pages back, keeps it, and lets the user scroll away", { timeout: 30_000 }, async () => {
    const opened = await open(3000);
    const backend = opened.backend;
    await waitFor(() => expect(renderedIds(opened.log)).toContain(3000));
    const hit = backend.messages.get(KEY)!.find((m) => m.id === 1000)!;
    backend.answers.search_messages = () => ({ peers: [], messages: [{ message: hit, peer_name: null }] });
    await fireEvent.click(screen.getByTestId("open-search"));
    await fireEvent.input(screen.getByTestId("search-input"), { target: { value: "message 1000" } });
    await fireEvent.click(await waitFor(() => screen.getByTestId("search-result")));
    // The conversation opens again (search replaced it), with a new log.
    const log = await waitFor(() => screen.getByTestId("message-log"));
    const focused = () => log.querySelector<HTMLElement>(".message.focused");
    await waitFor(() => expect(focused()?.dataset.messageId).toBe("1000"), { timeout: 10_000 });
    // Paging stopped once the hit was loaded, and it is in the middle of the view.
    const pages = backend.calls.filter((c) => c.cmd === "conversation_page").length;
    await new Promise((r) => setTimeout(r, 200));
    expect(backend.calls.filter((c) => c.cmd === "conversation_page").length).toBe(pages);
    expect(loaded(log)).toBeGreaterThanOrEqual(2001);
    const offset = firstVisible(log);
    expect(offset.id).toBeLessThan(1000);
    expect(1000 - offset.id).toBeLessThanOrEqual(Math.ceil(LOG_VIEWPORT / 2 / ROW_ESTIMATE) + 1);
    expect(renderedIds(log).length).toBeLessThanOrEqual(MAX_RENDERED);
    // Scrolling up from there pages older messages in and does not snap back to the hit.
    await scrollTo(log, 300);
    const before = firstVisible(log);
    await waitFor(() => expect(loaded(log)).toBeGreaterThan(2001 + PAGE_SIZE - 1));
    await new Promise((r) => setTimeout(r, 50));
    expect(firstVisible(log)).toEqual(before);
  });

  it("follows new messages only when the user is at the bottom", async () => {
    const { backend, log } = await open(200);
    await waitFor(() => expect(renderedIds(log)).toContain(200));
    const arrive = async (id: number) => {
      backend.messages.set(KEY, [
        message({ id, text: `message ${id}`, create_time_ms: 1_700_000_000_000 + id * 60_000 }),
        ...backend.messages.get(KEY)!,
      ]);
      await emitEngine({
        type: "message_received",
        account_id: "bot1-im-bot",
        peer_id: "alice@im.wechat",
        message_row_id: id,
        item_kind: "text",
        preview: `message ${id}`,
      });
    };
    // Scrolled up: the view does not move.
    await scrollTo(log, 2000);
    const before = firstVisible(log);
    await arrive(201);
    await waitFor(() => expect(loaded(log)).toBe(81));
    expect(firstVisible(log)).toEqual(before);
    expect(renderedIds(log)).not.toContain(201);
    // At the bottom: the log stays pinned there and shows the new one.
    await scrollTo(log, bottom(log));
    await arrive(202);
    await waitFor(() => expect(renderedIds(log)).toContain(202));
    expect(log.scrollTop).toBe(bottom(log));
  });
});
