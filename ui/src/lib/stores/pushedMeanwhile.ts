// Views the engine pushed while the window was waiting for an answer from the store.
// The answer may predate them (read before the change, or overtaken on the way by the
// event), so it is put in place first and the views pushed since the call began are
// put back over it, in the order they came: the newest view of a thing wins.

export class PushedMeanwhile<T> {
  private calls = 0;
  private views: T[] = [];

  /** Notes a pushed view; kept only while some call is waiting. */
  note(view: T) {
    if (this.calls > 0) this.views.push(view);
  }

  /** Runs `call`, then `land` with its answer and the views pushed while it ran, at
   * once: no other view can come between the answer and its landing. */
  async around<R, V>(call: () => Promise<R>, land: (answer: R, pushed: T[]) => V): Promise<V> {
    const from = this.views.length;
    this.calls += 1;
    try {
      const answer = await call();
      return land(answer, this.views.slice(from));
    } finally {
      this.calls -= 1;
      if (this.calls === 0) this.views = [];
    }
  }
}
