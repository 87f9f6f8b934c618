// Views the engine pushed while the window was waiting for an answer from the store.
// The answer may predate them (read before the change, or overtaken on the way by the
// event), so it is put in place first and the views pushed since the call began are
// put back over it, in the order they came: the newest view of a thing wins.

export class PushedMeanwhile<T> {
  private calls = 0;
  private views: T[] = [];

  /** `place` puts one pushed view in place of the window's copy. */
  constructor(private readonly place: (view: T) => void) {}

  /** Puts a pushed view in place; kept while some call is waiting. */
  push(view: T) {
    if (this.calls > 0) this.views.push(view);
    this.place(view);
  }

  /** Runs `call`; its answer goes in place through `land`, then the views pushed while
   * it ran go back over it, at once: no other view can come between. */
  async around<R, V>(call: () => Promise<R>, land: (answer: R) => V): Promise<V> {
    const from = this.views.length;
    this.calls += 1;
    try {
      const answer = await call();
      const landed = land(answer);
      for (const view of this.views.slice(from)) this.place(view);
      return landed;
    } finally {
      this.calls -= 1;
      if (this.calls === 0) this.views = [];
    }
  }
}
