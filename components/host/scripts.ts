/**
 * Host scripts kept as `.sh` files beside this module (shellcheck-clean, readable on their own) and
 * loaded here. Each is a body for {@link renderScript}: parameters come from its exported variables.
 * Every install/uninstall script gets `scripts/lib.sh` (download, verify, atomic install) first.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderScript, type ScriptParam } from "../render/shell";

/** The names of the scripts in `scripts/`. */
export const SCRIPT_NAMES = [
    "preflight",
    "k3s-install",
    "k3s-uninstall",
    "k3s-ready",
    "k3s-drain",
    "k3s-remove",
    "k3s-snapshot",
    "k3s-member",
    "kubeconfig",
    "buildkit-install",
    "buildkit-uninstall",
    "buildkit-ready",
    "nerdctl-install",
    "nerdctl-uninstall",
    "host-build",
    "host-build-check",
    "host-build-remove",
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

const texts = new Map<string, string>();
/** A script file's text, read once per process (every host renders the same files). */
const read = (file: string): string => {
    let text = texts.get(file);
    if (text === undefined) {
        text = readFileSync(join(__dirname, "scripts", file), "utf8");
        texts.set(file, text);
    }
    return text;
};

/** The body of a host script, with the shared helpers in front. */
export function scriptBody(name: ScriptName): string {
    return name === "preflight" || name.startsWith("host-build") ? read(`${name}.sh`) : `${read("lib.sh")}\n${read(`${name}.sh`)}`;
}

/** A complete script for `bash -s`: strict mode, parameters, helpers, body. */
export function hostScript(name: ScriptName, params: Readonly<Record<string, ScriptParam>> = {}): string {
    return renderScript(scriptBody(name), params);
}
