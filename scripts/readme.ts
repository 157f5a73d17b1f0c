/** The generated docs: docs/configuration.md, and the resource tree in docs/architecture.md, formatted as `prettier` writes them. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";
import { renderConfigurationDoc } from "../components/config/reference";
import { drawTree, FAKE_SSH_KEY, runPlatform } from "../tools/evaluate";

export const CONFIGURATION_DOC_PATH = join(__dirname, "..", "docs", "configuration.md");
export const ARCHITECTURE_DOC_PATH = join(__dirname, "..", "docs", "architecture.md");
export const README_PATH = join(__dirname, "..", "README.md");

async function format(text: string, path: string): Promise<string> {
    const options = (await prettier.resolveConfig(path)) ?? {};
    return prettier.format(text, { ...options, filepath: path });
}

export function formattedConfigurationDoc(): Promise<string> {
    return format(renderConfigurationDoc(), CONFIGURATION_DOC_PATH);
}

/** The tree of a server + agent stack, as the mocks evaluate it. */
export async function resourceTree(componentsOnly = false): Promise<string> {
    const { recorded } = await runPlatform(
        {
            sshPrivateKey: FAKE_SSH_KEY,
            hosts: [
                { name: "server-1", address: "10.0.0.5" },
                { name: "agent-1", role: "agent", address: "10.0.0.6" },
            ],
        },
        ["sshPrivateKey"],
    );
    return drawTree(recorded, "k3s-buildkit-prod", componentsOnly);
}

/** `text` with the block between `<!-- <marker>:start … -->` and `<!-- <marker>:end -->` replaced by a code block. */
function withBlock(text: string, marker: string, code: string, file: string): string {
    const start = text.indexOf(`<!-- ${marker}:start`);
    const startEnd = text.indexOf("-->", start) + 3;
    const end = text.indexOf(`<!-- ${marker}:end -->`);
    if (start < 0 || end < startEnd) throw new Error(`${file} has no ${marker} markers`);
    return `${text.slice(0, startEnd)}\n\n\`\`\`\n${code}\`\`\`\n\n${text.slice(end)}`;
}

/** docs/architecture.md with its resource tree regenerated. */
export async function formattedArchitectureDoc(): Promise<string> {
    const text = withBlock(readFileSync(ARCHITECTURE_DOC_PATH, "utf8"), "resource-tree", await resourceTree(), "docs/architecture.md");
    return format(text, ARCHITECTURE_DOC_PATH);
}

/** README.md with its component tree regenerated. */
export async function formattedReadme(): Promise<string> {
    return format(withBlock(readFileSync(README_PATH, "utf8"), "component-tree", await resourceTree(true), "README.md"), README_PATH);
}
