// Module resolution hook: `openclaw/plugin-sdk/<name>` (the OpenClaw framework, a peer
// dependency we do not install) resolves to ./<name>.mjs in this folder. Everything else
// resolves normally, so the plugin's own files run unmodified.
const PREFIX = "openclaw/plugin-sdk/";

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith(PREFIX)) {
    const name = specifier.slice(PREFIX.length);
    if (!/^[a-z-]+$/.test(name)) {
      throw new Error(`framework stub: unexpected module ${specifier}`);
    }
    return { url: new URL(`./${name}.mjs`, import.meta.url).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
