/**
 * Host scripts kept as `.sh` files beside this module (shellcheck-clean, readable on their own) and
 * loaded here. Each is a body for {@link renderScript}: parameters come from its exported variables.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The names of the scripts in `scripts/`. */
export type ScriptName = "preflight";

/** The body of a host script. */
export function scriptBody(name: ScriptName): string {
    return readFileSync(join(__dirname, "scripts", `${name}.sh`), "utf8");
}
