// No dependency circles between the engine's folders (src/SocketCam/<Folder>/, issue 14).
//
// A folder "uses" another when one of its files names, calls, creates or holds a type or member declared
// in the other: Roslyn compiles the engine's sources here and resolves every name and every expression's
// type to the file that declares it, so neither an unused `using` nor a fully qualified name fools it.
// Sub-folders count as their first-level folder (Codecs/TurboJpeg is Codecs).
//
// The intended layering, lowest first; a folder may use only folders on lines above its own:
//   Diagnostics, Media, Limits          clock, latency, throttled logging, exceptions; frames, pools, CodecId; what one peer may take
//   Transport, Protocol, Codecs, Ffmpeg socket helpers and endpoints; the wire (v1, v2, FrameFraming); JPEG, raw and PNG
//                                       encoders and decoders, snapshots; the ffmpeg child process
//   Audio                               Opus (libopus), audio sources through ffmpeg, the jitter buffer, mixer, player, WAV
//   Auth                                tokens: the shared secret and signed room tokens (AccessPolicy), their key files
//   Transfer                            one file over TCP or UDP (its SendPacer also paces live UDP)
//   Chat                                the rooms' chat logs in SQLite (ChatStore), the messages being Protocol's records
//   Rooms                               the media core: Room, Participant, Track, Delivery and Outbox, VideoSlot, ViewerFeed
//   Udp                                 the UDP engine: datagrams, fragmenting and reassembly, the frame sender and receiver
//   Hub                                 the server: HubServer, its TCP/Unix connections and its UDP sessions, ClientRegistry
//   Seed, Recording                     the seed format (its server's clients are room viewers); recorders of rooms
//   Sources                             frame sources (seed+tcp:// too), and the capture pipeline that publishes one into a room
//   Client                              viewer, publisher and room clients (TCP, Unix, UDP, seed)
//   Display                             the video window and previews
//   Sniff                               `socketcam sniff`: the raw packet socket and passive readers of every wire format
// The test enforces the absence of circles; the layering above is the order that keeps them out.
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace SocketCam.Tests.Architecture;

public sealed class FolderDependencyTests
{
    private static readonly Lazy<FolderDependencies> Engine = new(() =>
        FolderDependencyChecker.Analyze(FolderDependencyChecker.EngineSources(), FolderDependencyChecker.FrameworkReferences()));

    [Fact]
    public void Engine_folders_use_each_other_without_circles()
    {
        var engine = Engine.Value;
        Assert.NotEmpty(engine.Edges); // the checker saw the folders use each other at all
        var circles = FolderDependencyChecker.Circles(engine);
        Assert.True(circles.Count == 0, FolderDependencyChecker.Describe(circles, engine));
    }

    [Fact]
    public void Engine_namespaces_follow_folders()
    {
        var engine = Engine.Value;
        Assert.True(engine.NamespaceMismatches.Count == 0,
            "namespaces must follow folders (src/SocketCam/A/B/X.cs is in SocketCam.A.B):\n" + string.Join('\n', engine.NamespaceMismatches));
    }

    [Fact]
    public void Engine_sources_compile_here_so_every_name_resolves()
    {
        // Only the parts that source generators (LoggerMessage, LibraryImport, GeneratedRegex) would add are missing here,
        // and what follows from that; any other error could be a name the checker did not resolve, so a use it did not see.
        var errors = Engine.Value.Errors.Value.Where(e => !FolderDependencyChecker.GeneratedPartMissing.Contains(e.Id)).ToList();
        Assert.True(errors.Count == 0, string.Join('\n', errors.Take(20)));
    }

    [Fact]
    public void A_circle_is_reported_with_a_file_and_line_for_each_of_its_edges()
    {
        SourceFile[] files =
        [
            new("Alpha/Car.cs", """
                namespace SocketCam.Alpha;

                internal sealed class Car
                {
                    public int Wheels => 4;
                }
                """),
            new("Alpha/Garage.cs", """
                namespace SocketCam.Alpha;

                internal static class Garage
                {
                    public static int Count(SocketCam.Beta.Road road) => road.Length;
                }
                """),
            new("Beta/Road.cs", """
                using SocketCam.Gamma;

                namespace SocketCam.Beta;

                internal sealed class Road
                {
                    public int Length { get; } = 1;

                    public static Road Build() => new();
                }
                """),
            new("Beta/Traffic.cs", """
                namespace SocketCam.Beta;

                internal static class Traffic
                {
                    public static int Wheels() => Make().Wheels;

                    private static SocketCam.Alpha.Car Make() => new();
                }
                """),
            new("Gamma/Map.cs", """
                namespace SocketCam.Gamma;

                internal static class Map
                {
                    public static int Roads() => SocketCam.Beta.Road.Build().Length;
                }
                """),
        ];

        var analysis = FolderDependencyChecker.Analyze(files, FolderDependencyChecker.FrameworkReferences());
        var circles = FolderDependencyChecker.Circles(analysis);

        // Alpha ↔ Beta is a circle (Beta uses Alpha's Car without naming it); Gamma → Beta is not one,
        // since Beta's unused `using SocketCam.Gamma;` is no use.
        Assert.Equal(["Alpha", "Beta"], Assert.Single(circles));
        Assert.False(analysis.Edges.ContainsKey(("Beta", "Gamma")));
        Assert.True(analysis.Edges.ContainsKey(("Gamma", "Beta")));
        var message = FolderDependencyChecker.Describe(circles, analysis);
        Assert.Contains("Alpha → Beta: Alpha/Garage.cs:5", message, StringComparison.Ordinal);
        Assert.Contains("Beta → Alpha: Beta/Traffic.cs:5", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Gamma", message, StringComparison.Ordinal);
        Assert.Empty(analysis.NamespaceMismatches);
    }

    [Fact]
    public void Tarjan_finds_each_strongly_connected_set_of_folders()
    {
        (string, string)[] edges =
        [
            ("A", "B"), ("B", "C"), ("C", "A"), // one circle of three
            ("C", "D"), ("D", "E"), ("E", "D"), // a second one below it
            ("E", "F"), ("G", "F"),             // no circle
        ];
        var sets = FolderDependencyChecker.StronglyConnected(edges);
        Assert.Equal(2, sets.Count);
        Assert.Contains(sets, s => s.SequenceEqual(["A", "B", "C"]));
        Assert.Contains(sets, s => s.SequenceEqual(["D", "E"]));
        Assert.Empty(FolderDependencyChecker.StronglyConnected([("A", "B"), ("B", "C"), ("A", "C")]));
    }

    [Fact]
    public void A_namespace_that_does_not_follow_its_folder_is_reported()
    {
        SourceFile[] files =
        [
            new("Alpha/Car.cs", "namespace SocketCam.Beta;\n\ninternal sealed class Car;\n"),
            new("Alpha/Inner/Wheel.cs", "namespace SocketCam.Alpha.Inner;\n\ninternal sealed class Wheel;\n"),
        ];
        var analysis = FolderDependencyChecker.Analyze(files, FolderDependencyChecker.FrameworkReferences());
        Assert.Equal("Alpha/Car.cs:1: namespace SocketCam.Beta, expected SocketCam.Alpha", Assert.Single(analysis.NamespaceMismatches));
    }
}

/// <summary>One engine source file: its path under src/SocketCam with '/' separators, and its text.</summary>
internal sealed record SourceFile(string Path, string Text);

/// <summary>One place where a folder uses another: file (under src/SocketCam), 1-based line, and the name used.</summary>
internal sealed record FolderUse(string File, int Line, string Symbol);

internal sealed class FolderDependencies
{
    /// <summary>(from, to) → every place where folder from uses folder to, in file and line order.</summary>
    public required IReadOnlyDictionary<(string From, string To), List<FolderUse>> Edges { get; init; }

    public required IReadOnlyList<string> NamespaceMismatches { get; init; }

    /// <summary>The compilation's errors (computed on demand: a second pass over every method body).</summary>
    public required Lazy<ImmutableArray<Diagnostic>> Errors { get; init; }
}

internal static class FolderDependencyChecker
{
    /// <summary>
    /// The errors of a partial method or property whose implementation a source generator would add: CS8795/CS9248 (no
    /// implementation part), CS0762 (no delegate to it), CS0165/CS0170 (its out arguments never assigned, as the call is dropped).
    /// </summary>
    public static readonly IReadOnlySet<string> GeneratedPartMissing = new HashSet<string>(StringComparer.Ordinal)
    {
        "CS8795", "CS9248", "CS0762", "CS0165", "CS0170",
    };

    // What <ImplicitUsings>enable</ImplicitUsings> adds for Microsoft.NET.Sdk.
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    public static string RepoRoot() => SocketCam.Tests.Support.RepositoryFiles.Root;

    public static IReadOnlyList<SourceFile> EngineSources()
    {
        var engine = Path.Combine(RepoRoot(), "src", "SocketCam");
        return Directory.EnumerateFiles(engine, "*.cs", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(engine, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(rel => !rel.StartsWith("bin/", StringComparison.Ordinal) && !rel.StartsWith("obj/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(rel => new SourceFile(rel, File.ReadAllText(Path.Combine(engine, rel))))
            .ToList();
    }

    /// <summary>The engine's references: the .NET and ASP.NET Core shared frameworks, System.IO.Hashing, Microsoft.Data.Sqlite, SkiaSharp and Microsoft.IdentityModel.*.</summary>
    public static IReadOnlyList<MetadataReference> FrameworkReferences()
    {
        var dirs = new[] { typeof(object), typeof(Microsoft.AspNetCore.Http.HttpContext) }
            .Select(t => Path.GetDirectoryName(t.Assembly.Location))
            .ToHashSet(StringComparer.Ordinal);
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return platform.Where(p => dirs.Contains(Path.GetDirectoryName(p)))
            .Append(typeof(System.IO.Hashing.Crc32).Assembly.Location)
            .Append(typeof(Microsoft.Data.Sqlite.SqliteConnection).Assembly.Location)
            .Append(typeof(SkiaSharp.SKBitmap).Assembly.Location)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "Microsoft.IdentityModel.*.dll"))
            .Distinct(StringComparer.Ordinal)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();
    }

    /// <summary>The first-level folder of a path under src/SocketCam ("Codecs/TurboJpeg/X.cs" → "Codecs").</summary>
    public static string FolderOf(string path)
    {
        int slash = path.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? "(root)" : path[..slash];
    }

    public static FolderDependencies Analyze(IReadOnlyList<SourceFile> files, IEnumerable<MetadataReference> references)
    {
        var options = new CSharpParseOptions(LanguageVersion.Preview);
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(f.Text, options, f.Path, Encoding.UTF8)).ToList();
        var compilation = CSharpCompilation.Create(
            "FolderDependencies",
            trees.Append(CSharpSyntaxTree.ParseText(ImplicitUsings, options, "obj/ImplicitUsings.g.cs", Encoding.UTF8)),
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));

        var ours = files.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
        var usesByFile = new List<(string To, FolderUse Use)>[trees.Count];
        var mismatchesByFile = new List<string>[trees.Count];
        Parallel.For(0, trees.Count, i => // semantic models are thread-safe; the results are merged in file order below
        {
            var tree = trees[i];
            string from = FolderOf(tree.FilePath);
            var model = compilation.GetSemanticModel(tree);
            var root = tree.GetRoot();
            mismatchesByFile[i] = [.. NamespaceMismatches(tree.FilePath, root)];
            var uses = usesByFile[i] = [];
            var seen = new HashSet<(string To, int Line)>();
            foreach (var node in root.DescendantNodes())
            {
                foreach (var (symbol, name) in UsedSymbols(model, node))
                {
                    foreach (var to in DeclaringFolders(symbol, ours))
                    {
                        int line = node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                        if (to != from && seen.Add((to, line)))
                            uses.Add((to, new FolderUse(tree.FilePath, line, name)));
                    }
                }
            }
        });

        var edges = new SortedDictionary<(string From, string To), List<FolderUse>>();
        foreach (var (to, use) in usesByFile.SelectMany(u => u))
        {
            var key = (FolderOf(use.File), to);
            if (!edges.TryGetValue(key, out var list))
                edges[key] = list = [];
            list.Add(use);
        }

        return new FolderDependencies
        {
            Edges = edges,
            NamespaceMismatches = [.. mismatchesByFile.SelectMany(m => m)],
            Errors = new(() => [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)]),
        };
    }

    /// <summary>The symbols a node refers to: the symbol a name or expression binds to, and an expression's type.</summary>
    private static IEnumerable<(ISymbol Symbol, string Name)> UsedSymbols(SemanticModel model, SyntaxNode node)
    {
        if (node is not ExpressionSyntax expression)
            yield break;
        var info = model.GetSymbolInfo(expression);
        if ((info.Symbol ?? info.CandidateSymbols.FirstOrDefault()) is { } symbol)
            yield return (symbol, symbol.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat));
        var types = model.GetTypeInfo(expression);
        foreach (var type in new[] { types.Type, types.ConvertedType })
        {
            foreach (var named in NamedTypesIn(type))
                yield return (named, named.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat));
        }
    }

    private static IEnumerable<INamedTypeSymbol> NamedTypesIn(ITypeSymbol? type)
    {
        switch (type)
        {
            case IArrayTypeSymbol array:
                return NamedTypesIn(array.ElementType);
            case IPointerTypeSymbol pointer:
                return NamedTypesIn(pointer.PointedAtType);
            case INamedTypeSymbol named:
                return named.TypeArguments.SelectMany(NamedTypesIn).Prepend(named);
            default:
                return [];
        }
    }

    /// <summary>The folders of the files that declare a type or member (or a member's type); none for locals, namespaces, etc.</summary>
    private static IEnumerable<string> DeclaringFolders(ISymbol symbol, HashSet<string> ours)
    {
        if (symbol is IAliasSymbol alias)
            symbol = alias.Target;
        INamedTypeSymbol? type = symbol switch
        {
            INamedTypeSymbol named => named,
            IMethodSymbol or IPropertySymbol or IFieldSymbol or IEventSymbol => symbol.ContainingType,
            _ => null,
        };
        if (type is null)
            return [];
        return type.OriginalDefinition.DeclaringSyntaxReferences
            .Select(r => r.SyntaxTree.FilePath)
            .Where(ours.Contains)
            .Select(FolderOf)
            .Distinct(StringComparer.Ordinal);
    }

    private static IEnumerable<string> NamespaceMismatches(string path, SyntaxNode root)
    {
        int slash = path.LastIndexOf('/');
        string expected = slash < 0 ? "SocketCam" : "SocketCam." + path[..slash].Replace('/', '.');
        var namespaces = root.DescendantNodes().OfType<BaseNamespaceDeclarationSyntax>().ToList();
        foreach (var ns in namespaces)
        {
            string actual = ns.Name.ToString();
            for (var outer = ns.Parent as BaseNamespaceDeclarationSyntax; outer is not null; outer = outer.Parent as BaseNamespaceDeclarationSyntax)
                actual = outer.Name + "." + actual;
            if (actual != expected)
            {
                int line = ns.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                yield return string.Create(CultureInfo.InvariantCulture, $"{path}:{line}: namespace {actual}, expected {expected}");
            }
        }
        if (root is CompilationUnitSyntax unit && unit.Members.Any(m => m is not BaseNamespaceDeclarationSyntax))
            yield return $"{path}: a declaration outside any namespace, expected {expected}";
    }

    public static IReadOnlyList<IReadOnlyList<string>> Circles(FolderDependencies analysis) => StronglyConnected(analysis.Edges.Keys);

    /// <summary>Tarjan's strongly connected components with more than one folder, each sorted, in order of their first folder.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> StronglyConnected(IEnumerable<(string From, string To)> edges)
    {
        var next = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var (from, to) in edges)
        {
            if (!next.TryGetValue(from, out var targets))
                next[from] = targets = new SortedSet<string>(StringComparer.Ordinal);
            targets.Add(to);
            if (!next.ContainsKey(to))
                next[to] = new SortedSet<string>(StringComparer.Ordinal);
        }

        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<IReadOnlyList<string>>();

        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in next[v])
            {
                if (!index.ContainsKey(w))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], index[w]);
                }
            }
            if (low[v] != index[v])
                return;
            var component = new List<string>();
            string popped;
            do
            {
                popped = stack.Pop();
                onStack.Remove(popped);
                component.Add(popped);
            }
            while (popped != v);
            if (component.Count > 1)
                result.Add([.. component.Order(StringComparer.Ordinal)]);
        }

        foreach (var v in next.Keys)
        {
            if (!index.ContainsKey(v))
                Visit(v);
        }
        return [.. result.OrderBy(c => c[0], StringComparer.Ordinal)];
    }

    public static string Describe(IReadOnlyList<IReadOnlyList<string>> circles, FolderDependencies analysis)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"{circles.Count} folder dependency circle(s) in src/SocketCam; move the types to the folder where they belong (see the layering at the top of FolderDependencyTests.cs):");
        foreach (var circle in circles)
        {
            text.Append(CultureInfo.InvariantCulture, $"\ncircle {string.Join(" ↔ ", circle)}:");
            foreach (var ((from, to), uses) in analysis.Edges.Where(e => circle.Contains(e.Key.From) && circle.Contains(e.Key.To)))
            {
                var first = uses[0];
                int files = uses.Select(u => u.File).Distinct(StringComparer.Ordinal).Count();
                text.Append(CultureInfo.InvariantCulture, $"\n  {from} → {to}: {first.File}:{first.Line} uses {first.Symbol}");
                if (uses.Count > 1)
                    text.Append(CultureInfo.InvariantCulture, $" (and {uses.Count - 1} more uses in {files} file(s))");
            }
        }
        return text.ToString();
    }
}
