import type { Plugin } from "@envelop/core";
import { costLimitPlugin } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesPlugin } from "@escape.tech/graphql-armor-max-directives";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import type { GraphQLError } from "graphql";
import type { Config } from "../config.js";

/** graphql-armor rejects with plain GraphQL errors; these are the client's to fix, so LIMIT_EXCEEDED. */
const markLimitExceeded = [
  (_ctx: unknown, error: GraphQLError) => {
    (error.extensions as Record<string, unknown>).code = "LIMIT_EXCEEDED";
  },
];

/**
 * What one GraphQL document may ask of the server (README.md, "Hardening"). Tokens are counted while
 * parsing, so a huge document stops early; the rest are checked before anything runs.
 */
export function queryLimitPlugins(config: Config): Plugin[] {
  return [
    maxTokensPlugin({ n: config.maxQueryTokens, onReject: markLimitExceeded }),
    maxDepthPlugin({ n: config.maxQueryDepth, onReject: markLimitExceeded }),
    costLimitPlugin({ maxCost: config.maxQueryCost, onReject: markLimitExceeded }),
    // __typename too (graphql-armor allows it by default): thousands of any alias are a flood.
    maxAliasesPlugin({ n: config.maxQueryAliases, allowList: [], onReject: markLimitExceeded }),
    maxDirectivesPlugin({ n: config.maxQueryDirectives, onReject: markLimitExceeded }),
  ];
}
