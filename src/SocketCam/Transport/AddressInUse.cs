using System.Net;
using System.Net.Sockets;
using SocketCam.Diagnostics;

namespace SocketCam.Transport;

/// <summary>
/// A listening address already taken, as one line that names the address and the option that owns it: only the code
/// that binds knows both, so it wraps its own failure with <see cref="Wrap"/>.
/// </summary>
public static class AddressInUse
{
    /// <summary>"127.0.0.1:9999 is already in use (another serve?): stop it or pick another port with --listen HOST:PORT".</summary>
    public static string Describe(EndPoint address, string option, string likelyOwner = "another serve?", bool canBeOff = false) =>
        $"{address} is already in use ({likelyOwner}): stop it or pick another port with {option} HOST:PORT{(canBeOff ? $" (or {option} off)" : "")}";

    /// <summary>Runs a bind; the address in use becomes <see cref="UserFacingException"/> with <see cref="Describe"/>'s line.</summary>
    public static T Wrap<T>(Func<T> bind, EndPoint address, string option, string likelyOwner = "another serve?", bool canBeOff = false)
    {
        try
        {
            return bind();
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new UserFacingException(Describe(address, option, likelyOwner, canBeOff), ex);
        }
    }
}
