using SocketCam.Protocol;

namespace SocketCam.Chat;

/// <summary>What <see cref="ChatStore.AppendAsync"/> did: stored <see cref="Message"/>, or found it stored already (a resend).</summary>
internal readonly record struct ChatAppendResult(ChatMessage Message, bool Duplicate);

/// <summary>The store could not keep a message (disk full, file damaged): CHAT_SEND gets RESULT unavailable.</summary>
internal sealed class ChatStoreException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>A client_msg_id that was used before with another text: refused, not stored (§4.15).</summary>
internal sealed class ChatIdReusedException(ulong clientId) : Exception($"client_msg_id {clientId:x16} was already used for another message");
