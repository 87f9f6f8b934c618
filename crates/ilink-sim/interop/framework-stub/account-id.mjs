// Account id normalisation (docs/protocol.md §3.3), only reached by account helpers.
export function normalizeAccountId(raw) {
  const lower = String(raw ?? "").trim().toLowerCase();
  if (!lower) return "default";
  if (/^[a-z0-9][a-z0-9_-]{0,63}$/.test(lower)) return lower;
  const cut = lower.replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
  return cut || "default";
}
