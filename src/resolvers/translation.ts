import type { Context } from "../context.js";
import { AppError, badInput, forbidden } from "../errors.js";
import { requireUser } from "./access.js";
import * as check from "./validation.js";
import { requireVisibleMessage } from "./visibility.js";

// Machine translation through a LibreTranslate-compatible provider (TRANSLATE_URL): POST
// { q, source: "auto", target, format: "text", api_key } → { translatedText }. Self-hosted
// LibreTranslate speaks it, and so do proxies in front of the commercial services.

export interface Translation {
  messageId: string;
  language: string;
  text: string;
}

const LANGUAGE = /^[a-z]{2,3}([-_][A-Za-z]{2,4})?$/;
const TIMEOUT_MS = 5000;

export async function translateMessage(ctx: Context, id: string, language: string): Promise<Translation> {
  const { user } = requireUser(ctx);
  const { translateUrl, translateApiKey } = ctx.services.config;
  if (!translateUrl) {
    throw forbidden("Translation is not enabled on this server: it needs a provider (TRANSLATE_URL)");
  }
  if (!LANGUAGE.test(language)) throw badInput("language must be a code such as en, zh or pt-BR", "language");
  const message = await requireVisibleMessage(ctx, user.id, id);
  const body = message.body as { text?: string } | null;
  if (message.type !== "TEXT" || !body?.text) throw badInput("Only text messages can be translated", "id");
  let response: Response;
  try {
    response = await fetch(translateUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        q: body.text,
        source: "auto",
        target: language,
        format: "text",
        api_key: translateApiKey,
      }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw providerFailed((error as Error).message);
  }
  const result = (await response.json().catch(() => null)) as {
    translatedText?: unknown;
    error?: unknown;
  } | null;
  if (!response.ok || typeof result?.translatedText !== "string") {
    throw providerFailed(typeof result?.error === "string" ? result.error : `HTTP ${response.status}`);
  }
  return {
    messageId: id,
    language,
    text: check.text(result.translatedText, "text", { min: 0, max: 20_000 }),
  };
}

function providerFailed(reason: string) {
  return new AppError("INTERNAL", `The translation provider failed: ${reason.slice(0, 200)}`);
}
