// A coarse reactive clock (one tick a minute) for "closes in n min" texts.
let current = $state(Date.now());
if (typeof window !== "undefined") {
  setInterval(() => (current = Date.now()), 30_000);
}

export function now(): number {
  return current;
}
