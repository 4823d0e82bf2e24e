import type { Plugin } from "@envelop/core";
import type { GraphQLError } from "graphql";
import { AppError, ERROR_CODES } from "../errors.js";

// An event rendered while the database was away (a restart, a failover) comes out with a field
// error where its message should be, yet with its cursor: a client that stores the cursor of what it
// was given would never see that message. Such an event is not delivered; its subscription ends
// with an error instead, and the client resumes from the last cursor it has, where the event is
// rendered again in full. Errors the API names (FORBIDDEN on a field, say) are delivered as they are.

const NAMED = new Set<string>(ERROR_CODES.filter((code) => code !== "INTERNAL"));

/** A failure the server did not mean: a bug or an outage, whether or not it is masked yet. */
function isUnmeant(error: GraphQLError): boolean {
  const code = error.extensions?.code;
  return typeof code !== "string" || !NAMED.has(code);
}

export const STREAM_BROKEN =
  "An event could not be rendered in full (the server lost its database for a moment); subscribe again from your last cursor";

export function useWholeEventsOnly(): Plugin {
  return {
    onSubscribe() {
      return {
        onSubscribeResult() {
          return {
            onNext({ result }) {
              if (result.errors?.some(isUnmeant)) throw new AppError("INTERNAL", STREAM_BROKEN);
            },
          };
        },
      };
    },
  };
}
