/**
 * The operating docs stay true: workflows parse and call only scripts that exist, docs link to files
 * that exist, and the benchmark document matches what `npm run bench` measures for re-runs.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";

const root = join(__dirname, "..", "..");
const scripts = Object.keys((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);

describe("operating docs", () => {
    const workflows = readdirSync(join(root, ".github/workflows")).filter((f) => f.endsWith(".yml"));
    it("there are CI, preview and up workflows", () =>
        assert.deepEqual(workflows.sort(), ["ci.yml", "preview.yml", "up-stack.yml", "up.yml"]));
    for (const f of workflows) {
        it(`${f} parses and runs only scripts and files that exist`, () => {
            const text = readFileSync(join(root, ".github/workflows", f), "utf8");
            const doc = parse(text) as { jobs: Record<string, unknown> };
            assert.ok(Object.keys(doc.jobs).length > 0);
            for (const m of text.matchAll(/npm run ([a-z:]+)/g)) assert.ok(scripts.includes(m[1]), `${f}: npm run ${m[1]}`);
            for (const m of text.matchAll(/uses: \.\/(\S+)/g)) assert.ok(existsSync(join(root, m[1])), `${f}: ${m[1]}`);
            if (text.includes(".ci/run")) assert.ok(existsSync(join(root, ".ci/run")));
            // A refresh must run the program: the API tunnel (hosts behind a bastion) exists only while it runs.
            assert.doesNotMatch(text, /refresh: true/, `${f}: refresh without the program`);
            for (const m of text.matchAll(/pulumi (refresh|destroy)\b[^\n]*/g)) assert.match(m[0], /--run-program/, `${f}: ${m[0]}`);
        });
    }
    const docs = ["README.md", "test/README.md", ...readdirSync(join(root, "docs")).map((f) => `docs/${f}`)];
    for (const doc of docs) {
        it(`${doc}: relative links point at files that exist; no document outside the repository is cited`, () => {
            const text = readFileSync(join(root, doc), "utf8");
            for (const m of text.matchAll(/\]\(((?!https?:)[^)#]+)\)/g))
                assert.ok(existsSync(join(root, dirname(doc), m[1])), `${doc}: ${m[1]}`);
            // The seed notes the project grew from are not in the repository.
            assert.doesNotMatch(text, /\bseeds?\b/i, `${doc} cites the seed notes`);
        });
    }
    it("docs/benchmarks.md records a no-change re-run changing nothing", () => {
        assert.match(
            readFileSync(join(root, "docs/benchmarks.md"), "utf8"),
            /inputs changed by a re-run with no change\s*\|\s*0 changed, 0 added, 0 removed/,
        );
    });
});
