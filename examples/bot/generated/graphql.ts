/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type ChatType =
  /** One-to-one */
  | 'DIRECT'
  | 'GROUP'
  /** A chat room: large, online-only */
  | 'ROOM'
  /** A thread under a group message */
  | 'THREAD';

/** What happened; each event type uses the values listed for it. */
export type EventKind =
  /** GroupEvent, RoomEvent: users became admins */
  | 'ADMIN_ADDED'
  /** GroupEvent, RoomEvent: users are no longer admins */
  | 'ADMIN_REMOVED'
  /** GroupEvent, RoomEvent: users may speak while all are muted */
  | 'ALLOW_LIST_ADDED'
  /** GroupEvent, RoomEvent: users left the allow list */
  | 'ALLOW_LIST_REMOVED'
  /** GroupEvent, RoomEvent: everyone but the owner, admins and the allow list is muted */
  | 'ALL_MUTED'
  /** GroupEvent, RoomEvent: mute-all was lifted */
  | 'ALL_UNMUTED'
  /** GroupEvent, RoomEvent: the announcement changed */
  | 'ANNOUNCEMENT_CHANGED'
  /** RoomEvent: attributes were set or removed (see attributes) */
  | 'ATTRIBUTES_CHANGED'
  /** SessionEvent: the account was banned */
  | 'BANNED'
  /** ContactEvent: you blocked user */
  | 'BLOCKED'
  /** ConversationEvent: deleted from your list */
  | 'DELETED'
  /** ReceiptEvent: a device of the recipient has the messages */
  | 'DELIVERED'
  /** GroupEvent: a shared file was deleted */
  | 'FILE_DELETED'
  /** GroupEvent: a file was shared */
  | 'FILE_UPLOADED'
  /** GroupEvent: the group was made; users are its first members */
  | 'GROUP_CREATED'
  /** GroupEvent: the owner destroyed the group; its conversation ends */
  | 'GROUP_DESTROYED'
  /** GroupEvent: name, description, ext or settings changed */
  | 'GROUP_UPDATED'
  /** ConversationEvent: your history of it was cleared */
  | 'HISTORY_CLEARED'
  /** GroupEvent: an invitation was declined */
  | 'INVITE_DECLINED'
  /** GroupEvent: a request to join was declined */
  | 'JOIN_DECLINED'
  /** GroupEvent: actor asked to join (owner and admins, and the applicant's devices) */
  | 'JOIN_REQUESTED'
  /** SessionEvent: pushed out by a newer login on the same platform, or by adminForceLogout */
  | 'KICKED'
  /** SessionEvent: logout or logoutDevice */
  | 'LOGGED_OUT'
  /** ConversationEvent: marks changed */
  | 'MARKED'
  /** GroupEvent, RoomEvent: users were removed and barred */
  | 'MEMBERS_BLOCKED'
  /** GroupEvent, RoomEvent: users were muted for a time */
  | 'MEMBERS_MUTED'
  /** GroupEvent, RoomEvent: users may join again */
  | 'MEMBERS_UNBLOCKED'
  /** GroupEvent, RoomEvent: users were unmuted */
  | 'MEMBERS_UNMUTED'
  /** GroupEvent: a member's attributes changed */
  | 'MEMBER_ATTRIBUTES_CHANGED'
  /** GroupEvent: actor invited you (acceptGroupInvite or declineGroupInvite) */
  | 'MEMBER_INVITED'
  /** GroupEvent: users joined (or were approved, or accepted an invitation). ThreadEvent: users joined */
  | 'MEMBER_JOINED'
  /** GroupEvent, ThreadEvent: users left. RoomEvent: users left, or were gone past ROOM_LEAVE_GRACE_SECONDS */
  | 'MEMBER_LEFT'
  /** GroupEvent, ThreadEvent, RoomEvent: users were removed by actor */
  | 'MEMBER_REMOVED'
  /** GroupEvent: you stopped receiving the group's messages (blockGroupMessages) */
  | 'MESSAGES_BLOCKED'
  /** GroupEvent: you receive the group's messages again */
  | 'MESSAGES_UNBLOCKED'
  /** ConversationEvent: muted or unmuted */
  | 'MUTED'
  /** ThreadEvent (to the group's members): new messages in the thread; see messageCount and lastMessage. Coalesced: at most one per THREAD_SUMMARY_SECONDS per thread */
  | 'NEW_MESSAGES'
  /** GroupEvent, RoomEvent: users[0] is the new owner, users[1] the old one */
  | 'OWNER_CHANGED'
  /** SessionEvent: the password was changed on another device */
  | 'PASSWORD_CHANGED'
  /** ConversationEvent: pinned or unpinned */
  | 'PINNED'
  /** ReceiptEvent: the recipient read them. ConversationEvent: you read the conversation */
  | 'READ'
  /** ContactEvent: you changed your remark on user */
  | 'REMARK_CHANGED'
  /** ContactEvent: you and user are no longer contacts */
  | 'REMOVED'
  /** ContactEvent: you and user became contacts */
  | 'REQUEST_ACCEPTED'
  /** ContactEvent: a request between you and user was declined */
  | 'REQUEST_DECLINED'
  /** ContactEvent: user asked to become your contact */
  | 'REQUEST_RECEIVED'
  /** ContactEvent: you asked user (from another of your devices) */
  | 'REQUEST_SENT'
  /** RoomEvent: the room was destroyed */
  | 'ROOM_DESTROYED'
  /** RoomEvent: name, description, ext or maxMembers changed */
  | 'ROOM_UPDATED'
  /** ThreadEvent (to the group's members): a thread was started */
  | 'THREAD_CREATED'
  /** ThreadEvent (to the group's members): the thread was destroyed; its conversation ends */
  | 'THREAD_DESTROYED'
  /** ThreadEvent (to the group's members): the thread was renamed */
  | 'THREAD_UPDATED'
  /** ContactEvent: you unblocked user */
  | 'UNBLOCKED'
  /** SessionEvent: the account was deleted */
  | 'USER_DELETED';

export type LoginMutationVariables = Exact<{
  username: string;
  password: string;
  deviceName?: string | null | undefined;
  platform?: string | null | undefined;
}>;


export type LoginMutation = { login: { token: string, user: { id: string, username: string } } };

export type EventCursorQueryVariables = Exact<{ [key: string]: never; }>;


export type EventCursorQuery = { eventCursor: string };

export type EventsSubscriptionVariables = Exact<{
  since?: string | null | undefined;
}>;


export type EventsSubscription = { events: { cursor: string | null, event:
      | { __typename: 'ContactEvent' }
      | { __typename: 'ConversationEvent' }
      | { __typename: 'GroupEvent' }
      | { __typename: 'MessageDeletedEvent' }
      | { __typename: 'MessageEditedEvent' }
      | { __typename: 'MessageEvent', message: { id: string, chatType: ChatType, from: { id: string, username: string }, body:
            | { __typename: 'CombinedBody' }
            | { __typename: 'CommandBody' }
            | { __typename: 'CustomBody' }
            | { __typename: 'FileBody' }
            | { __typename: 'ImageBody' }
            | { __typename: 'LocationBody' }
            | { __typename: 'TextBody', text: string }
            | { __typename: 'VideoBody' }
            | { __typename: 'VoiceBody' }
           | null } }
      | { __typename: 'MessageRecalledEvent' }
      | { __typename: 'PresenceEvent' }
      | { __typename: 'ReactionEvent' }
      | { __typename: 'ReceiptEvent' }
      | { __typename: 'RoomEvent' }
      | { __typename: 'SessionEvent', kind: EventKind }
      | { __typename: 'ThreadEvent' }
      | { __typename: 'TypingEvent' }
     } };

export type IncomingMessageFragment = { id: string, chatType: ChatType, from: { id: string, username: string }, body:
    | { __typename: 'CombinedBody' }
    | { __typename: 'CommandBody' }
    | { __typename: 'CustomBody' }
    | { __typename: 'FileBody' }
    | { __typename: 'ImageBody' }
    | { __typename: 'LocationBody' }
    | { __typename: 'TextBody', text: string }
    | { __typename: 'VideoBody' }
    | { __typename: 'VoiceBody' }
   | null };

export type SendTextMutationVariables = Exact<{
  to: string;
  text: string;
  clientMessageId?: string | null | undefined;
}>;


export type SendTextMutation = { sendMessage: { id: string } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const IncomingMessageFragmentDoc = new TypedDocumentString(`
    fragment IncomingMessage on Message {
  id
  chatType
  from {
    id
    username
  }
  body {
    __typename
    ... on TextBody {
      text
    }
  }
}
    `, {"fragmentName":"IncomingMessage"}) as unknown as TypedDocumentString<IncomingMessageFragment, unknown>;
export const LoginDocument = new TypedDocumentString(`
    mutation Login($username: String!, $password: String!, $deviceName: String, $platform: String) {
  login(
    username: $username
    password: $password
    deviceName: $deviceName
    platform: $platform
  ) {
    token
    user {
      id
      username
    }
  }
}
    `) as unknown as TypedDocumentString<LoginMutation, LoginMutationVariables>;
export const EventCursorDocument = new TypedDocumentString(`
    query EventCursor {
  eventCursor
}
    `) as unknown as TypedDocumentString<EventCursorQuery, EventCursorQueryVariables>;
export const EventsDocument = new TypedDocumentString(`
    subscription Events($since: String) {
  events(since: $since) {
    cursor
    event {
      __typename
      ... on MessageEvent {
        message {
          ...IncomingMessage
        }
      }
      ... on SessionEvent {
        kind
      }
    }
  }
}
    fragment IncomingMessage on Message {
  id
  chatType
  from {
    id
    username
  }
  body {
    __typename
    ... on TextBody {
      text
    }
  }
}`) as unknown as TypedDocumentString<EventsSubscription, EventsSubscriptionVariables>;
export const SendTextDocument = new TypedDocumentString(`
    mutation SendText($to: String!, $text: String!, $clientMessageId: String) {
  sendMessage(
    to: {user: $to}
    body: {text: {text: $text}}
    clientMessageId: $clientMessageId
  ) {
    id
  }
}
    `) as unknown as TypedDocumentString<SendTextMutation, SendTextMutationVariables>;