using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;

namespace Moderation.Streams.Hashing;

/// <summary>
/// A 256-bit PDQ hash. Bit <c>k</c> (weight 2^k) is DCT coefficient <c>[k / 16][k % 16]</c> being above the
/// median. The text form is the reference's: 64 lowercase hex digits of the hash read as a big-endian
/// 256-bit integer (the reference prints its sixteen 16-bit words from the highest down).
/// </summary>
public readonly struct PdqHash : IEquatable<PdqHash>
{
    public const int Bits = 256;
    public const int HexLength = 64;
    public const int ByteLength = 32;

    // _w0 holds bits 0..63, _w3 bits 192..255.
    private readonly ulong _w0, _w1, _w2, _w3;

    public PdqHash(ulong w0, ulong w1, ulong w2, ulong w3)
    {
        _w0 = w0;
        _w1 = w1;
        _w2 = w2;
        _w3 = w3;
    }

    /// <summary>The all-zero hash: what the reference gives images with a side under 5 pixels.</summary>
    public static PdqHash Zero => default;

    /// <summary>64-bit word <paramref name="index"/> (0..3); word 0 holds bits 0..63.</summary>
    public ulong GetWord(int index) => index switch
    {
        0 => _w0,
        1 => _w1,
        2 => _w2,
        3 => _w3,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "0..3"),
    };

    /// <summary>16-bit word <paramref name="index"/> (0..15), the reference's <c>w[index]</c>: bits 16*index..16*index+15.
    /// The unit that multi-index hashing splits a hash into.</summary>
    public ushort GetUInt16(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, 15);
        return (ushort)(GetWord(index >> 2) >> ((index & 3) * 16));
    }

    public bool GetBit(int bit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bit);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bit, Bits);
        return ((GetWord(bit >> 6) >> (bit & 63)) & 1) != 0;
    }

    /// <summary>Number of bits set (the reference's <c>norm</c>).</summary>
    public int PopCount =>
        BitOperations.PopCount(_w0) + BitOperations.PopCount(_w1) + BitOperations.PopCount(_w2) + BitOperations.PopCount(_w3);

    public bool IsZero => (_w0 | _w1 | _w2 | _w3) == 0;

    /// <summary>Hamming distance: the number of differing bits (0..256). Two hashes match at &lt;= 31.</summary>
    public static int Distance(PdqHash a, PdqHash b) =>
        BitOperations.PopCount(a._w0 ^ b._w0) + BitOperations.PopCount(a._w1 ^ b._w1) +
        BitOperations.PopCount(a._w2 ^ b._w2) + BitOperations.PopCount(a._w3 ^ b._w3);

    public void CopyTo(Span<ulong> words)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(words.Length, 4, nameof(words));
        words[0] = _w0;
        words[1] = _w1;
        words[2] = _w2;
        words[3] = _w3;
    }

    public static PdqHash FromWords(ReadOnlySpan<ulong> words)
    {
        if (words.Length != 4) throw new ArgumentException("a PDQ hash is 4 words", nameof(words));
        return new PdqHash(words[0], words[1], words[2], words[3]);
    }

    /// <summary>32 bytes, big-endian: the same order as the hex text.</summary>
    public void WriteBytes(Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, ByteLength, nameof(destination));
        BinaryPrimitives.WriteUInt64BigEndian(destination, _w3);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _w2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _w1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _w0);
    }

    public static PdqHash FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != ByteLength) throw new ArgumentException($"a PDQ hash is {ByteLength} bytes", nameof(bytes));
        return new PdqHash(
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes));
    }

    public override string ToString() => string.Create(HexLength, this, static (chars, h) => h.TryFormat(chars));

    /// <summary>Writes the 64 lowercase hex digits; false when <paramref name="destination"/> is too short.</summary>
    public bool TryFormat(Span<char> destination)
    {
        if (destination.Length < HexLength) return false;
        _w3.TryFormat(destination, out _, "x16", CultureInfo.InvariantCulture);
        _w2.TryFormat(destination[16..], out _, "x16", CultureInfo.InvariantCulture);
        _w1.TryFormat(destination[32..], out _, "x16", CultureInfo.InvariantCulture);
        _w0.TryFormat(destination[48..], out _, "x16", CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>Parses exactly 64 hex digits (either case).</summary>
    public static PdqHash Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        return TryParse(hex.AsSpan(), out var hash)
            ? hash
            : throw new FormatException($"a PDQ hash is {HexLength} hex digits: \"{hex}\"");
    }

    public static bool TryParse([NotNullWhen(true)] string? hex, out PdqHash hash)
    {
        if (hex is null)
        {
            hash = default;
            return false;
        }
        return TryParse(hex.AsSpan(), out hash);
    }

    public static bool TryParse(ReadOnlySpan<char> hex, out PdqHash hash)
    {
        hash = default;
        if (hex.Length != HexLength) return false;
        Span<ulong> w = stackalloc ulong[4];
        for (int i = 0; i < 4; i++)
        {
            // Parse would also accept signs, spaces and a 0x prefix: check the digits first.
            var part = hex.Slice((3 - i) * 16, 16);
            foreach (char c in part)
                if (!char.IsAsciiHexDigit(c)) return false;
            w[i] = ulong.Parse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        }
        hash = new PdqHash(w[0], w[1], w[2], w[3]);
        return true;
    }

    public bool Equals(PdqHash other) =>
        _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    public override bool Equals(object? obj) => obj is PdqHash other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_w0, _w1, _w2, _w3);

    public static bool operator ==(PdqHash left, PdqHash right) => left.Equals(right);

    public static bool operator !=(PdqHash left, PdqHash right) => !left.Equals(right);
}
