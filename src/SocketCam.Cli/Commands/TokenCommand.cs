using System.CommandLine;
using System.Globalization;
using System.Text;
using SocketCam.Auth;
using SocketCam.Chat;
using SocketCam.Protocol;

namespace SocketCam.Cli.Commands;

/// <summary>
/// `socketcam token --room R --identity NAME --grants publish,subscribe,chat --ttl 2h`: a signed room token (issue 16) with
/// the key of serve's data directory (made there if missing) or --key-file. The token goes to stdout alone, so
/// `TOKEN=$(socketcam token …)` works; what it grants goes to stderr.
/// </summary>
internal static class TokenCommand
{
    private static readonly TimeSpan MaxTtl = TimeSpan.FromDays(366);

    public static Command Create()
    {
        var room = new Option<string>("--room")
        {
            HelpName = "ROOM",
            Description = $"The room it is good for; '{RoomTokens.AnyRoom}' for every room",
            DefaultValueFactory = _ => RoomName.Default,
        };
        room.Validators.Add(r =>
        {
            string value = r.GetValueOrDefault<string>()!;
            if (value != RoomTokens.AnyRoom && !RoomName.IsValid(value))
            {
                r.AddError($"Invalid room name '{PrintableText.Of(value)}': use 1-{RoomName.MaxLength} characters from A-Z a-z 0-9 . _ -, or '{RoomTokens.AnyRoom}'.");
            }
        });
        var identity = new Option<string>("--identity")
        {
            HelpName = "NAME",
            Description = "Who holds it: their name in the room (a participant cannot pick another)",
            Required = true,
        };
        identity.Validators.Add(r =>
        {
            string value = r.GetValueOrDefault<string>()!;
            if (value.Trim().Length == 0 || Encoding.UTF8.GetByteCount(value) > ProtocolConstants.MaxAgentLength || value.Any(char.IsControl))
            {
                r.AddError($"--identity must be 1-{ProtocolConstants.MaxAgentLength} bytes of printable text.");
            }
        });
        var grants = new Option<string>("--grants")
        {
            HelpName = "LIST",
            Description = $"What it allows, comma-separated: {string.Join(", ", AccessGrantNames.All)} (admin: the whole hub)",
            DefaultValueFactory = _ => "publish,subscribe,chat",
        };
        grants.Validators.Add(r =>
        {
            try
            {
                if (AccessGrantNames.Parse(r.GetValueOrDefault<string>()!) == AccessGrants.None)
                {
                    r.AddError("--grants is empty: name at least one grant.");
                }
            }
            catch (ArgumentException ex)
            {
                r.AddError("--grants: " + ex.Message + ".");
            }
        });
        Option<TimeSpan?> ttl = CommonOptions.Duration("--ttl", "How long it is valid, e.g. 30m, 2h, 7d (default 2h)");
        var data = new Option<string>("--data")
        {
            HelpName = "DIR",
            Description = $"serve's data directory, whose {SecretFile.KeyFileName} signs the token (made if missing). Default: {new ChatOptions().Directory}",
            DefaultValueFactory = _ => new ChatOptions().Directory,
        };
        var keyFile = new Option<string?>("--key-file")
        {
            HelpName = "FILE",
            Description = "Sign with this key instead (base64 of 32+ random bytes; serve --token-key FILE checks with it)",
        };
        var command = new Command("token", "Make a signed token for one person in one room, with what they may do and until when")
        {
            room, identity, grants, ttl, data, keyFile,
        };
        command.SetAction(r =>
        {
            try
            {
                TimeSpan life = r.GetValue(ttl) ?? TimeSpan.FromHours(2);
                if (life <= TimeSpan.Zero || life > MaxTtl)
                {
                    throw new ArgumentException($"--ttl must be more than 0 and at most {MaxTtl.TotalDays:0} days.");
                }

                byte[] key = r.GetValue(keyFile) is { } file
                    ? SecretFile.LoadKey(file)
                    : SecretFile.LoadOrCreateKey(Path.Combine(r.GetValue(data)!, SecretFile.KeyFileName));
                AccessGrants granted = AccessGrantNames.Parse(r.GetValue(grants)!);
                DateTimeOffset expires = DateTimeOffset.UtcNow + life;
                string made = new RoomTokens(key).Create(r.GetValue(identity)!, r.GetValue(room)!, granted, expires);
                Console.Out.WriteLine(made);
                string scope = r.GetValue(room) == RoomTokens.AnyRoom ? "every room" : $"room '{r.GetValue(room)}'";
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"socketcam: a token for '{PrintableText.Of(r.GetValue(identity)!)}' in {scope}: {AccessGrantNames.Format(granted)}, until {expires:yyyy-MM-dd HH:mm} UTC."));
                if (Encoding.UTF8.GetByteCount(made) > ProtocolConstants.MaxTokenLength)
                {
                    Console.Error.WriteLine($"socketcam: note: it is {made.Length} bytes, more than the {ProtocolConstants.MaxTokenLength} a v1 HELLO carries: `view` and `snapshot` over tcp:// or udp:// cannot present it (call, publish and the pages can); a shorter identity or room makes it fit.");
                }

                return 0;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                Console.Error.WriteLine("socketcam: " + ex.Message);
                return 1;
            }
        });
        return command;
    }
}
