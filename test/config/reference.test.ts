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
import { renderConfigReference } from "../../components/config/reference";
import { formattedReadme } from "../../scripts/readme";
import type { Field } from "../../components/config/schema";

const root = join(__dirname, "..", "..");

describe("config reference", () => {
    it("README.md carries the reference generated from the schema (run npm run docs:config after a schema change)", async () => {
        assert.equal(readFileSync(join(root, "README.md"), "utf8"), await formattedReadme());
    });

    it("the generated reference has one row per key, nested keys included", () => {
        const table = renderConfigReference();
        for (const key of [
            "sshPrivateKey",
            "hosts[].bastion.hostKey",
            "registries.<key>.mirrors",
            "builds[].context.files",
            "buildkit.gc.minFreeSpace",
        ]) {
            assert.ok(table.includes(`| \`${key}\` |`), key);
        }
        assert.match(table, /^\| `sshPrivateKey` \| string \| secret \| OpenSSH private key used for every SSH host and bastion\. \|$/m);
        assert.match(
            table,
            /^\| `hosts\[\]\.name` \| string \| \*\*required\*\* \| Unique name of the host; used in resource names\. \|$/m,
        );
    });

    it("Pulumi.yaml declares every scalar key with a default, matching the schema", () => {
        const project = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string; config: Record<string, unknown> };
        assert.equal(project.name, "k3s-buildkit");
        const expected: Record<string, unknown> = {};
        for (const [key, f] of Object.entries(stackSchema.fields as Record<string, Field>)) {
            if ((f.kind === "string" || f.kind === "integer" || f.kind === "boolean") && f.default !== undefined) {
                expected[key] = { type: f.kind, default: f.default, description: f.description };
            }
        }
        assert.deepEqual(project.config, expected);
    });
});
