import assert from "node:assert/strict";
import { connect, ok, type Socket, subscribe } from "./client.js";

// Shared GraphQL documents and helpers for the messaging tests.

export const MESSAGE_FIELDS = `
  id clientMessageId chatType type createdAt editedAt editCount recalled status deliveredAt readAt readCount ext
  from { username } to { ... on User { username } }
  conversation { id unreadCount peer { username } }
  body {
    __typename
    ... on TextBody { text }
    ... on ImageBody { attachmentId url width height attachment { name size sha256 mimeType } }
    ... on VoiceBody { attachmentId url duration }
    ... on VideoBody { attachmentId url duration width height }
    ... on FileBody { attachmentId url attachment { name size } }
    ... on LocationBody { latitude longitude address }
    ... on CommandBody { action params }
    ... on CustomBody { event fields }
    ... on CombinedBody { title summary messageIds messages { id from { username } body { ... on TextBody { text } } } }
  }`;

export const CONVERSATION_FIELDS = `
  id chatType unreadCount pinned pinnedAt marks muted deleted readUpTo historyClearedUpTo lastActivityAt
  peer { username } lastMessage { id recalled body { ... on TextBody { text } } }`;

export const EVENT_STREAM = `subscription Events($since: String) {
  events(since: $since) {
    cursor createdAt
    event {
      __typename
      ... on MessageEvent { message { ${MESSAGE_FIELDS} } }
      ... on MessageEditedEvent { message { ${MESSAGE_FIELDS} } }
      ... on MessageRecalledEvent { messageId by { username } conversation { ${CONVERSATION_FIELDS} } }
      ... on MessageDeletedEvent { messageIds conversation { ${CONVERSATION_FIELDS} } }
      ... on ReceiptEvent { kind by { username } messageIds upTo conversation { id peer { username } } }
      ... on ConversationEvent { kind conversation { ${CONVERSATION_FIELDS} } }
      ... on ContactEvent { kind user { username } requestMessage: message contact { remark } }
      ... on PresenceEvent { user { username } online status ext lastSeenAt }
      ... on TypingEvent { user { username } conversation { id peer { username } } }
      ... on SessionEvent { kind }
    }
  }
}`;

export const SEND = `mutation Send($to: ChatTarget!, $body: MessageBodyInput!, $cid: String, $ext: JSON) {
  sendMessage(to: $to, body: $body, clientMessageId: $cid, ext: $ext) { ${MESSAGE_FIELDS} }
}`;

export async function sendText(
  url: string,
  token: string,
  to: string,
  text: string,
  clientMessageId?: string,
): Promise<Record<string, any>> {
  const data = await ok(
    url,
    SEND,
    { to: { user: to }, body: { text: { text } }, cid: clientMessageId },
    token,
  );
  return data.sendMessage;
}

export const HISTORY = `query History($with: String!, $last: Int, $before: String, $types: [MessageType!], $from: String) {
  messages(conversation: { user: $with }, last: $last, before: $before, types: $types, from: $from) {
    edges { cursor node { ${MESSAGE_FIELDS} } }
    pageInfo { hasPreviousPage startCursor hasNextPage endCursor }
  }
}`;

export async function historyTexts(url: string, token: string, peer: string): Promise<string[]> {
  const data = await ok(url, HISTORY, { with: peer, last: 100 }, token);
  return data.messages.edges.map((edge: any) => edge.node.body?.text ?? null);
}

/** An events subscription on an open socket. */
export function streamEvents(socket: Socket, since?: string | null) {
  return subscribe(socket, EVENT_STREAM, since === undefined ? {} : { since });
}

/**
 * The position in the user's own stream that a cursor carries. Cursors are opaque to apps; the
 * tests read this part to check that a user's positions have no gaps and no repeats.
 */
export function userPosition(cursor: string): bigint {
  return BigInt(cursor.split(".")[0]!);
}

export async function cursorOf(url: string, token: string): Promise<string> {
  return (await ok(url, "{ eventCursor }", {}, token)).eventCursor;
}

/** A device's open connection with its events stream, starting at the user's current cursor. */
export async function follow(url: string, session: { token: string }) {
  const socket = connect(url, session.token);
  await socket.connected;
  const events = streamEvents(socket, await cursorOf(url, session.token));
  return { socket, events };
}

/** The stream's next event, asserting it is a `typename`; its fields with the envelope's cursor. */
export async function nextEvent(stream: ReturnType<typeof streamEvents>, typename: string, timeoutMs = 5000) {
  const result = await stream.next(timeoutMs);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const { event, cursor } = result.data!.events;
  assert.equal(event.__typename, typename, JSON.stringify(event));
  return { ...event, cursor };
}
