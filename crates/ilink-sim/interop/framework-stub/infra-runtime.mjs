// Stand-ins for the two OpenClaw infra helpers the plugin imports.
import os from "node:os";
import path from "node:path";

/** Where the plugin's logger writes its JSON lines. */
export function resolvePreferredOpenClawTmpDir() {
  return process.env.OPENCLAW_TMP_DIR || path.join(os.tmpdir(), "ilink-sim-interop");
}

/** The framework takes a lock file; one process needs none. */
export async function withFileLock(_filePath, _options, fn) {
  return await fn();
}
