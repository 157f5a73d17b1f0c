/** Rewrites the config reference in README.md and stack-config.schema.json from the schema in components/config/. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderStackFileJsonSchema } from "../components/config/json-schema";
import { formattedReadme, README_PATH } from "./readme";

/** Where the stack files' JSON Schema lives (referenced from each Pulumi.<stack>.yaml). */
export const JSON_SCHEMA_PATH = join(__dirname, "..", "stack-config.schema.json");

void formattedReadme().then((text) => {
    writeFileSync(README_PATH, text);
    writeFileSync(JSON_SCHEMA_PATH, renderStackFileJsonSchema());
    console.log(`config reference written to ${README_PATH}, JSON Schema to ${JSON_SCHEMA_PATH}`);
});
