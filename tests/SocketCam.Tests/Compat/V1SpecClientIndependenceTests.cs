using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Compat;

/// <summary>
/// <see cref="V1SpecClient"/> is only a check on the hub while it knows nothing of the hub's code: it must use no type of
/// the engine (or of the other test helpers, which use the engine). This walks the IL of the client and of every type
/// nested in it (async state machines and lambdas included) and lists each member it touches from a SocketCam assembly.
/// Constants and enum values are copied into the IL as plain numbers, so the source is checked too: it may not name
/// SocketCam, nor start a qualified name with a SocketCam namespace (<c>Protocol.X</c> would find SocketCam.Protocol).
/// </summary>
public sealed class V1SpecClientIndependenceTests
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .GroupBy(o => o.Value)
        .ToDictionary(g => g.Key, g => g.First());

    [Fact]
    public void The_v1_spec_client_uses_no_type_of_the_engine_nor_of_the_other_test_helpers()
    {
        Assert.Empty(ForeignReferences(typeof(V1SpecClient)));
    }

    [Fact]
    public void The_v1_spec_client_source_names_no_engine_namespace()
    {
        string path = Path.Combine(Path.GetDirectoryName(ThisFile())!, "V1SpecClient.cs");
        Assert.True(File.Exists(path), $"{path} is not there (the source check runs where the tests were built)");

        // The first segment under SocketCam of every namespace of the SocketCam assemblies: Hub, Protocol, Tests...
        HashSet<string> segments = [.. SocketCamAssemblies()
            .SelectMany(a => a.GetTypes())
            .Select(t => t.Namespace)
            .OfType<string>()
            .Where(n => n.StartsWith("SocketCam.", StringComparison.Ordinal))
            .Select(n => n.Split('.')[1])];
        Assert.Contains("Protocol", segments);
        var qualified = new Regex($@"\b(SocketCam|{string.Join('|', segments)})\s*\.", RegexOptions.CultureInvariant);
        var strings = new Regex(@"""(?:[^""\\]|\\.)*""", RegexOptions.CultureInvariant);

        List<string> offending = [];
        string[] lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string code = lines[i].Trim();
            if (code.StartsWith("//", StringComparison.Ordinal) || code == "namespace SocketCam.Tests.Compat;")
            {
                continue;
            }

            code = strings.Replace(code, "\"\"");
            int comment = code.IndexOf("//", StringComparison.Ordinal);
            code = comment >= 0 ? code[..comment] : code;
            if (qualified.IsMatch(code) || code.Contains("SocketCam", StringComparison.Ordinal))
            {
                offending.Add($"line {i + 1}: {lines[i].Trim()}");
            }
        }

        Assert.Empty(offending);
    }

    [Fact]
    public void The_check_itself_sees_engine_types_where_they_are_used()
    {
        // RawPeer is written with the engine's parser and writer: the walk must find them, or it proves nothing above.
        IReadOnlyCollection<string> found = ForeignReferences(typeof(RawPeer));
        Assert.Contains(found, f => f.Contains("SocketCam.Protocol.MessageParser", StringComparison.Ordinal));
        Assert.Contains(found, f => f.Contains("SocketCam.Protocol.MessageWriter", StringComparison.Ordinal));
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;

    private static IEnumerable<Assembly> SocketCamAssemblies()
    {
        Assembly tests = typeof(V1SpecClientIndependenceTests).Assembly;
        yield return tests;
        foreach (AssemblyName name in tests.GetReferencedAssemblies())
        {
            if (name.Name?.StartsWith("SocketCam", StringComparison.Ordinal) == true)
            {
                yield return Assembly.Load(name);
            }
        }
    }

    /// <summary>Every type from a SocketCam assembly (other than <paramref name="root"/> and its nested types) that <paramref name="root"/>'s code refers to.</summary>
    private static SortedSet<string> ForeignReferences(Type root)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (Type type in SelfAndNested(root))
        {
            Check(type.BaseType, $"{type} base", root, found);
            foreach (Type face in type.GetInterfaces())
            {
                Check(face, $"{type} interface", root, found);
            }

            foreach (FieldInfo field in type.GetFields(All))
            {
                Check(field.FieldType, $"{type}.{field.Name}", root, found);
            }

            foreach (MethodBase method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
            {
                string where = $"{type}.{method.Name}";
                CheckMember(method, where, root, found);
                foreach (LocalVariableInfo local in method.GetMethodBody()?.LocalVariables ?? [])
                {
                    Check(local.LocalType, where + " local", root, found);
                }

                foreach (int token in MemberTokens(method))
                {
                    MemberInfo? member = method.Module.ResolveMember(
                        token,
                        method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null,
                        method.IsGenericMethod ? method.GetGenericArguments() : null);
                    CheckMember(member, where, root, found);
                }
            }
        }

        return found;
    }

    private static IEnumerable<Type> SelfAndNested(Type type)
    {
        yield return type;
        foreach (Type nested in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
        {
            foreach (Type inner in SelfAndNested(nested))
            {
                yield return inner;
            }
        }
    }

    private static void CheckMember(MemberInfo? member, string where, Type root, SortedSet<string> found)
    {
        switch (member)
        {
            case Type type:
                Check(type, where, root, found);
                break;
            case FieldInfo field:
                Check(field.DeclaringType, where, root, found);
                Check(field.FieldType, where, root, found);
                break;
            case MethodBase method:
                Check(method.DeclaringType, where, root, found);
                foreach (ParameterInfo parameter in method.GetParameters())
                {
                    Check(parameter.ParameterType, where, root, found);
                }

                if (method is MethodInfo info)
                {
                    Check(info.ReturnType, where, root, found);
                    if (info.IsGenericMethod)
                    {
                        foreach (Type argument in info.GetGenericArguments())
                        {
                            Check(argument, where, root, found);
                        }
                    }
                }

                break;
        }
    }

    private static void Check(Type? type, string where, Type root, SortedSet<string> found)
    {
        if (type is null || type.IsGenericParameter)
        {
            return;
        }

        if (type.HasElementType)
        {
            Check(type.GetElementType(), where, root, found);
            return;
        }

        if (type.IsGenericType)
        {
            foreach (Type argument in type.GetGenericArguments())
            {
                Check(argument, where, root, found);
            }

            type = type.GetGenericTypeDefinition();
        }

        for (Type? outer = type; outer is not null; outer = outer.DeclaringType)
        {
            if (outer == root)
            {
                return;
            }
        }

        if (type.Assembly.GetName().Name?.StartsWith("SocketCam", StringComparison.Ordinal) == true)
        {
            found.Add($"{where} uses {type.FullName}");
        }
    }

    /// <summary>The metadata tokens of the fields, methods and types <paramref name="method"/>'s IL refers to.</summary>
    private static List<int> MemberTokens(MethodBase method)
    {
        byte[]? il = method.GetMethodBody()?.GetILAsByteArray();
        var tokens = new List<int>();
        if (il is null)
        {
            return tokens;
        }

        int at = 0;
        while (at < il.Length)
        {
            short value = il[at] == 0xFE ? unchecked((short)(0xFE00 | il[at + 1])) : il[at];
            at += il[at] == 0xFE ? 2 : 1;
            OpCode opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    at += 1;
                    break;
                case OperandType.InlineVar:
                    at += 2;
                    break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    tokens.Add(BitConverter.ToInt32(il, at));
                    at += 4;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    at += 8;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + (4 * BitConverter.ToInt32(il, at));
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    at += 4;
                    break;
            }
        }

        return tokens;
    }
}
