// A chat client's local state, built only from the events a device receives. The randomized sync
// test compares it with what a fresh fetch returns. Payloads show the current state of what they
// name, so a lenient model would heal a missing event with the next one; this one takes from each
// event only the fields that event is about, so every event has to arrive.

export interface ModelMessage {
  id: string;
  from: string;
  text: string | null;
  recalled: boolean;
  editCount: number;
  status: string;
}

export interface ModelConversation {
  unreadCount: number;
  pinned: boolean;
  marks: string[];
  muted: boolean;
  deleted: boolean;
  lastMessageId: string | null;
}

const EMPTY: ModelConversation = {
  unreadCount: 0,
  pinned: false,
  marks: [],
  muted: false,
  deleted: false,
  lastMessageId: null,
};

/** What each ConversationEvent kind changes. */
const CHANGES: Record<string, (keyof ModelConversation)[]> = {
  READ: ["unreadCount"],
  PINNED: ["pinned"],
  MARKED: ["marks"],
  MUTED: ["muted"],
  DELETED: ["deleted", "pinned", "unreadCount", "lastMessageId"],
  HISTORY_CLEARED: ["unreadCount", "lastMessageId"],
};

/** The contact side of a client: contacts with remarks, the block list, requests waiting. */
export interface ModelContacts {
  contacts: Record<string, string | null>;
  blocked: string[];
  incoming: string[];
  outgoing: string[];
}

export class ClientModel {
  readonly messages = new Map<string, Map<string, ModelMessage>>();
  readonly conversations = new Map<string, ModelConversation>();
  private readonly contacts = new Map<string, string | null>();
  private readonly blocked = new Set<string>();
  private readonly incoming = new Set<string>();
  private readonly outgoing = new Set<string>();

  constructor(readonly username: string) {}

  apply(event: any): void {
    switch (event.__typename) {
      case "MessageEvent":
      case "MessageEditedEvent": {
        const message = event.message;
        if (message.type === "COMMAND") return;
        const peer = message.from.username === this.username ? message.to.username : message.from.username;
        if (event.__typename === "MessageEvent") {
          this.chat(peer).set(message.id, toModel(message));
          this.conversation(peer, message.conversation, ["unreadCount", "lastMessageId", "deleted"]);
        } else if (this.chat(peer).has(message.id)) {
          // An edit of a message this user deleted or cleared is not brought back.
          this.chat(peer).set(message.id, toModel(message));
        }
        return;
      }
      case "MessageRecalledEvent": {
        const peer = event.conversation.peer.username;
        const message = this.chat(peer).get(event.messageId);
        if (message) Object.assign(message, { recalled: true, text: null });
        this.conversation(peer, event.conversation, ["unreadCount"]);
        return;
      }
      case "MessageDeletedEvent": {
        const peer = event.conversation.peer.username;
        for (const id of event.messageIds) this.chat(peer).delete(id);
        this.conversation(peer, event.conversation, ["unreadCount", "lastMessageId"]);
        return;
      }
      case "ReceiptEvent": {
        const peer = event.conversation.peer.username;
        for (const id of event.messageIds) {
          const message = this.chat(peer).get(id);
          if (message && !(event.kind === "DELIVERED" && message.status === "READ"))
            message.status = event.kind;
        }
        return;
      }
      case "ConversationEvent":
        this.conversation(event.conversation.peer.username, event.conversation, CHANGES[event.kind]!, true);
        return;
      case "ContactEvent":
        this.contact(event.kind, event.user.username, event.contact);
        return;
      default:
        throw new Error(`unexpected event ${event.__typename}`);
    }
  }

  private chat(peer: string): Map<string, ModelMessage> {
    let chat = this.messages.get(peer);
    if (!chat) {
      chat = new Map();
      this.messages.set(peer, chat);
    }
    return chat;
  }

  private conversation(peer: string, snapshot: any, fields: (keyof ModelConversation)[], clears = false) {
    const current = this.conversations.get(peer) ?? { ...EMPTY, marks: [] };
    const fresh = toConversation(snapshot);
    for (const field of fields) (current as any)[field] = fresh[field];
    this.conversations.set(peer, current);
    const cleared = clears ? snapshot.historyClearedUpTo : null;
    if (cleared) {
      for (const id of this.chat(peer).keys()) if (BigInt(id) <= BigInt(cleared)) this.chat(peer).delete(id);
    }
  }

  private contact(kind: string, user: string, contact: { remark: string | null } | null) {
    switch (kind) {
      case "REQUEST_RECEIVED":
        this.incoming.add(user);
        return;
      case "REQUEST_SENT":
        this.outgoing.add(user);
        return;
      case "REQUEST_ACCEPTED":
        this.contacts.set(user, null);
        this.incoming.delete(user);
        this.outgoing.delete(user);
        return;
      case "REQUEST_DECLINED":
        this.incoming.delete(user);
        this.outgoing.delete(user);
        return;
      case "REMOVED":
        this.contacts.delete(user);
        return;
      case "REMARK_CHANGED":
        if (contact && this.contacts.has(user)) this.contacts.set(user, contact.remark);
        return;
      case "BLOCKED":
        this.blocked.add(user);
        return;
      case "UNBLOCKED":
        this.blocked.delete(user);
        return;
      default:
        throw new Error(`unexpected ContactEvent ${kind}`);
    }
  }

  contactState(): ModelContacts {
    const sorted = (names: Iterable<string>) => [...names].sort();
    return {
      contacts: Object.fromEntries(
        sorted(this.contacts.keys()).map((name) => [name, this.contacts.get(name)!]),
      ),
      blocked: sorted(this.blocked),
      incoming: sorted(this.incoming),
      outgoing: sorted(this.outgoing),
    };
  }

  /** The conversation list as the server lists it: without deleted ones, as a comparable value. */
  listed(): Record<string, ModelConversation> {
    return Object.fromEntries(
      [...this.conversations].filter(([, c]) => !c.deleted).sort(([a], [b]) => a.localeCompare(b)),
    );
  }

  history(peer: string): ModelMessage[] {
    return [...this.chat(peer).values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }
}

export function toModel(message: any): ModelMessage {
  return {
    id: message.id,
    from: message.from.username,
    text: message.body?.text ?? null,
    recalled: message.recalled,
    editCount: message.editCount,
    status: message.status,
  };
}

export function toConversation(snapshot: any): ModelConversation {
  return {
    unreadCount: snapshot.unreadCount,
    pinned: snapshot.pinned,
    marks: [...snapshot.marks].sort(),
    muted: snapshot.muted,
    deleted: snapshot.deleted,
    lastMessageId: snapshot.lastMessage?.id ?? null,
  };
}

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
export function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (max: number) => Math.floor(next() * max),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}
