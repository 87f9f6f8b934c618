// AI turns under way, from the AI's events alone: which conversations have one and
// for how long (the conversation header says "still working").
import type { AiEvent } from "../ipc";

const key = (account_id: string, peer_id: string) => `${account_id}/${peer_id.toLowerCase()}`;

export class AiTurnsStore {
  /** Elapsed ms of each running turn, by `account/peer` (peer in lower case). */
  working = $state<Record<string, number>>({});

  track(ai: AiEvent) {
    if (!("peer_id" in ai) || !("account_id" in ai) || ai.account_id === null || ai.peer_id === null) return;
    const turn = key(ai.account_id, ai.peer_id);
    if (ai.kind === "run_started" || ai.kind === "still_working") {
      this.working = { ...this.working, [turn]: ai.kind === "still_working" ? ai.elapsed_ms : 0 };
    } else if (ai.kind === "run_finished" || ai.kind === "run_failed" || ai.kind === "no_reply") {
      const { [turn]: _, ...rest } = this.working;
      this.working = rest;
    }
  }

  /** How long the conversation's turn has run (ms), or null when none runs. */
  elapsed(account_id: string | null, peer_id: string | null): number | null {
    if (!account_id || !peer_id) return null;
    return this.working[key(account_id, peer_id)] ?? null;
  }

  reset() {
    this.working = {};
  }
}

export const aiTurns = new AiTurnsStore();
