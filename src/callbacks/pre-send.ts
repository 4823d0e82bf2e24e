import type { CallbackConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { postSigned } from "./signing.js";

// The pre-send webhook (PRE_SEND_WEBHOOK_URL): asked before a user's message is stored. It answers
// {"action":"pass"}, {"action":"reject","reason":"..."} or {"action":"rewrite","body":{...},"ext":{...}}
// within PRE_SEND_WEBHOOK_TIMEOUT_MS; no answer in time, an error status or an answer we cannot
// read counts as a failure, which passes or rejects the message as PRE_SEND_WEBHOOK_FAILURE says.

export interface PreSendRequest {
  from: string;
  to: Record<string, string>;
  type: string;
  body: Record<string, unknown>;
  ext: Record<string, unknown>;
  clientMessageId: string | null;
}

export type PreSendVerdict =
  | { action: "pass" }
  | { action: "reject"; reason: string }
  | { action: "rewrite"; body?: Record<string, unknown>; ext?: Record<string, unknown> };

export async function askPreSend(
  config: CallbackConfig,
  log: Logger,
  request: PreSendRequest,
): Promise<PreSendVerdict> {
  const { preSendUrl, secret, preSendTimeoutMs, preSendFailure } = config;
  try {
    const response = await postSigned(
      preSendUrl!,
      secret!,
      { event: "message.pre_send", message: request },
      preSendTimeoutMs,
    );
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return readVerdict(await response.json());
  } catch (error) {
    log.warn("Pre-send webhook failed", { error: (error as Error).message, failing: preSendFailure });
    return preSendFailure === "open"
      ? { action: "pass" }
      : { action: "reject", reason: "The message could not be checked; try again later" };
  }
}

function readVerdict(answer: unknown): PreSendVerdict {
  const verdict = (answer ?? {}) as Record<string, unknown>;
  const object = (value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  switch (verdict.action) {
    case "pass":
      return { action: "pass" };
    case "reject":
      return {
        action: "reject",
        reason: typeof verdict.reason === "string" ? verdict.reason.slice(0, 500) : "Rejected by the app",
      };
    case "rewrite":
      return { action: "rewrite", body: object(verdict.body), ext: object(verdict.ext) };
    default:
      throw new Error(
        `the answer's action must be pass, reject or rewrite, got ${JSON.stringify(verdict.action)}`,
      );
  }
}
