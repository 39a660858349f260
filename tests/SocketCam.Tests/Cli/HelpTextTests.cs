using System.CommandLine;
using System.Text.RegularExpressions;
using SocketCam.Cli;

namespace SocketCam.Tests.Cli;

/// <summary>
/// `socketcam --help` and every command's help as a newcomer reads them: one short sentence per option and command,
/// no project jargon, the same value names everywhere. Built from the real root command and rendered by
/// System.CommandLine, exactly as `socketcam CMD --help` prints it.
/// </summary>
public sealed partial class HelpTextTests
{
    // Longer belongs in the docs (README.md, docs/*.md), which the descriptions point to.
    private const int MaxDescription = 140;

    public static TheoryData<string> Commands() => [.. Program.CreateRoot().Subcommands.Select(c => c.Name)];

    [Fact]
    public void Every_option_argument_and_command_description_is_one_short_line()
    {
        var tooLong = new List<string>();
        foreach ((string where, string description) in Descriptions(Program.CreateRoot()))
        {
            if (description.Length > MaxDescription || description.Contains('\n', StringComparison.Ordinal))
            {
                tooLong.Add($"{where} ({description.Length} chars): {description}");
            }
        }

        Assert.True(tooLong.Count == 0, string.Join(Environment.NewLine, tooLong));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_names_the_tutorials_format_instead_of_saying_seed(string command)
    {
        string help = Render(command, "--help");
        // Option names, the URL scheme and the doc file stay (users type them); the words around them say what they are.
        string words = SeedNames().Replace(help, "");
        Assert.DoesNotMatch(new Regex("seed", RegexOptions.IgnoreCase), words);
        if (SeedNames().IsMatch(help))
        {
            Assert.Contains("pickle", help, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void The_same_option_shows_the_same_value_names_in_every_command(string command)
    {
        string help = Render(command, "--help");
        // Wherever --codec is, it reads `--codec <jpeg|h264|raw>`; whatever takes a source spec calls it SOURCE.
        foreach (Match codec in Regex.Matches(help, @"--codec\b[^\n]*?(?=  )"))
        {
            Assert.Contains("--codec <jpeg|h264|raw>", codec.Value, StringComparison.Ordinal);
        }

        foreach (Match source in Regex.Matches(help, @"--source <[^>]*>"))
        {
            Assert.Equal("--source <SOURCE>", source.Value);
        }

        // Value names are a placeholder in capitals (FILE, N, HOST:PORT, WxH) or the list of choices, never the
        // option's own name again in lower case (`--frames <frames>`, System.CommandLine's default).
        foreach (Match value in Regex.Matches(help, @"(--[a-z-]+) <([^>]+)>"))
        {
            string name = value.Groups[2].Value;
            Assert.True(name.Contains('|', StringComparison.Ordinal) || name == name.ToUpperInvariant() || name == "WxH",
                $"{command}: {value.Value}");
        }
    }

    [Fact]
    public void Top_level_help_lists_each_command_on_one_line()
    {
        string help = Render("--help");
        string commands = help[help.IndexOf("Commands:", StringComparison.Ordinal)..];
        // Each line under Commands: starts with a command's name (a wrapped description would start with spaces only).
        string[] lines = commands.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[1..];
        Assert.Equal(Program.CreateRoot().Subcommands.Count, lines.Length);
        foreach (Command command in Program.CreateRoot().Subcommands)
        {
            Assert.Single(lines, l => l.StartsWith(command.Name + " ", StringComparison.Ordinal));
        }
    }

    private static string Render(params string[] args)
    {
        using var output = new StringWriter();
        int code = Program.CreateRoot().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output });
        Assert.Equal(0, code);
        return output.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    private static IEnumerable<(string Where, string Description)> Descriptions(Command command)
    {
        string path = command is RootCommand ? "socketcam" : command.Name;
        foreach (Option option in command.Options)
        {
            yield return ($"{path} {option.Name}", option.Description ?? "");
        }

        foreach (Argument argument in command.Arguments)
        {
            yield return ($"{path} <{argument.Name}>", argument.Description ?? "");
        }

        foreach (Command sub in command.Subcommands)
        {
            yield return ($"{path} {sub.Name}", sub.Description ?? "");
            foreach ((string where, string description) in Descriptions(sub))
            {
                yield return ($"{path} {where}", description);
            }
        }
    }

    [GeneratedRegex(@"--seed-[a-z]+|seed\+tcp|docs/SEED-COMPAT\.md")]
    private static partial Regex SeedNames();
}
