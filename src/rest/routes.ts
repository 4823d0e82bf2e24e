/**
 * The GraphQL fields served under /v1, each with its HTTP method and path (fets syntax: `:name`
 * is the argument of that name). Only these are exposed: subscriptions and uploads need GraphQL's
 * own transports; `sync`, whose event union makes a generated selection over the cost limit, and
 * operations with no natural REST shape stay on /graphql.
 */
export type RestMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RestRoute {
  method: RestMethod;
  path: string;
  tag: string;
}

const route = (method: RestMethod, path: string, tag: string): RestRoute => ({ method, path, tag });

export const QUERY_ROUTES: Record<string, RestRoute> = {
  me: route("GET", "/me", "Users"),
  myDevices: route("GET", "/me/devices", "Users"),
  user: route("GET", "/users/:username", "Users"),
  users: route("GET", "/users", "Users"),
  presence: route("GET", "/presence", "Users"),
  contacts: route("GET", "/contacts", "Contacts"),
  contactRequests: route("GET", "/contact-requests", "Contacts"),
  blockedUsers: route("GET", "/blocked-users", "Contacts"),
  conversations: route("GET", "/conversations", "Conversations"),
  totalUnread: route("GET", "/conversations/unread", "Conversations"),
  messages: route("GET", "/messages", "Messages"),
  message: route("GET", "/messages/:id", "Messages"),
  searchMessages: route("GET", "/search/messages", "Messages"),
  myGroups: route("GET", "/me/groups", "Groups"),
  publicGroups: route("GET", "/public-groups", "Groups"),
  group: route("GET", "/groups/:id", "Groups"),
  groupMembers: route("GET", "/groups/:id/members", "Groups"),
  rooms: route("GET", "/rooms", "Rooms"),
  room: route("GET", "/rooms/:id", "Rooms"),
  roomMembers: route("GET", "/rooms/:id/members", "Rooms"),
  adminOnlineStatus: route("GET", "/admin/online-status", "Admin"),
  adminMessageStats: route("GET", "/admin/stats/messages", "Admin"),
  adminGroups: route("GET", "/admin/groups", "Admin"),
  adminBroadcasts: route("GET", "/admin/broadcasts", "Admin"),
  adminBroadcastStatus: route("GET", "/admin/broadcasts/:id", "Admin"),
  adminExportConversation: route("GET", "/admin/exports", "Admin"),
  adminModerationRules: route("GET", "/admin/moderation/rules", "Admin"),
  adminModerationRecords: route("GET", "/admin/moderation/records", "Admin"),
  adminModerationStats: route("GET", "/admin/moderation/stats", "Admin"),
};

export const MUTATION_ROUTES: Record<string, RestRoute> = {
  register: route("POST", "/auth/register", "Auth"),
  login: route("POST", "/auth/login", "Auth"),
  logout: route("POST", "/auth/logout", "Auth"),
  adminToken: route("POST", "/admin/token", "Auth"),
  updateProfile: route("PATCH", "/me", "Users"),
  changePassword: route("POST", "/me/password", "Users"),
  logoutDevice: route("DELETE", "/me/devices/:deviceId", "Users"),
  sendContactRequest: route("POST", "/contact-requests", "Contacts"),
  acceptContactRequest: route("POST", "/contact-requests/:username/accept", "Contacts"),
  declineContactRequest: route("POST", "/contact-requests/:username/decline", "Contacts"),
  removeContact: route("DELETE", "/contacts/:username", "Contacts"),
  blockUser: route("PUT", "/blocked-users/:username", "Contacts"),
  unblockUser: route("DELETE", "/blocked-users/:username", "Contacts"),
  sendMessage: route("POST", "/messages", "Messages"),
  editMessage: route("PATCH", "/messages/:id", "Messages"),
  recallMessage: route("POST", "/messages/:id/recall", "Messages"),
  markDelivered: route("POST", "/messages/delivered", "Messages"),
  markConversationRead: route("POST", "/conversations/read", "Conversations"),
  pinConversation: route("POST", "/conversations/pin", "Conversations"),
  muteConversation: route("POST", "/conversations/mute", "Conversations"),
  deleteConversation: route("POST", "/conversations/delete", "Conversations"),
  createGroup: route("POST", "/groups", "Groups"),
  updateGroup: route("PATCH", "/groups/:id", "Groups"),
  destroyGroup: route("DELETE", "/groups/:id", "Groups"),
  setGroupAnnouncement: route("PUT", "/groups/:id/announcement", "Groups"),
  joinGroup: route("POST", "/groups/:id/join", "Groups"),
  leaveGroup: route("POST", "/groups/:id/leave", "Groups"),
  inviteToGroup: route("POST", "/groups/:id/invite", "Groups"),
  removeGroupMembers: route("POST", "/groups/:id/members/remove", "Groups"),
  muteGroupMembers: route("POST", "/groups/:id/members/mute", "Groups"),
  unmuteGroupMembers: route("POST", "/groups/:id/members/unmute", "Groups"),
  muteAllGroupMembers: route("PUT", "/groups/:id/muted", "Groups"),
  transferGroupOwnership: route("POST", "/groups/:id/owner", "Groups"),
  createRoom: route("POST", "/rooms", "Rooms"),
  updateRoom: route("PATCH", "/rooms/:id", "Rooms"),
  destroyRoom: route("DELETE", "/rooms/:id", "Rooms"),
  setRoomAnnouncement: route("PUT", "/rooms/:id/announcement", "Rooms"),
  joinRoom: route("POST", "/rooms/:id/join", "Rooms"),
  leaveRoom: route("POST", "/rooms/:id/leave", "Rooms"),
  removeRoomMembers: route("POST", "/rooms/:id/members/remove", "Rooms"),
  muteRoomMembers: route("POST", "/rooms/:id/members/mute", "Rooms"),
  unmuteRoomMembers: route("POST", "/rooms/:id/members/unmute", "Rooms"),
  muteAllRoomMembers: route("PUT", "/rooms/:id/muted", "Rooms"),
  adminCreateUsers: route("POST", "/admin/users", "Admin"),
  adminDeleteUser: route("DELETE", "/admin/users/:username", "Admin"),
  adminIssueUserToken: route("POST", "/admin/users/:username/token", "Admin"),
  adminBanUser: route("POST", "/admin/users/:username/ban", "Admin"),
  adminUnbanUser: route("POST", "/admin/users/:username/unban", "Admin"),
  adminForceLogout: route("POST", "/admin/users/:username/logout", "Admin"),
  adminSendMessage: route("POST", "/admin/messages", "Admin"),
  adminImportMessages: route("POST", "/admin/messages/import", "Admin"),
  adminBroadcast: route("POST", "/admin/broadcasts", "Admin"),
  adminCancelBroadcast: route("POST", "/admin/broadcasts/:id/cancel", "Admin"),
  adminBroadcastToRooms: route("POST", "/admin/rooms/broadcast", "Admin"),
  adminCreateModerationRule: route("POST", "/admin/moderation/rules", "Admin"),
  adminUpdateModerationRule: route("PATCH", "/admin/moderation/rules/:id", "Admin"),
  adminDeleteModerationRule: route("DELETE", "/admin/moderation/rules/:id", "Admin"),
};
