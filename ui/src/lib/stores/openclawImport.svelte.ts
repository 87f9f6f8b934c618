// The "Import from OpenClaw" dialog: what the official plugin's state folder holds, the
// accounts the owner picks, and what became of each.
import { api, type ImportOutcome, type OpenClawScan } from "../ipc";
import { describeError } from "../errors";

export class OpenClawImportStore {
  isOpen = $state(false);
  /** The folder typed by the owner; empty means where the plugin keeps it. */
  folder = $state("");
  scan = $state<OpenClawScan | null>(null);
  chosen = $state<string[]>([]);
  busy = $state(false);
  outcomes = $state<ImportOutcome[] | null>(null);
  error = $state<string | null>(null);

  async open() {
    this.isOpen = true;
    this.folder = "";
    this.outcomes = null;
    await this.look();
  }

  close() {
    this.isOpen = false;
    this.scan = null;
    this.chosen = [];
  }

  /** Reads the folder again; every account that can come over starts chosen. */
  async look() {
    this.busy = true;
    this.error = null;
    try {
      const scan = await api.scanOpenclaw(this.folder.trim() === "" ? null : this.folder.trim());
      this.scan = scan;
      this.folder = scan.state_dir;
      this.chosen = scan.accounts.filter((a) => a.problem === null).map((a) => a.account_id);
    } catch (err) {
      this.scan = null;
      this.error = describeError(err).sentence;
    } finally {
      this.busy = false;
    }
  }

  toggle(accountId: string, on: boolean) {
    this.chosen = on
      ? [...this.chosen.filter((id) => id !== accountId), accountId]
      : this.chosen.filter((id) => id !== accountId);
  }

  /** Imports the chosen accounts; true when the window should read its accounts again. */
  async importChosen(): Promise<boolean> {
    if (this.chosen.length === 0) return false;
    this.busy = true;
    this.error = null;
    try {
      // The folder the list came from, even if the field was edited since.
      this.outcomes = await api.importOpenclaw(this.scan?.state_dir ?? this.folder, this.chosen);
      return this.outcomes.some((o) => o.imported);
    } catch (err) {
      this.error = describeError(err).sentence;
      return false;
    } finally {
      this.busy = false;
    }
  }
}

export const openclawImport = new OpenClawImportStore();
