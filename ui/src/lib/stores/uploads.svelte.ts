// Files on their way out of the open conversation, each with its own progress line
// (kept current by the engine's upload and delivery events).
import { api, type EngineEvent } from "../ipc";
import { t } from "../i18n/index.svelte";
import { describeError } from "../errors";

export interface Upload {
  key: string;
  name: string;
  /** 0–100, or null while unknown. */
  percent: number | null;
  /** `uploading`: the engine sends it to the CDN; `sent`: delivered. */
  phase: "uploading" | "sent";
  error: string | null;
  done: boolean;
  cancelled: boolean;
  outbox_id: number | null;
}

type UploadProgress = Extract<EngineEvent, { type: "upload_progress" }>;
type DeliveryUpdated = Extract<EngineEvent, { type: "delivery_updated" }>;

export class UploadsStore {
  items = $state<Upload[]>([]);
  /** Upload progress of outbound files by outbox id, 0–100 (shown on their messages). */
  progress = $state<Record<number, number>>({});

  private patch(key: string, change: Partial<Upload>) {
    this.items = this.items.map((u) => (u.key === key ? { ...u, ...change } : u));
  }

  /** What the engine said of outbox ids no line knows yet: a small file can be sent
   * before `sendFile` has answered with its id. */
  private early = new Map<number, Partial<Upload>>();

  private patchByOutbox(outbox_id: number, change: Partial<Upload>) {
    if (!this.items.some((u) => u.outbox_id === outbox_id)) {
      this.early.set(outbox_id, { ...this.early.get(outbox_id), ...change });
      return;
    }
    this.items = this.items.map((u) => (u.outbox_id === outbox_id ? { ...u, ...change } : u));
  }

  onProgress(event: UploadProgress) {
    const percent = event.total > 0 ? Math.floor((event.sent * 100) / event.total) : 0;
    this.progress = { ...this.progress, [event.outbox_id]: percent };
    this.patchByOutbox(event.outbox_id, { percent, phase: "uploading" });
  }

  onDelivery(event: DeliveryUpdated) {
    if (event.state === "delivered") {
      this.patchByOutbox(event.outbox_id, { percent: 100, phase: "sent", done: true });
    } else if (event.state === "failed") {
      this.patchByOutbox(event.outbox_id, { error: event.error ?? "failed" });
    }
  }

  /** Queues files one by one, each with its own progress line. */
  async send(account: string, peer: string, paths: string[]) {
    for (const path of paths) {
      const name = path.split(/[\\/]/).pop() ?? path;
      const key = `${Date.now()}-${Math.random()}`;
      this.items = [
        ...this.items,
        { key, name, percent: null, phase: "uploading", error: null, done: false, cancelled: false, outbox_id: null },
      ];
      try {
        const queued = await api.sendFile(account, peer, path);
        const early = this.early.get(queued.outbox_id);
        this.early.delete(queued.outbox_id);
        this.patch(key, { ...early, outbox_id: queued.outbox_id });
      } catch (err) {
        this.patch(key, { error: describeError(err).sentence });
      }
    }
  }

  /** Stops a file: once queued, it is discarded. A finished line is dismissed. */
  async cancel(key: string) {
    const upload = this.items.find((u) => u.key === key);
    if (!upload) return;
    if (upload.done || upload.error) {
      this.dismiss(key);
      return;
    }
    this.patch(key, { cancelled: true, error: t("composer.cancelled") });
    if (upload.outbox_id !== null) await api.discardOutbound(upload.outbox_id).catch(() => false);
  }

  dismiss(key: string) {
    this.items = this.items.filter((u) => u.key !== key);
  }

  /** Another conversation was opened: its lines go. */
  clear() {
    this.items = [];
  }

  reset() {
    this.items = [];
    this.progress = {};
    this.early.clear();
  }
}

export const uploads = new UploadsStore();
