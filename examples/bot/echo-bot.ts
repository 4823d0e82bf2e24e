// The bot: signs in, follows its event stream from the saved cursor, answers direct text messages
// with "echo: <text>", saves the cursor after each event, and reconnects from it when the stream ends.
import { setTimeout as sleep } from "node:timers/promises";
import { connect, GraphQLRequestError, request, subscribe } from "./api.js";
import { readCursor, saveCursor } from "./cursor-file.js";
import {
  EventCursorDocument,
  EventsDocument,
  type EventsSubscription,
  type IncomingMessageFragment,
  LoginDocument,
  SendTextDocument,
} from "./generated/graphql.js";

export interface BotSettings {
  /** The GraphQL endpoint, e.g. http://localhost:4000/graphql */
  serverUrl: string;
  username: string;
  password: string;
  cursorFile: string;
  log(line: string): void;
}

interface Session {
  token: string;
  userId: string;
}

type Event = EventsSubscription["events"]["event"];

const MAX_TEXT = 5000;
const MAX_BACKOFF_MS = 30_000;
// Wrong credentials, a banned or deleted account: signing in again would only be refused again.
const LOGIN_REFUSALS = new Set(["BAD_USER_INPUT", "UNAUTHENTICATED", "USER_BANNED"]);
// A reply the server refuses for good (the human blocked the bot, was deleted, ...): retrying the
// event would stop the stream there forever, so the bot logs it and moves on.
const PERMANENT_REFUSALS = new Set([
  "BAD_USER_INPUT",
  "BLOCKED",
  "CONTENT_REJECTED",
  "FORBIDDEN",
  "LIMIT_EXCEEDED",
  "NOT_FOUND",
]);

/** A problem retrying cannot fix: the bot stops and says what to change. */
export class BotStopped extends Error {}

/**
 * Runs until `stop` is aborted; the event being handled then is finished and its cursor saved.
 * Rejects with BotStopped when the server refuses the bot's credentials or its saved cursor.
 */
export async function runBot(settings: BotSettings, stop: AbortSignal): Promise<void> {
  let session: Session | undefined;
  let failures = 0;
  while (!stop.aborted) {
    try {
      session ??= await login(settings);
      const ended = await follow(settings, session, stop, () => {
        failures = 0;
      });
      if (ended) session = undefined;
    } catch (error) {
      if (error instanceof BotStopped) throw error;
      if (error instanceof GraphQLRequestError && error.code === "UNAUTHENTICATED") session = undefined;
      settings.log(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (stop.aborted) break;
    failures++;
    const backoff = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures, 7));
    settings.log(`reconnecting in ${backoff} ms`);
    await sleep(backoff, undefined, { signal: stop }).catch(() => {});
  }
}

async function login(settings: BotSettings): Promise<Session> {
  const { login } = await request(settings.serverUrl, LoginDocument, {
    username: settings.username,
    password: settings.password,
    deviceName: "echo-bot",
    platform: "bot",
  }).catch((error) => {
    if (error instanceof GraphQLRequestError && error.code && LOGIN_REFUSALS.has(error.code)) {
      throw new BotStopped(`cannot sign in as ${settings.username}: ${error.message}`);
    }
    throw error;
  });
  settings.log(`signed in as ${login.user.username}`);
  return { token: login.token, userId: login.user.id };
}

/**
 * Follows the stream until the socket closes or `stop` is aborted. Returns true when the session
 * ended (a SessionEvent, or the server refused the token), so the caller signs in again.
 */
async function follow(
  settings: BotSettings,
  session: Session,
  stop: AbortSignal,
  onEvent: () => void,
): Promise<boolean> {
  const since = (await readCursor(settings.cursorFile)) ?? (await startingPoint(settings, session));
  const connection = connect(settings.serverUrl, session.token);
  const disconnect = () => void connection.client.dispose();
  stop.addEventListener("abort", disconnect);
  try {
    settings.log(`following events since ${since}`);
    const stream = subscribe(connection, EventsDocument, { since });
    for await (const { events } of refusingCursor(stream, settings.cursorFile)) {
      // Events already received stay unhandled and unsaved: the next run replays them.
      if (stop.aborted) break;
      onEvent();
      if (events.event.__typename === "SessionEvent") {
        settings.log(`session ended: ${events.event.kind}`);
        return true;
      }
      await handle(settings, session, events.event);
      // Live-only events carry no cursor and are never replayed: nothing to save.
      if (events.cursor) await saveCursor(settings.cursorFile, events.cursor);
    }
    if (stop.aborted) return false;
    settings.log(`disconnected (close code ${connection.closeCode ?? "none"})`);
    return connection.closeCode === 4403;
  } finally {
    stop.removeEventListener("abort", disconnect);
    await connection.client.dispose();
  }
}

/** The stream, with the server's refusal of the saved cursor turned into BotStopped. */
async function* refusingCursor<T>(stream: AsyncGenerator<T>, cursorFile: string): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (error) {
    if (error instanceof GraphQLRequestError && error.code === "BAD_USER_INPUT") {
      throw new BotStopped(`the server refuses the cursor in ${cursorFile}: ${error.message}`);
    }
    throw error;
  }
}

/** A first run starts from now, and saves that at once so a restart does not skip what came since. */
async function startingPoint(settings: BotSettings, session: Session): Promise<string> {
  const { eventCursor } = await request(settings.serverUrl, EventCursorDocument, {}, session.token);
  await saveCursor(settings.cursorFile, eventCursor);
  return eventCursor;
}

async function handle(settings: BotSettings, session: Session, event: Event): Promise<void> {
  if (event.__typename !== "MessageEvent") return;
  const message: IncomingMessageFragment = event.message;
  // Its own replies come back as copies for its other devices; groups and rooms are not its business.
  if (message.chatType !== "DIRECT" || message.from.id === session.userId) return;
  if (message.body?.__typename !== "TextBody") return;
  try {
    await request(
      settings.serverUrl,
      SendTextDocument,
      {
        to: message.from.username,
        text: `echo: ${message.body.text}`.slice(0, MAX_TEXT),
        // Replaying an event after a crash (answered, cursor not yet saved) sends no second answer:
        // the server returns the first message for the same clientMessageId. The sender is part of
        // it because the API promises message ids that are unique within a conversation, no more.
        clientMessageId: `echo:${message.from.id}:${message.id}`,
      },
      session.token,
    );
    settings.log(`answered ${message.id} from ${message.from.username}`);
  } catch (error) {
    if (!(error instanceof GraphQLRequestError && error.code && PERMANENT_REFUSALS.has(error.code)))
      throw error;
    settings.log(`not answering ${message.id}: ${error.code} ${error.message}`);
  }
}
