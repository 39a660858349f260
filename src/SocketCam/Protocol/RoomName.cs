namespace SocketCam.Protocol;

/// <summary>Room names are short and safe to print, log and put in a URL or a file name.</summary>
public static class RoomName
{
    public const string Default = "main";

    /// <summary>The longest room name, in characters (for messages that state the rule).</summary>
    public const int MaxLength = ProtocolConstants.MaxRoomLength;

    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > ProtocolConstants.MaxRoomLength)
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    public static string Validate(string? name) => IsValid(name)
        ? name!
        : throw new ArgumentException($"Room name '{name}' is invalid: use 1-{ProtocolConstants.MaxRoomLength} characters from A-Z a-z 0-9 . _ -");
}
