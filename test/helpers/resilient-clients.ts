import type { GraphQLResponse } from "./client.js";
import { connect } from "./client.js";

// Clients that behave as a real app does when servers fail: a sender retries the same
// clientMessageId until a server acknowledges it, moving to another instance when its own does not
// answer; a receiver holds an events stream, and when it ends reconnects (to either instance) and
// resumes from the cursor of the last event it processed. Both keep what happened, for assertions.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Instances' URLs, read at each attempt: an instance restarted on the same port keeps its URL. */
export type Endpoints = () => string[];

/** How long one request may take before the client gives up on it and retries (the server may still commit it). */
const REQUEST_TIMEOUT_MS = 10_000;
const RETRY_PAUSE_MS = 150;

export const SEND_TEXT = `mutation($to: ChatTarget!, $text: String!, $cid: String!) {
  sendMessage(to: $to, body: { text: { text: $text } }, clientMessageId: $cid) { id clientMessageId }
}`;

export interface SendOutcome {
  cid: string;
  /** Which conversation, as the receivers name it (see ResumingReceiver.conversationOf). */
  conversation: string;
  receivers: string[];
  acknowledged: boolean;
  /** Requests beyond the first. */
  retries: number;
  /** The instance that acknowledged it. */
  via?: string;
  lastError?: string;
}

async function post(url: string, query: string, variables: Record<string, unknown>, token: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return (await response.json()) as GraphQLResponse;
}

/**
 * Sends one message, retrying the same clientMessageId until an instance acknowledges it (answers
 * with the message) or `giveUpAt` passes. Starts at instance `home` and moves to the next one after
 * each failure.
 */
export async function sendUntilAcknowledged(
  endpoints: Endpoints,
  home: number,
  token: string,
  message: { to: Record<string, string>; cid: string; conversation: string; receivers: string[] },
  giveUpAt: () => number,
  /** Told each failed attempt, for a failing test's message. */
  onFailure: (url: string, error: string) => void = () => {},
): Promise<SendOutcome> {
  const outcome: SendOutcome = {
    cid: message.cid,
    conversation: message.conversation,
    receivers: message.receivers,
    acknowledged: false,
    retries: 0,
  };
  for (let attempt = 0; ; attempt++) {
    const urls = endpoints();
    const url = urls[(home + attempt) % urls.length]!;
    try {
      const answer = await post(
        url,
        SEND_TEXT,
        { to: message.to, text: message.cid, cid: message.cid },
        token,
      );
      if (answer.data?.sendMessage?.clientMessageId === message.cid) {
        outcome.acknowledged = true;
        outcome.via = url;
        return outcome;
      }
      outcome.lastError = JSON.stringify(answer.errors);
    } catch (error) {
      outcome.lastError = (error as Error).message;
    }
    onFailure(url, outcome.lastError);
    if (Date.now() > giveUpAt()) return outcome;
    outcome.retries++;
    await sleep(RETRY_PAUSE_MS);
  }
}

export const MESSAGE_STREAM = `subscription($since: String) {
  events(since: $since) {
    cursor
    event {
      __typename
      ... on MessageEvent {
        message { clientMessageId from { username } to { __typename ... on User { username } ... on Group { id } } }
      }
    }
  }
}`;

export interface ReceivedMessage {
  cid: string;
  conversation: string;
  from: string;
}

/**
 * A device following its user's events. `start` keeps it connected until `stop`: whenever its
 * stream ends (the instance died, the server closed it, the subscription failed), it reconnects,
 * trying the instances in turn from `home`, and resumes after the last event it processed.
 */
export class ResumingReceiver {
  readonly received: ReceivedMessage[] = [];
  /** Each stream that ended, and why. */
  readonly interruptions: string[] = [];
  /** GraphQL errors the stream itself answered with (a server error, a refused cursor). */
  readonly streamErrors: { message: string; code?: unknown }[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private dispose: (() => void) | undefined;

  constructor(
    readonly username: string,
    private readonly token: string,
    private readonly endpoints: Endpoints,
    private readonly home: number,
    /** The cursor it processed last: where it resumes. */
    public cursor: string,
  ) {}

  /** A message's conversation seen from its receiver: `group:<id>` or `direct:<sender>`. */
  static conversationOf(message: { from: { username: string }; to: { __typename: string; id?: string } }) {
    return message.to.__typename === "Group" ? `group:${message.to.id}` : `direct:${message.from.username}`;
  }

  start(): void {
    this.running = this.follow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.dispose?.();
    await this.running;
  }

  private async follow(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const urls = this.endpoints();
      const reason = await this.streamOnce(urls[(this.home + attempt) % urls.length]!);
      if (this.stopped) return;
      this.interruptions.push(reason);
      await sleep(RETRY_PAUSE_MS);
    }
  }

  /** One connection and one stream from the current cursor; resolves with why it ended. */
  private async streamOnce(url: string): Promise<string> {
    const socket = connect(url, this.token);
    this.dispose = () => void socket.dispose();
    try {
      await socket.connected;
    } catch (error) {
      await socket.dispose();
      return `connect: ${(error as Error).message}`;
    }
    const ended = new Promise<string>((resolve) => {
      socket.client.subscribe<any>(
        { query: MESSAGE_STREAM, variables: { since: this.cursor } },
        {
          next: (value) => {
            if (value.errors) {
              for (const error of value.errors) {
                this.streamErrors.push({ message: error.message, code: error.extensions?.code });
              }
              resolve(`errors: ${JSON.stringify(value.errors)}`);
              return;
            }
            this.process(value.data!.events);
          },
          error: (error) => {
            if (Array.isArray(error)) {
              for (const item of error)
                this.streamErrors.push({ message: item.message, code: item.extensions?.code });
            }
            resolve(`error: ${Array.isArray(error) ? JSON.stringify(error) : describe(error)}`);
          },
          complete: () => resolve("completed"),
        },
      );
      socket.closed.then(({ code, reason }) => resolve(`closed ${code} ${reason}`));
    });
    const reason = await ended;
    await socket.dispose();
    return reason;
  }

  private process(envelope: { cursor: string | null; event: any }) {
    if (envelope.event.__typename === "MessageEvent") {
      const { message } = envelope.event;
      this.received.push({
        cid: message.clientMessageId,
        conversation: ResumingReceiver.conversationOf(message),
        from: message.from.username,
      });
    }
    // Live-only events carry no cursor; a durable one moves the resume point past itself.
    if (envelope.cursor) this.cursor = envelope.cursor;
  }
}

function describe(error: unknown): string {
  if (error && typeof error === "object" && "code" in error) {
    return `closed ${(error as { code: number }).code} ${(error as { reason?: string }).reason ?? ""}`;
  }
  return String(error);
}
