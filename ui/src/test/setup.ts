import { afterEach } from "vitest";
import { cleanup } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { app } from "../lib/stores/app.svelte";

afterEach(() => {
  cleanup();
  clearMocks();
  app.reset();
});
