/** The offline evaluator (Pulumi's mocks), by concern. See ./mocks.ts, ./cluster-fakes.ts, ./program.ts, ./schedule.ts. */
export * from "./cluster-fakes";
export * from "./mocks";
export * from "./program";
export * from "./schedule";
export * from "./tree";
