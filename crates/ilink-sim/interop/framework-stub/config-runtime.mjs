// Only used by the plugin after a QR login, which the interop run does not do.
export function loadConfig() {
  return {};
}
export async function writeConfigFile() {}
