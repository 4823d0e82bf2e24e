import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./app.js";

// Reads the Dockerfile's instructions, so tests run exactly what the image runs.

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string | undefined;
  instructions: Instruction[];
}

/** The Dockerfile's stages in order, each with its instructions (continuation lines joined). */
export function dockerfileStages(path = join(ROOT, "Dockerfile")): Stage[] {
  const logical = readFileSync(path, "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, args] = line.match(/^(\S+)\s+(.*)$/) ?? [];
    if (keyword === undefined || args === undefined) continue;
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim() };
    if (instruction.keyword === "FROM") {
      stages.push({ name: args.match(/\bAS\s+(\S+)/i)?.[1], instructions: [] });
    }
    stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** An exec-form (JSON array) CMD or HEALTHCHECK command. */
export function execForm(args: string): string[] {
  const json = args.replace(/^(--\S+\s+)*CMD\s+/, "");
  const command = JSON.parse(json) as unknown;
  if (!Array.isArray(command) || !command.every((part) => typeof part === "string")) {
    throw new Error(`not an exec-form command: ${args}`);
  }
  return command;
}

/** A stage's ENV settings (`ENV A=1 B=2` form). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== "ENV") continue;
    for (const [, name, value] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) {
      env[name!] = value!.replace(/^"|"$/g, "");
    }
  }
  return env;
}

/** The last instruction with this keyword in the stage. */
export function lastOf(stage: Stage, keyword: string): string {
  const found = stage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1);
  if (!found) throw new Error(`no ${keyword} in the stage`);
  return found.args;
}
