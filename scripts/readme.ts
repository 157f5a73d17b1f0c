/** The README with a freshly generated config reference, formatted as `prettier` writes it. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";
import { withReference } from "../components/config/reference";

export const README_PATH = join(__dirname, "..", "README.md");

export async function formattedReadme(): Promise<string> {
    const options = (await prettier.resolveConfig(README_PATH)) ?? {};
    return prettier.format(withReference(readFileSync(README_PATH, "utf8")), { ...options, filepath: README_PATH });
}
