/** Writes the config reference (docs/configuration.md) and stack-config.schema.json from the schema in components/config/, and the resource tree in docs/architecture.md. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderStackFileJsonSchema } from "../components/config/json-schema";
import {
    ARCHITECTURE_DOC_PATH,
    CONFIGURATION_DOC_PATH,
    formattedArchitectureDoc,
    formattedConfigurationDoc,
    formattedReadme,
    README_PATH,
} from "./readme";

/** Where the stack files' JSON Schema lives (referenced from each Pulumi.<stack>.yaml). */
export const JSON_SCHEMA_PATH = join(__dirname, "..", "stack-config.schema.json");

void (async () => {
    writeFileSync(CONFIGURATION_DOC_PATH, await formattedConfigurationDoc());
    writeFileSync(JSON_SCHEMA_PATH, renderStackFileJsonSchema());
    writeFileSync(ARCHITECTURE_DOC_PATH, await formattedArchitectureDoc());
    writeFileSync(README_PATH, await formattedReadme());
    console.log(
        `written: ${CONFIGURATION_DOC_PATH}, ${JSON_SCHEMA_PATH}, the resource trees in ${ARCHITECTURE_DOC_PATH} and ${README_PATH}`,
    );
})();
