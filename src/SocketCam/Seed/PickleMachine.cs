using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace SocketCam.Seed;

/// <summary>
/// The allow-list pickle reader behind <see cref="NumpyPickle.Read"/>. It interprets only the opcodes a numpy uint8 image
/// pickle uses and builds its own descriptions of values (ints, strings, byte ranges, tuples, one of five known
/// globals); "calling" a global means checking that its arguments are exactly what numpy's pickles pass and describing
/// the result. Nothing from the input is ever resolved to a type or executed, and every structure is bounded, so any
/// other pickle fails fast with a message naming the opcode, global or field that is not allowed.
/// </summary>
internal ref struct PickleMachine
{
    private const int MaxOpcodes = 256;  // numpy image pickles use about 60
    private const int MaxStack = 64;
    private const int MaxMarks = 8;
    private const int MaxMemo = 64;
    private const int MaxTupleItems = 16;
    private const int MaxDepth = 4;      // the array state tuple holds the shape tuple: depth 2
    private const int MaxNameBytes = 128;

    private readonly ReadOnlySpan<byte> _input;
    private readonly int _maxPixelBytes;
    private readonly Value[] _stack = new Value[MaxStack];
    private readonly int[] _marks = new int[MaxMarks];
    private readonly Value[] _memo = new Value[MaxMemo];
    private readonly bool[] _memoSet = new bool[MaxMemo];
    private int _pos;
    private int _depth;
    private int _markCount;
    private int _scratchUsed;
    private int _encodeCalls;
    private int _memoEntries;

    public PickleMachine(ReadOnlySpan<byte> input, byte[]? scratch, int maxPixelBytes)
    {
        _input = input;
        Scratch = scratch;
        _maxPixelBytes = maxPixelBytes;
    }

    private enum Kind : byte
    {
        None,
        Bool,
        Int,
        Text,
        Bytes,
        Tuple,
        Global,
        DtypeUnbuilt,   // numpy.dtype('u1', False, True) before its BUILD
        Dtype,          // a uint8 dtype
        ArrayUnbuilt,   // _reconstruct(ndarray, (0,), b'b') before its BUILD
        Image,          // the result
    }

    private enum GlobalName : byte
    {
        Reconstruct,
        FromBuffer,
        NdArray,
        Dtype,
        CodecsEncode,
    }

    /// <summary>The scratch buffer, possibly replaced by a bigger one (the caller owns whatever is here).</summary>
    public byte[]? Scratch { get; private set; }

    public NumpyImage Run()
    {
        if (_input.Length < 2 || _input[0] != 0x80)
        {
            throw Reject("the data is not a pickle (it must start with the PROTO opcode).");
        }

        int protocol = _input[1];
        if (protocol is < 2 or > 5)
        {
            throw Reject($"pickle protocol {protocol} is not supported (2-5 are).");
        }

        _pos = 2;
        for (int ops = 0; ; ops++)
        {
            if (ops == MaxOpcodes)
            {
                throw Reject($"more than {MaxOpcodes} opcodes: not a numpy image pickle.");
            }

            byte op = Byte();
            switch (op)
            {
                case 0x95: // FRAME: a hint for buffered readers; the whole pickle is in memory already.
                    Length(8);
                    break;
                case (byte)'.': // STOP
                    return Finish();
                case (byte)'(': // MARK
                    if (_markCount == MaxMarks)
                    {
                        throw Reject("too many nested MARKs.");
                    }

                    _marks[_markCount++] = _depth;
                    break;
                case (byte)'N':
                    Push(new Value(Kind.None));
                    break;
                case 0x88: // NEWTRUE
                case 0x89: // NEWFALSE
                    Push(new Value(Kind.Bool, number: op == 0x88 ? 1 : 0));
                    break;
                case (byte)'K': // BININT1
                    Push(new Value(Kind.Int, number: Byte()));
                    break;
                case (byte)'M': // BININT2
                    Push(new Value(Kind.Int, number: BinaryPrimitives.ReadUInt16LittleEndian(Take(2))));
                    break;
                case (byte)'J': // BININT
                    Push(new Value(Kind.Int, number: BinaryPrimitives.ReadInt32LittleEndian(Take(4))));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    PushRange(Kind.Text, Byte());
                    break;
                case (byte)'X': // BINUNICODE
                    PushRange(Kind.Text, Length(4));
                    break;
                case 0x8d: // BINUNICODE8
                    PushRange(Kind.Text, Length(8));
                    break;
                case (byte)'C': // SHORT_BINBYTES
                    PushRange(Kind.Bytes, Byte());
                    break;
                case (byte)'B': // BINBYTES
                    PushRange(Kind.Bytes, Length(4));
                    break;
                case 0x8e: // BINBYTES8
                case 0x96: // BYTEARRAY8 (protocol 5's in-band buffer)
                    PushRange(Kind.Bytes, Length(8));
                    break;
                case (byte)')': // EMPTY_TUPLE
                    Push(Value.TupleOf([]));
                    break;
                case 0x85: // TUPLE1
                case 0x86: // TUPLE2
                case 0x87: // TUPLE3
                    PushTuple(_depth - (op - 0x84));
                    break;
                case (byte)'t': // TUPLE
                    if (_markCount == 0)
                    {
                        throw Reject("TUPLE without a MARK.");
                    }

                    PushTuple(_marks[--_markCount]);
                    break;
                case (byte)'c': // GLOBAL "module\nname\n"
                {
                    ReadOnlySpan<byte> module = Line();
                    ReadOnlySpan<byte> name = Line();
                    Push(Global(module, name));
                    break;
                }

                case 0x93: // STACK_GLOBAL
                {
                    Value name = Pop();
                    Value module = Pop();
                    if (module.Kind != Kind.Text || name.Kind != Kind.Text)
                    {
                        throw Reject("STACK_GLOBAL needs two strings.");
                    }

                    Push(Global(Bytes(module), Bytes(name)));
                    break;
                }

                case (byte)'R': // REDUCE
                {
                    Value args = Pop();
                    Value callable = Pop();
                    Push(Call(callable, args));
                    break;
                }

                case (byte)'b': // BUILD
                {
                    Value state = Pop();
                    Value target = Pop();
                    Push(Build(target, state));
                    break;
                }

                case 0x94: // MEMOIZE: stores at len(memo), as CPython does
                    Memo((uint)_memoEntries);
                    break;
                case (byte)'q': // BINPUT
                    Memo(Byte());
                    break;
                case (byte)'r': // LONG_BINPUT
                    Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)));
                    break;
                case (byte)'h': // BINGET
                    Push(Recall(Byte()));
                    break;
                case (byte)'j': // LONG_BINGET
                    Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))));
                    break;
                default:
                    throw Reject($"pickle opcode {OpcodeName(op)} at byte {_pos - 1} is not allowed: only numpy image pickles are accepted.");
            }
        }
    }

    private static SeedFormatException Reject(string message) => new("rejected pickle: " + message);

    private NumpyImage Finish()
    {
        if (_depth != 1 || _markCount != 0)
        {
            throw Reject($"STOP with {_depth} values on the stack and {_markCount} open MARKs.");
        }

        Value result = _stack[0];
        if (result.Kind != Kind.Image)
        {
            throw Reject($"the pickle holds a {Describe(result)}, not a numpy image.");
        }

        if (_pos != _input.Length)
        {
            throw Reject($"{_input.Length - _pos} bytes after STOP.");
        }

        Value shape = result.Items![0];
        return new NumpyImage(
            (int)shape.Items![0].Number,
            (int)shape.Items[1].Number,
            shape.Items.Length == 3 ? (int)shape.Items[2].Number : 1,
            Bytes(result.Items[1]));
    }

    private static Value Global(ReadOnlySpan<byte> module, ReadOnlySpan<byte> name)
    {
        bool numpy1 = module.SequenceEqual("numpy.core.multiarray"u8) || module.SequenceEqual("numpy.core.numeric"u8);
        bool numpy2 = module.SequenceEqual("numpy._core.multiarray"u8) || module.SequenceEqual("numpy._core.numeric"u8);
        GlobalName? known = null;
        if ((numpy1 || numpy2) && module.EndsWith(".multiarray"u8) && name.SequenceEqual("_reconstruct"u8))
        {
            known = GlobalName.Reconstruct;
        }
        else if ((numpy1 || numpy2) && module.EndsWith(".numeric"u8) && name.SequenceEqual("_frombuffer"u8))
        {
            known = GlobalName.FromBuffer;
        }
        else if (module.SequenceEqual("numpy"u8) && name.SequenceEqual("ndarray"u8))
        {
            known = GlobalName.NdArray;
        }
        else if (module.SequenceEqual("numpy"u8) && name.SequenceEqual("dtype"u8))
        {
            known = GlobalName.Dtype;
        }
        else if (module.SequenceEqual("_codecs"u8) && name.SequenceEqual("encode"u8))
        {
            known = GlobalName.CodecsEncode;
        }

        if (known is null)
        {
            throw Reject($"global '{Printable(module)}.{Printable(name)}' is not allowed: only numpy's array reconstruction is.");
        }

        return new Value(Kind.Global, number: (long)known.Value);
    }

    private Value Call(Value callable, Value args)
    {
        if (callable.Kind != Kind.Global)
        {
            throw Reject($"REDUCE on a {Describe(callable)}: only numpy's reconstruction functions may be called.");
        }

        if (args.Kind != Kind.Tuple)
        {
            throw Reject("REDUCE arguments are not a tuple.");
        }

        Value[] a = args.Items!;
        switch ((GlobalName)callable.Number)
        {
            case GlobalName.Reconstruct:
                // _reconstruct(numpy.ndarray, (0,), b'b'): an empty array that BUILD then fills.
                if (a.Length == 3 && IsGlobal(a[0], GlobalName.NdArray) && a[1].Kind == Kind.Tuple && a[1].Items!.Length == 1
                    && IsInt(a[1].Items![0], 0) && a[2].Kind == Kind.Bytes && Bytes(a[2]).SequenceEqual("b"u8))
                {
                    return new Value(Kind.ArrayUnbuilt);
                }

                throw Reject("_reconstruct called with arguments numpy never uses.");
            case GlobalName.Dtype:
                if (a.Length == 3 && a[0].Kind == Kind.Text && IsBool(a[1], false) && IsBool(a[2], true))
                {
                    if (!Bytes(a[0]).SequenceEqual("u1"u8))
                    {
                        throw Reject($"dtype '{Printable(Bytes(a[0]))}' is not allowed: frames are uint8 ('u1').");
                    }

                    return new Value(Kind.DtypeUnbuilt);
                }

                throw Reject("numpy.dtype called with arguments numpy never uses.");
            case GlobalName.CodecsEncode:
                // Protocol 2 has no bytes opcode: CPython writes bytes as _codecs.encode(text, 'latin1').
                if (a.Length == 2 && a[0].Kind == Kind.Text && a[1].Kind == Kind.Text && Bytes(a[1]).SequenceEqual("latin1"u8))
                {
                    return Latin1(a[0]);
                }

                throw Reject("_codecs.encode is only allowed as encode(text, 'latin1').");
            case GlobalName.FromBuffer:
                // Protocol 5: _frombuffer(buffer, dtype, shape, order).
                if (a.Length == 4 && a[0].Kind == Kind.Bytes && a[1].Kind == Kind.Dtype && a[3].Kind == Kind.Text)
                {
                    if (!Bytes(a[3]).SequenceEqual("C"u8))
                    {
                        throw Reject($"array order '{Printable(Bytes(a[3]))}' is not supported: frames are C-ordered.");
                    }

                    return Image(a[2], a[0]);
                }

                throw Reject("_frombuffer called with arguments numpy never uses.");
            default:
                throw Reject($"REDUCE on {(GlobalName)callable.Number} is not allowed.");
        }
    }

    private Value Build(Value target, Value state)
    {
        Value[]? s = state.Kind == Kind.Tuple ? state.Items : null;
        switch (target.Kind)
        {
            case Kind.DtypeUnbuilt:
                // (3, '|', None, None, None, -1, -1, 0): version 3, no byte order, no subarray, no fields, default sizes, no flags.
                if (s is { Length: 8 } && IsInt(s[0], 3) && s[1].Kind == Kind.Text && Bytes(s[1]).SequenceEqual("|"u8)
                    && s[2].Kind == Kind.None && s[3].Kind == Kind.None && s[4].Kind == Kind.None
                    && IsInt(s[5], -1) && IsInt(s[6], -1) && IsInt(s[7], 0))
                {
                    return new Value(Kind.Dtype);
                }

                throw Reject("the dtype's state is not that of uint8.");
            case Kind.ArrayUnbuilt:
                // (1, shape, dtype, is_fortran, raw)
                if (s is { Length: 5 } && IsInt(s[0], 1) && s[2].Kind == Kind.Dtype && s[3].Kind == Kind.Bool && s[4].Kind == Kind.Bytes)
                {
                    if (s[3].Number != 0)
                    {
                        throw Reject("Fortran-ordered arrays are not supported: frames are C-ordered.");
                    }

                    return Image(s[1], s[4]);
                }

                throw Reject("the array's state is not (1, shape, uint8 dtype, False, bytes).");
            default:
                throw Reject($"BUILD on a {Describe(target)} is not allowed.");
        }
    }

    private Value Image(Value shape, Value data)
    {
        if (shape.Kind != Kind.Tuple || shape.Items!.Length is not (2 or 3) || Array.Exists(shape.Items, v => v.Kind != Kind.Int))
        {
            throw Reject("the array's shape is not (height, width) or (height, width, channels).");
        }

        Value[] dims = shape.Items;
        long height = dims[0].Number;
        long width = dims[1].Number;
        long channels = dims.Length == 3 ? dims[2].Number : 1;
        try
        {
            SeedFraming.ValidateShape(height, width, channels, _maxPixelBytes);
        }
        catch (SeedFormatException ex)
        {
            throw Reject(ex.Message);
        }

        long expected = height * width * channels;
        if (data.Length != expected)
        {
            throw Reject($"shape {height}x{width}x{channels} needs {expected} bytes of pixels but the pickle has {data.Length}.");
        }

        return new Value(Kind.Image, items: [shape, data]);
    }

    private Value Latin1(Value text)
    {
        // Only two encode calls exist in a real pickle (b'b' and the pixels); the cap also stops a memoized text being
        // decoded again and again (BINGET) from making the scratch buffer grow past what one image can need.
        if (++_encodeCalls > 2)
        {
            throw Reject("_codecs.encode called more than twice: not a numpy image pickle.");
        }

        ReadOnlySpan<byte> utf8 = Bytes(text);
        int start = _scratchUsed;
        long needed = (long)start + utf8.Length;
        if (needed > (long)_maxPixelBytes + 16)
        {
            throw Reject($"_codecs.encode text of {utf8.Length} bytes is larger than an image may be ({_maxPixelBytes} bytes).");
        }

        EnsureScratch((int)needed);
        Span<byte> destination = Scratch.AsSpan(start);
        int written = 0;
        for (int i = 0; i < utf8.Length; i++)
        {
            byte b = utf8[i];
            if (b < 0x80)
            {
                destination[written++] = b;
            }
            else if ((b == 0xC2 || b == 0xC3) && i + 1 < utf8.Length && (utf8[i + 1] & 0xC0) == 0x80)
            {
                destination[written++] = (byte)(((b & 0x1F) << 6) | (utf8[++i] & 0x3F));
            }
            else
            {
                throw Reject("_codecs.encode text is not latin-1.");
            }
        }

        _scratchUsed = start + written;
        return new Value(Kind.Bytes, start: start, length: written, inScratch: true);
    }

    private void EnsureScratch(int size)
    {
        if (Scratch is not null && Scratch.Length >= size)
        {
            return;
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent(size);
        if (Scratch is not null)
        {
            Scratch.AsSpan(0, _scratchUsed).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(Scratch);
        }

        Scratch = bigger;
    }

    private void PushTuple(int start)
    {
        if (start < 0)
        {
            throw Reject("tuple opcode on a stack that is too short.");
        }

        if (_markCount > 0 && start < _marks[_markCount - 1])
        {
            throw Reject("a tuple opcode reaches below the open MARK.");
        }

        int count = _depth - start;
        if (count > MaxTupleItems)
        {
            throw Reject($"a tuple of {count} items: numpy image pickles have at most 8.");
        }

        var items = new Value[count];
        int nesting = 0;
        for (int i = 0; i < count; i++)
        {
            items[i] = _stack[start + i];
            nesting = Math.Max(nesting, items[i].Depth);
        }

        if (nesting + 1 > MaxDepth)
        {
            throw Reject("tuples nested too deeply.");
        }

        _depth = start;
        Push(Value.TupleOf(items, nesting + 1));
    }

    private void PushRange(Kind kind, int length)
    {
        int start = _pos;
        Take(length);
        Push(new Value(kind, start: start, length: length));
    }

    private void Push(Value value)
    {
        if (_depth == MaxStack)
        {
            throw Reject("the stack grew too deep.");
        }

        _stack[_depth++] = value;
    }

    private Value Pop()
    {
        if (_depth == 0 || (_markCount > 0 && _marks[_markCount - 1] == _depth))
        {
            throw Reject("an opcode needs a value the stack does not have.");
        }

        return _stack[--_depth];
    }

    private void Memo(uint index)
    {
        if (_depth == 0)
        {
            throw Reject("memo store from an empty stack.");
        }

        if (index >= MaxMemo)
        {
            throw Reject($"memo index {index} is beyond {MaxMemo}.");
        }

        if (!_memoSet[index])
        {
            _memoSet[index] = true;
            _memoEntries++;
        }

        _memo[index] = _stack[_depth - 1];
    }

    private Value Recall(uint index)
    {
        if (index >= MaxMemo || !_memoSet[index])
        {
            throw Reject($"memo index {index} was never stored.");
        }

        return _memo[index];
    }

    private byte Byte() => Take(1)[0];

    /// <summary>A length field, checked against what is left of the input before anything uses it.</summary>
    private int Length(int size)
    {
        ulong value = size switch
        {
            4 => BinaryPrimitives.ReadUInt32LittleEndian(Take(4)),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(Take(8)),
        };
        if (value > (ulong)(_input.Length - _pos))
        {
            throw Reject($"a length of {value} bytes at byte {_pos - size - 1} runs past the end of the {_input.Length}-byte pickle (truncated or lying).");
        }

        return (int)value;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _input.Length - _pos)
        {
            throw Reject($"the pickle ends at byte {_input.Length} in the middle of an opcode (truncated).");
        }

        ReadOnlySpan<byte> span = _input.Slice(_pos, count);
        _pos += count;
        return span;
    }

    private ReadOnlySpan<byte> Line()
    {
        ReadOnlySpan<byte> rest = _input[_pos..];
        int end = rest[..Math.Min(rest.Length, MaxNameBytes)].IndexOf((byte)'\n');
        if (end < 0)
        {
            throw Reject("GLOBAL name is unterminated or too long.");
        }

        _pos += end + 1;
        return rest[..end];
    }

    private readonly ReadOnlySpan<byte> Bytes(in Value value) =>
        value.InScratch ? Scratch.AsSpan(value.Start, value.Length) : _input.Slice(value.Start, value.Length);

    private static bool IsInt(in Value value, long number) => value.Kind == Kind.Int && value.Number == number;

    private static bool IsBool(in Value value, bool flag) => value.Kind == Kind.Bool && value.Number == (flag ? 1 : 0);

    private static bool IsGlobal(in Value value, GlobalName name) => value.Kind == Kind.Global && value.Number == (long)name;

    private static string Describe(in Value value) => value.Kind switch
    {
        Kind.Global => ((GlobalName)value.Number).ToString(),
        _ => value.Kind.ToString().ToLowerInvariant(),
    };

    /// <summary>Untrusted names in error messages: printable ASCII only, shortened.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (byte b in bytes[..Math.Min(bytes.Length, 64)])
        {
            text.Append(b is >= 0x20 and < 0x7f ? (char)b : '?');
        }

        return bytes.Length > 64 ? text + "..." : text.ToString();
    }

    private static string OpcodeName(byte op) => op switch
    {
        (byte)'c' or 0x93 => "GLOBAL",
        (byte)'i' => "0x69 (INST)",
        (byte)'o' => "0x6f (OBJ)",
        0x81 => "0x81 (NEWOBJ)",
        0x92 => "0x92 (NEWOBJ_EX)",
        (byte)'P' => "0x50 (PERSID)",
        (byte)'Q' => "0x51 (BINPERSID)",
        0x82 or 0x83 or 0x84 => $"0x{op:x2} (EXT)",
        (byte)']' => "0x5d (EMPTY_LIST)",
        (byte)'l' => "0x6c (LIST)",
        (byte)'a' => "0x61 (APPEND)",
        (byte)'e' => "0x65 (APPENDS)",
        (byte)'}' => "0x7d (EMPTY_DICT)",
        (byte)'d' => "0x64 (DICT)",
        (byte)'s' => "0x73 (SETITEM)",
        (byte)'u' => "0x75 (SETITEMS)",
        0x8f => "0x8f (EMPTY_SET)",
        0x90 => "0x90 (ADDITEMS)",
        0x91 => "0x91 (FROZENSET)",
        0x97 => "0x97 (NEXT_BUFFER)",
        0x98 => "0x98 (READONLY_BUFFER)",
        (byte)'0' => "0x30 (POP)",
        (byte)'1' => "0x31 (POP_MARK)",
        (byte)'2' => "0x32 (DUP)",
        (byte)'F' or (byte)'G' => $"0x{op:x2} (FLOAT)",
        (byte)'I' or (byte)'L' or 0x8a or 0x8b => $"0x{op:x2} (INT/LONG)",
        (byte)'S' or (byte)'T' or (byte)'U' or (byte)'V' => $"0x{op:x2} (STRING)",
        (byte)'g' or (byte)'p' => $"0x{op:x2} (text GET/PUT)",
        0x80 => "0x80 (PROTO, repeated)",
        _ => $"0x{op:x2}",
    };

    private readonly struct Value
    {
        public Value(Kind kind, long number = 0, int start = 0, int length = 0, bool inScratch = false, Value[]? items = null, int depth = 0)
        {
            Kind = kind;
            Number = number;
            Start = start;
            Length = length;
            InScratch = inScratch;
            Items = items;
            Depth = depth;
        }

        public Kind Kind { get; }

        /// <summary>An int's value, a bool as 0/1, or a global's <see cref="GlobalName"/>.</summary>
        public long Number { get; }

        /// <summary>Where a text's or bytes' content is (in the input, or in the scratch buffer).</summary>
        public int Start { get; }

        public int Length { get; }

        public bool InScratch { get; }

        public Value[]? Items { get; }

        /// <summary>Tuple nesting below this value (0 for scalars).</summary>
        public int Depth { get; }

        public static Value TupleOf(Value[] items, int depth = 1) => new(Kind.Tuple, items: items, depth: depth);
    }
}
