import { describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import MediaPreview from "./MediaPreview.svelte";
import { fakeBackend, message } from "../../test/backend";

function video(thumb_url: string | null) {
  return message({
    item_kind: "video",
    text: null,
    media_state: "ready",
    media_path: "/data/media/a/2026-12/video-7.mp4",
    media_url: "http://127.0.0.1:9/media/a/2026-12/video-7.mp4",
    thumb_url,
    media_size: 62_914_560,
  });
}

describe("a video in the log", () => {
  it("shows its poster and starts the player only when asked", async () => {
    fakeBackend();
    const { container } = render(MediaPreview, { message: video("media://localhost/a/2026-12/video-7.mp4.thumb.jpg") });
    const poster = screen.getByTestId("video-poster");
    expect(poster.querySelector("img")!.getAttribute("src")).toBe("media://localhost/a/2026-12/video-7.mp4.thumb.jpg");
    expect(poster.textContent).toContain("60");
    expect(container.querySelector("video")).toBeNull();
    await fireEvent.click(poster);
    const player = screen.getByTestId("video-player") as HTMLVideoElement;
    expect(player.getAttribute("src")).toBe("http://127.0.0.1:9/media/a/2026-12/video-7.mp4");
    expect(player.hasAttribute("autoplay")).toBe(true);
    expect(screen.queryByTestId("video-poster")).toBeNull();
  });

  it("without a poster shows a play button all the same", async () => {
    fakeBackend();
    const { container } = render(MediaPreview, { message: video(null) });
    const poster = screen.getByTestId("video-poster");
    expect(poster.classList.contains("bare")).toBe(true);
    expect(poster.querySelector("img")).toBeNull();
    expect(container.querySelector("video")).toBeNull();
    await fireEvent.click(poster);
    expect(screen.getByTestId("video-player")).toBeTruthy();
  });
});
