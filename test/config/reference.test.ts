/**
 * The documentation cannot drift from the schema: the README's config reference is the generated one,
 * and Pulumi.yaml declares exactly the scalar keys that have defaults, with the same type, default and
 * description.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { stackSchema } from "../../components/config";
import { renderConfigurationDoc } from "../../components/config/reference";
import {
    ARCHITECTURE_DOC_PATH,
    CONFIGURATION_DOC_PATH,
    formattedArchitectureDoc,
    formattedConfigurationDoc,
    formattedReadme,
    README_PATH,
} from "../../scripts/readme";
import { fieldInfo } from "../../components/config/schema";

const root = join(__dirname, "..", "..");

describe("config reference", () => {
    it("docs/configuration.md is the reference generated from the schema (run npm run docs:config after a schema change)", async () => {
        assert.equal(readFileSync(CONFIGURATION_DOC_PATH, "utf8"), await formattedConfigurationDoc());
    });

    it("docs/architecture.md draws the resource tree the program registers (run npm run docs:config after a change to it)", async () => {
        assert.equal(readFileSync(ARCHITECTURE_DOC_PATH, "utf8"), await formattedArchitectureDoc());
    });

    it("README.md shows the component tree the program registers, and stays under 200 lines", async () => {
        const readme = readFileSync(README_PATH, "utf8");
        assert.equal(readme, await formattedReadme());
        assert.ok(readme.split("\n").length <= 200, `README.md has ${readme.split("\n").length} lines`);
    });

    it("the generated reference has a section per key, nested keys included, and no padded table", () => {
        const doc = renderConfigurationDoc();
        for (const key of [
            "sshPrivateKey",
            "hosts[].bastion.hostKey",
            "registries.<key>.mirrors",
            "builds[].context.files",
            "buildkit.gc.minFreeSpace",
        ]) {
            assert.match(doc, new RegExp(`^#{2,6} \`${key.replace(/[[\].<>]/g, "\\$&")}\`$`, "m"), key);
        }
        assert.match(
            doc,
            /^## `sshPrivateKey`\n\nstring · secret \(set with `pulumi config set --secret`\)\n\nOpenSSH private key used for every SSH host and bastion\.$/m,
        );
        assert.match(doc, /^### `hosts\[\]\.name`\n\nstring · required\n\nUnique name of the host; used in resource names\.$/m);
        assert.ok(
            readFileSync(CONFIGURATION_DOC_PATH, "utf8")
                .split("\n")
                .every((l) => l.length <= 160 && !l.startsWith("|")),
            "no table rows",
        );
    });

    it("Pulumi.yaml declares every scalar key with a default, matching the schema", () => {
        const project = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string; config: Record<string, unknown> };
        assert.equal(project.name, "k3s-buildkit");
        const expected: Record<string, unknown> = {};
        for (const [key, field] of Object.entries(fieldInfo(stackSchema).fields ?? {})) {
            const f = fieldInfo(field);
            if ((f.kind === "string" || f.kind === "integer" || f.kind === "boolean") && f.default !== undefined) {
                expected[key] = { type: f.kind, default: f.default, description: f.description };
            }
        }
        assert.deepEqual(project.config, expected);
    });
});
